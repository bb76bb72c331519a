package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/report"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/bulksync/bulksync/worker"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

// redisDB is this package's Redis database.
const redisDB = 11

type bundle struct {
	env *testenv.Env
	q   *asynq.Client
}

func setup(t *testing.T, sb sandbox.Config) *bundle {
	t.Helper()
	env := testenv.New(t, redisDB, sb)
	q := asynq.NewClient(env.RedisOpt)
	t.Cleanup(func() { _ = q.Close() })
	return &bundle{env: env, q: q}
}

// fastRetries keeps tests quick while still exercising backoff.
func fastRetries(cfg worker.Config) worker.Config {
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = 5 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 50 * time.Millisecond
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 30
	}
	cfg.Concurrency = 8
	return cfg
}

func (b *bundle) startWorker(t *testing.T, api *dmapi.Client, cfg worker.Config) {
	t.Helper()
	cfg = fastRetries(cfg)
	cfg.Queue = b.env.Queue
	w, err := worker.New(b.env.RedisOpt, b.env.Store, api, cfg)
	require.NoError(t, err)
	require.NoError(t, w.Start())
	t.Cleanup(w.Shutdown)
}

func (b *bundle) importFile(t *testing.T, content string, opts ingest.Options) jobs.Meta {
	t.Helper()
	opts.Queue = b.env.Queue
	open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }
	res, err := ingest.Import(context.Background(), open, b.env.Store, b.q, opts)
	require.NoError(t, err)
	return res.Meta
}

func (b *bundle) wait(t *testing.T, id string) jobs.Meta {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := ingest.Wait(ctx, b.env.Store, id, 20*time.Millisecond, nil)
	require.NoError(t, err, "batch %s did not finish: %+v", id, m)
	return m
}

// ledger returns the summary and every row's outcome by line.
func (b *bundle) ledger(t *testing.T, id string) (report.Summary, map[int]jobs.Outcome) {
	t.Helper()
	rows := map[int]jobs.Outcome{}
	sum, err := report.Build(context.Background(), b.env.Store, id, sinkFunc(func(o jobs.Outcome) { rows[o.Line] = o }))
	require.NoError(t, err)
	return sum, rows
}

type sinkFunc func(jobs.Outcome)

func (f sinkFunc) Row(o jobs.Outcome) error { f(o); return nil }
func (f sinkFunc) Close() error             { return nil }

const licenseHeader = "platform_key,program_key,name,count,started,expired,active,metadata,external_id\n"

// licenseFile makes n program-license rows; every bad-th row (bad > 0)
// has an invalid count. It returns the file and the lines of bad rows.
func licenseFile(n, bad int, prefix string) (string, []int) {
	var buf bytes.Buffer
	buf.WriteString(licenseHeader)
	var badLines []int
	for i := 1; i <= n; i++ {
		count := fmt.Sprint(i % 500)
		if bad > 0 && i%bad == 0 {
			count = "many"
			badLines = append(badLines, i+1)
		}
		fmt.Fprintf(&buf, "acme,program-v1:acme+p%d+2024,Seats %d,%s,2024-01-01T00:00:00Z,2025-01-01T00:00:00Z,true,\"{\"\"cc\"\": \"\"ENG-%d\"\"}\",%s-%d\n", i%7, i, count, i, prefix, i)
	}
	return buf.String(), badLines
}

func TestImportThousandRowsWithBadRows(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	b.startWorker(t, b.env.API, worker.Config{})
	file, bad := licenseFile(1000, 37, "k")
	meta := b.importFile(t, file, ingest.Options{})
	require.Equal(t, 1000, meta.Total)
	require.Equal(t, 10, meta.Chunks) // 973 valid rows in chunks of 100
	meta = b.wait(t, meta.ID)
	require.Equal(t, jobs.StateDone, meta.State)

	sum, rows := b.ledger(t, meta.ID)
	require.Equal(t, 1000, sum.Total)
	require.Equal(t, 1000-len(bad), sum.Successes)
	require.Equal(t, len(bad), sum.Failed)
	want := make([]string, len(bad))
	for i, l := range bad {
		want[i] = fmt.Sprintf("line %d: invalid_integer:count", l)
		require.Equal(t, jobs.StatusFailed, rows[l].Status)
	}
	require.Equal(t, want, sum.ErrorCodes)
	require.Equal(t, jobs.ActionCreated, rows[2].Action)
	st := b.env.Sandbox.Stats()
	require.Equal(t, 1000-len(bad), st.ProgramLicenses)
	require.EqualValues(t, 1000-len(bad), st.Creates)
	require.Zero(t, st.Updates)
}

func TestImportTwiceCreatesOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	b.startWorker(t, b.env.API, worker.Config{})
	file, _ := licenseFile(300, 0, "twice")

	first := b.wait(t, b.importFile(t, file, ingest.Options{}).ID)
	require.Equal(t, 300, first.Successes)
	again := b.importFile(t, file, ingest.Options{})
	require.Equal(t, first.ID, again.ID, "the same file is the same batch")
	require.Equal(t, jobs.StateDone, again.State, "nothing new is enqueued")

	// A fresh batch of the same file looks every row up and changes nothing.
	fresh := b.wait(t, b.importFile(t, file, ingest.Options{NewBatch: true}).ID)
	require.NotEqual(t, first.ID, fresh.ID)
	_, rows := b.ledger(t, fresh.ID)
	for _, o := range rows {
		require.Equal(t, jobs.ActionUnchanged, o.Action, "line %d", o.Line)
	}
	st := b.env.Sandbox.Stats()
	require.Equal(t, 300, st.ProgramLicenses)
	require.EqualValues(t, 300, st.Creates)
	require.Zero(t, st.Updates)
	require.Equal(t, 300, st.History, "the sandbox writes one history record per create, none for unchanged rows")

	// A changed count updates that license only, with one history record.
	changed := strings.Replace(file, "Seats 7,7,", "Seats 7,8,", 1)
	upd := b.wait(t, b.importFile(t, changed, ingest.Options{}).ID)
	_, rows = b.ledger(t, upd.ID)
	require.Equal(t, jobs.ActionUpdated, rows[8].Action)
	require.Equal(t, "updated count", rows[8].Message)
	st = b.env.Sandbox.Stats()
	require.EqualValues(t, 1, st.Updates)
	require.Equal(t, 301, st.History)
}

func TestFaultsEveryGoodRowEndsOK(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status string
	}{
		{"503", "503"},
		{"429RetryAfter", "429"},
		{"Reset", "reset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs, err := sandbox.ParseFailStatus(tc.status)
			require.NoError(t, err)
			b := setup(t, sandbox.Config{FailRate: 0.3, FailStatus: fs, Seed: 7})
			cfg := worker.Config{}
			if tc.status == "429" {
				cfg.MaxRetryAfter = 20 * time.Millisecond // honoured, but capped to keep the test short
			}
			b.startWorker(t, b.env.API, cfg)
			file, bad := licenseFile(200, 50, "f"+tc.name)
			meta := b.wait(t, b.importFile(t, file, ingest.Options{ChunkSize: 25}).ID)
			sum, rows := b.ledger(t, meta.ID)
			require.Equal(t, 200-len(bad), sum.Successes, "%v", sum.ErrorCodes)
			retried := 0
			for _, o := range rows {
				if o.Attempts > 1 {
					retried++
				}
			}
			require.Positive(t, retried, "faults were injected, so some rows took several attempts")
			st := b.env.Sandbox.Stats()
			require.Positive(t, st.Faults)
			require.Equal(t, 200-len(bad), st.ProgramLicenses)
			require.EqualValues(t, 200-len(bad), st.Creates, "no license is created twice")
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	fs, err := sandbox.ParseFailStatus("429")
	require.NoError(t, err)
	b := setup(t, sandbox.Config{FailRate: 1, FailStatus: fs})
	b.startWorker(t, b.env.API, worker.Config{MaxAttempts: 2})
	file, _ := licenseFile(1, 0, "ra")
	start := time.Now()
	meta := b.wait(t, b.importFile(t, file, ingest.Options{}).ID)
	require.GreaterOrEqual(t, time.Since(start), time.Second, "the sandbox says Retry-After: 1")
	_, rows := b.ledger(t, meta.ID)
	require.Equal(t, "retries_exhausted", rows[2].ErrorCode)
	require.Equal(t, 429, rows[2].HTTPStatus)
	require.Equal(t, 2, rows[2].Attempts)
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{Fixtures: &sandbox.Fixtures{Programs: []string{"program-v1:acme+known+2024"}}})
	b.startWorker(t, b.env.API, worker.Config{})
	file := licenseHeader + "acme,program-v1:acme+unknown+2024,Seats,5,2024-01-01,,true,,perm-1\n"
	meta := b.wait(t, b.importFile(t, file, ingest.Options{}).ID)
	sum, rows := b.ledger(t, meta.ID)
	require.Equal(t, []string{"line 2: rejected"}, sum.ErrorCodes)
	o := rows[2]
	require.Equal(t, 400, o.HTTPStatus)
	require.Contains(t, o.Message, "program_key")
	require.Equal(t, 1, o.Attempts)
	require.EqualValues(t, 1, b.env.Sandbox.Stats().ByEndpoint["POST /api/catalog/licenses/program/create/"], "one create request, never retried")
}

func TestUnauthorizedHaltsBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	bad, err := dmapi.New(dmapi.Config{BaseURL: b.env.APIURL, Token: "wrong-token"})
	require.NoError(t, err)
	b.startWorker(t, bad, worker.Config{})
	file, _ := licenseFile(50, 0, "auth")
	meta := b.wait(t, b.importFile(t, file, ingest.Options{ChunkSize: 10}).ID)
	require.Equal(t, jobs.StateHalted, meta.State)
	require.Contains(t, meta.HaltReason, "token")
	sum, _ := b.ledger(t, meta.ID)
	require.Zero(t, sum.Successes)
	require.Positive(t, sum.Unprocessed)
	require.Contains(t, sum.ErrorCodes[0], "unauthorized")
	require.LessOrEqual(t, b.env.Sandbox.Stats().Requests, int64(8), "a 401 stops the batch instead of trying every row")
}

// crashOnce panics, once, right after the API answered a create: the
// worker dies after the call and before recording the outcome.
type crashOnce struct {
	next    http.RoundTripper
	crashed atomic.Bool
}

func (c *crashOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil && resp.StatusCode == 200 && strings.HasSuffix(r.URL.Path, "/create/") && c.crashed.CompareAndSwap(false, true) {
		panic("simulated crash after the API call")
	}
	return resp, err
}

func TestCrashAfterAPICallIsRedeliveredWithoutDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	api, err := dmapi.New(dmapi.Config{BaseURL: b.env.APIURL, Token: testenv.Token, HTTPClient: &http.Client{Transport: &crashOnce{next: http.DefaultTransport}}})
	require.NoError(t, err)
	b.startWorker(t, api, worker.Config{})
	file, _ := licenseFile(20, 0, "crash")
	meta := b.wait(t, b.importFile(t, file, ingest.Options{}).ID)
	sum, rows := b.ledger(t, meta.ID)
	require.Equal(t, 20, sum.Successes)
	require.Equal(t, jobs.StatusOK, rows[2].Status)
	require.Contains(t, []string{jobs.ActionCreated, jobs.ActionUnchanged}, rows[2].Action)
	st := b.env.Sandbox.Stats()
	require.Equal(t, 20, st.ProgramLicenses)
	require.EqualValues(t, 20, st.Creates)
}

func TestLostAnswersAreNotAppliedTwice(t *testing.T) {
	t.Parallel()
	for _, status := range []string{"503", "reset"} {
		t.Run(status, func(t *testing.T) {
			t.Parallel()
			fs, err := sandbox.ParseFailStatus(status)
			require.NoError(t, err)
			b := setup(t, sandbox.Config{FailAfterWrite: 0.3, FailStatus: fs, Seed: 3})
			b.startWorker(t, b.env.API, worker.Config{})
			file, _ := licenseFile(200, 0, "law"+status)
			meta := b.wait(t, b.importFile(t, file, ingest.Options{ChunkSize: 20}).ID)
			require.Equal(t, 200, meta.Successes)
			// The same rows again, with every tenth changed.
			changed := strings.ReplaceAll(file, "2025-01-01T00:00:00Z,true,\"{\"\"cc\"\": \"\"ENG-1", "2026-01-01T00:00:00Z,true,\"{\"\"cc\"\": \"\"ENG-1")
			meta = b.wait(t, b.importFile(t, changed, ingest.Options{ChunkSize: 20}).ID)
			require.Equal(t, 200, meta.Successes)
			_, rows := b.ledger(t, meta.ID)
			updated := 0
			for _, o := range rows {
				if o.Action == jobs.ActionUpdated {
					updated++
				}
			}
			st := b.env.Sandbox.Stats()
			require.Positive(t, st.Faults)
			require.Equal(t, 200, st.ProgramLicenses, "no duplicate external_id")
			require.EqualValues(t, 200, st.Creates)
			require.Equal(t, 200+updated, st.History, "one history record per create and per changed row, none for unchanged rows")
			require.EqualValues(t, updated, st.Updates)
		})
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	b.startWorker(t, b.env.API, worker.Config{})
	file, _ := licenseFile(10, 0, "dry")
	b.wait(t, b.importFile(t, file, ingest.Options{}).ID)
	changed := strings.Replace(file, "Seats 3,3,", "Seats 3,4,", 1) + "acme,program-v1:acme+x+2024,New,1,2024-01-01,,true,,dry-new\n"
	meta := b.wait(t, b.importFile(t, changed, ingest.Options{DryRun: true}).ID)
	_, rows := b.ledger(t, meta.ID)
	require.Equal(t, jobs.ActionUpdate, rows[4].Action)
	require.Equal(t, "would update count", rows[4].Message)
	require.Equal(t, jobs.ActionCreate, rows[12].Action)
	require.Equal(t, jobs.ActionUnchanged, rows[2].Action)
	st := b.env.Sandbox.Stats()
	require.EqualValues(t, 10, st.Creates)
	require.Zero(t, st.Updates)
}

func TestUserLicensesJSON(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	b.startWorker(t, b.env.API, worker.Config{})
	file := `[
  {"platform_key": "acme", "name": "Acme seats", "count": 10, "external_id": "u-1"},
  {"platform_key": "acme", "count": -2, "external_id": "u-2"},
  {"platform_key": "acme", "count": 3, "external_id": "u-3", "metadata": {"tier": "gold"}}
]`
	meta := b.wait(t, b.importFile(t, file, ingest.Options{Reader: importers.Options{}}).ID)
	require.Equal(t, "user-licenses", meta.Kind)
	sum, _ := b.ledger(t, meta.ID)
	require.Equal(t, 2, sum.Successes)
	require.Equal(t, []string{"line 3: out_of_range:count"}, sum.ErrorCodes)
	require.Equal(t, 2, b.env.Sandbox.Stats().UserLicenses)
}

func TestLookupsArePaged(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	b.startWorker(t, b.env.API, worker.Config{})
	file, _ := licenseFile(2500, 0, "paged")
	list := "GET /api/catalog/licenses/program/"

	b.wait(t, b.importFile(t, file, ingest.Options{}).ID)
	st := b.env.Sandbox.Stats()
	require.EqualValues(t, 2500, st.Creates)
	require.EqualValues(t, 1, st.ByEndpoint[list], "a fresh import reads one empty page, then only creates")
	require.EqualValues(t, 2501, st.Requests)

	b.wait(t, b.importFile(t, file, ingest.Options{NewBatch: true}).ID)
	st2 := b.env.Sandbox.Stats()
	require.EqualValues(t, 3, st2.ByEndpoint[list]-st.ByEndpoint[list], "2,500 unchanged rows cost three pages of 1,000")
	require.EqualValues(t, 3, st2.Requests-st.Requests)
	require.Zero(t, st2.Updates)
}

// TestArchivedChunkIsSwept: asynq archives a chunk without calling the
// error handler when a worker dies on its last delivery; the sweeper
// still gives its rows an outcome, so the batch ends.
func TestArchivedChunkIsSwept(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	file, _ := licenseFile(30, 0, "swept")
	meta := b.importFile(t, file, ingest.Options{ChunkSize: 10})
	ins := asynq.NewInspector(b.env.RedisOpt)
	t.Cleanup(func() { _ = ins.Close() })
	require.NoError(t, ins.ArchiveTask(b.env.Queue, jobs.TaskID(meta.ID, 1)))

	b.startWorker(t, b.env.API, worker.Config{})
	meta = b.wait(t, meta.ID)
	require.Equal(t, jobs.StateDone, meta.State)
	sum, rows := b.ledger(t, meta.ID)
	require.Equal(t, 20, sum.Successes)
	require.Equal(t, 10, sum.Failed)
	require.Equal(t, "task_failed", rows[12].ErrorCode)
	archived, err := ins.ListArchivedTasks(b.env.Queue)
	require.NoError(t, err)
	require.Empty(t, archived, "the swept chunk is deleted")
}
