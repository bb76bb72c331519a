//go:build unix

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/stretchr/testify/require"
)

// serveToken is bulksync serve's token in TestServe.
const serveToken = "e2e-serve-token-0123456789"

// TestServe runs bulksync serve, two worker processes (with
// --metrics-addr), the sandbox and a dedicated Redis as real processes,
// and checks the HTTP API end to end: bulk suggestion requests answered
// in seed 002's shape with the right counts and applied through the single
// call, the sandbox holding exactly the applied suggestions, a retried
// request applying nothing twice, 401, 400 and 413, an upload to done, a
// batch cancelled mid-way (its rows not attempted listed unprocessed), the
// CLI's batches and cancel, and metrics that moved.
func TestServe(t *testing.T) {
	c := newCluster(t)
	c.startRedis()
	// Users 1..40 and the known programs; the sandbox answers each request
	// after 15 ms, so that an upload of 600 rows runs for seconds.
	fixtures := filepath.Join(c.dir, "serve-fixtures.json")
	users := make([]map[string]any, 40)
	for i := range users {
		users[i] = map[string]any{"id": i + 1, "username": fmt.Sprintf("user%d", i+1), "email": fmt.Sprintf("user%d@example.com", i+1)}
	}
	b, err := json.Marshal(map[string]any{"programs": knownPrograms, "users": users})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(fixtures, b, 0o644))
	c.startSandbox("--fixtures", fixtures, "--latency", "15ms")

	metricsAddrs := []string{"127.0.0.1:" + strconv.Itoa(freePort(t)), "127.0.0.1:" + strconv.Itoa(freePort(t))}
	for _, addr := range metricsAddrs {
		c.workerArgs = []string{"--concurrency", "2", "--metrics-addr", addr}
		c.startWorker()
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	serve := startProc(t, c.dir, "serve", append(c.env(), "BULKSYNC_SERVE_TOKEN="+serveToken), c.bin,
		"serve", "--addr", addr, "--sync-limit", "100", "--max-upload", "256KiB")
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "serve did not come up:\n%s", serve.tail(20))

	call := func(method, path, auth string, body io.Reader, header ...string) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, body)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header, data
	}
	bearer := "Bearer " + serveToken
	const bulkPath = "/api/catalog/suggestions/program/manage/bulk/"

	// A bulk request: 20 items, of which item 5 lacks program_key, item 9
	// names an unknown program and item 14 an unknown user.
	var items []string
	for i := range 20 {
		switch i {
		case 5:
			items = append(items, `{"user_id": 5}`)
		case 9:
			items = append(items, `{"program_key": "prog-retired", "user_id": 9}`)
		case 14:
			items = append(items, `{"program_key": "prog-1", "user_id": "nobody"}`)
		default:
			items = append(items, fmt.Sprintf(`{"program_key": %q, "user_id": %d, "accepted": false, "visible": true, "metadata": {"n": %d}}`, knownPrograms[i%len(knownPrograms)], i+1, i))
		}
	}
	body := `{"platform_key": "acme", "platform_org": "acme", "department_mode": false, "suggestion_data": [` + strings.Join(items, ",") + `]}`
	wantBulk := `{"successes": 17, "error_codes": ["item 5: missing_field:program_key", "item 9: rejected", "item 14: rejected"]}`
	code, _, data := call(http.MethodPost, bulkPath, bearer, strings.NewReader(body), "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, code, "%s", data)
	require.JSONEq(t, wantBulk, string(data))
	st := c.mustStats()
	require.Equal(t, 17, st.ProgramSuggestions, "the sandbox holds exactly the applied suggestions")
	require.Zero(t, st.ByEndpoint["POST "+bulkPath], "the workers never call the bulk endpoint")
	creates := st.Creates

	// The client retries the same request: the same answer, nothing applied twice.
	code, _, data = call(http.MethodPost, bulkPath, bearer, strings.NewReader(body))
	require.Equal(t, http.StatusOK, code, "%s", data)
	require.JSONEq(t, wantBulk, string(data))
	st = c.mustStats()
	require.Equal(t, creates, st.Creates, "the retry created nothing")
	require.Zero(t, st.Updates, "the retry updated nothing")

	// Auth, malformed bodies, oversize.
	for _, tt := range []struct {
		name, method, path, auth string
		body                     io.Reader
		want                     int
		wantCode                 string
	}{
		{"NoToken", http.MethodPost, bulkPath, "", strings.NewReader(body), http.StatusUnauthorized, "unauthorized"},
		{"WrongToken", http.MethodGet, "/v1/batches", "Bearer nope", nil, http.StatusUnauthorized, "unauthorized"},
		{"NotJSON", http.MethodPost, bulkPath, bearer, strings.NewReader("platform_key=acme"), http.StatusBadRequest, "invalid_json"},
		{"NoPlatformKey", http.MethodPost, bulkPath, bearer, strings.NewReader(`{"suggestion_data": []}`), http.StatusBadRequest, "invalid_request"},
		{"TooLarge", http.MethodPost, "/v1/imports", bearer, bytes.NewReader(bytes.Repeat([]byte("x"), 300<<10)), http.StatusRequestEntityTooLarge, "too_large"},
		{"Healthz", http.MethodGet, "/healthz", "", nil, http.StatusOK, ""},
	} {
		code, _, data := call(tt.method, tt.path, tt.auth, tt.body)
		require.Equal(t, tt.want, code, "%s: %s", tt.name, data)
		if tt.wantCode != "" {
			var e map[string]any
			require.NoError(t, json.Unmarshal(data, &e), tt.name)
			require.Equal(t, tt.wantCode, e["code"], tt.name)
		}
	}

	// An upload to done.
	var csv strings.Builder
	csv.WriteString("platform_key,program_key,name,count,started,external_id\n")
	for i := range 30 {
		fmt.Fprintf(&csv, "acme,%s,Pool %d,10,2024-01-01T00:00:00Z,up-%d\n", knownPrograms[i%len(knownPrograms)], i, i)
	}
	accepted := func(code int, h http.Header, data []byte) string {
		t.Helper()
		require.Equal(t, http.StatusAccepted, code, "%s", data)
		var acc struct {
			BatchID string `json:"batch_id"`
		}
		require.NoError(t, json.Unmarshal(data, &acc))
		require.Equal(t, "/v1/batches/"+acc.BatchID, h.Get("Location"))
		return acc.BatchID
	}
	status := func(id string) (st struct {
		State                                 string
		Total, Successes, Failed, Unprocessed int
	}) {
		t.Helper()
		code, _, data := call(http.MethodGet, "/v1/batches/"+id, bearer, nil)
		require.Equal(t, http.StatusOK, code, "%s", data)
		require.NoError(t, json.Unmarshal(data, &st))
		return st
	}
	up := accepted(call(http.MethodPost, "/v1/imports?kind=program-licenses&name=upload.csv", bearer, strings.NewReader(csv.String()), "Content-Type", "text/csv"))
	require.Eventually(t, func() bool { return status(up).State == jobs.StateDone }, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, 30, status(up).Successes)

	// Cancel mid-batch: 600 rows in chunks of 10, cancelled once some are done.
	csv.Reset()
	csv.WriteString("platform_key,program_key,name,count,started,external_id\n")
	for i := range 600 {
		fmt.Fprintf(&csv, "acme,prog-0,Pool %d,10,2024-01-01T00:00:00Z,big-%d\n", i, i)
	}
	big := accepted(call(http.MethodPost, "/v1/imports?kind=program-licenses&chunk_size=10", bearer, strings.NewReader(csv.String())))
	require.Eventually(t, func() bool { return status(big).Successes > 0 }, 30*time.Second, 20*time.Millisecond)
	code, _, data = call(http.MethodDelete, "/v1/batches/"+big, bearer, nil)
	require.Equal(t, http.StatusOK, code, "%s", data)
	require.Contains(t, string(data), `"state":"cancelled"`)
	var final struct {
		State                                 string
		Total, Successes, Failed, Unprocessed int
	}
	require.Eventually(t, func() bool { // rows in flight finish, then nothing moves
		before := status(big)
		time.Sleep(500 * time.Millisecond)
		final = status(big)
		return final == before
	}, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, jobs.StateCancelled, final.State)
	require.Positive(t, final.Unprocessed, "rows not yet attempted are unprocessed")
	require.Equal(t, 600, final.Successes+final.Unprocessed)
	code, _, data = call(http.MethodGet, "/v1/batches/"+big+"/results", bearer, nil, "Accept", "application/x-ndjson")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, final.Unprocessed, strings.Count(string(data), `"status":"unprocessed"`), "the results list the unprocessed rows")
	require.Equal(t, 30+final.Successes, c.mustStats().ProgramLicenses, "the API holds the rows reported ok, and no other")

	// The CLI sees the same batches.
	r := c.run(time.Minute, "batches", "--limit", "5")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, big+`\s+program-licenses\s+cancelled\s+600\s+`+strconv.Itoa(final.Successes)+`\s+0\s+`+strconv.Itoa(final.Unprocessed), r.stdout)
	require.Contains(t, r.stdout, up)
	r = c.run(time.Minute, "cancel", up)
	require.Equal(t, 1, r.code, "a done batch cannot be cancelled: %s", r.stdout)

	// Metrics moved: serve's requests, the workers' rows and API calls.
	scrape := func(url string) string {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	m := scrape(base + "/metrics")
	require.Contains(t, m, `bulksync_http_requests_total{route="`+bulkPath+`",status="200"} 2`)
	require.Contains(t, m, `bulksync_batches{state="cancelled"} 1`)
	var rowsOK, upserts int
	for _, a := range metricsAddrs {
		w := scrape("http://" + a + "/metrics")
		rowsOK += metricValue(t, w, `bulksync_rows_total{code="",kind="program-suggestions",status="ok"}`)
		upserts += metricValue(t, w, `bulksync_api_requests_total{endpoint="upsert program suggestion",status="201"}`)
	}
	require.Equal(t, 17, rowsOK, "the workers counted the applied suggestions")
	require.Equal(t, 17, upserts, "one create call per applied suggestion")

	// SIGTERM: serve stops gracefully.
	require.NoError(t, serve.signal(syscall.SIGTERM))
	require.True(t, serve.wait(15*time.Second), "serve did not stop on SIGTERM")
	require.Equal(t, 0, serve.exitCode(), serve.tail(10))
}

// metricValue returns the value of the sample named (with its labels) by
// series in a Prometheus text scrape, 0 when absent.
func metricValue(t *testing.T, scrape, series string) int {
	t.Helper()
	for _, line := range strings.Split(scrape, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, line)
			return int(f)
		}
	}
	return 0
}
