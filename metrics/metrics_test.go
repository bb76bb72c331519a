package metrics_test

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/metrics"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// redisDB is the Redis database of these tests (the service's: key
// prefixes keep them apart).
const redisDB = 15

func TestMetrics(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, redisDB, sandbox.Config{})
	ctx := context.Background()
	_, err := env.Store.Create(ctx, jobs.Meta{ID: "m1", Kind: "issuers", Total: 1, Created: time.Now()})
	require.NoError(t, err)
	m := metrics.New(prometheus.NewRegistry())
	ins := asynq.NewInspector(env.RedisOpt)
	defer ins.Close()
	m.WatchRedis(env.Store, ins)

	m.Row("issuers", jobs.Outcome{Status: jobs.StatusFailed, ErrorCode: "rejected"})
	m.Row("issuers", jobs.Outcome{Status: jobs.StatusOK})
	m.APIRequest("upsert program suggestion", 201, 20*time.Millisecond)
	m.HTTPRequest("/v1/batches", 200, time.Millisecond)
	m.Retry()
	var none *metrics.Metrics
	none.Row("issuers", jobs.Outcome{}) // a nil *Metrics records nothing

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	for _, tt := range []struct{ name, want string }{
		{"RowsFailed", `bulksync_rows_total{code="rejected",kind="issuers",status="failed"} 1`},
		{"RowsOK", `bulksync_rows_total{code="",kind="issuers",status="ok"} 1`},
		{"APIRequests", `bulksync_api_requests_total{endpoint="upsert program suggestion",status="201"} 1`},
		{"APILatency", `bulksync_api_request_duration_seconds_count{endpoint="upsert program suggestion"} 1`},
		{"HTTPRequests", `bulksync_http_requests_total{route="/v1/batches",status="200"} 1`},
		{"Retries", `bulksync_api_retries_total 1`},
		{"Batches", `bulksync_batches{state="loading"}`},
		{"GoRuntime", `go_goroutines`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, string(body), tt.want)
		})
	}
}
