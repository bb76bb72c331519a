package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/report"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// cli runs the command in-process.
type cli struct {
	env            map[string]string
	stdout, stderr lockedBuffer
}

func (c *cli) run(t *testing.T, args ...string) int {
	t.Helper()
	c.stdout.Reset()
	c.stderr.Reset()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return run(ctx, args, &c.stdout, &c.stderr, func(k string) string { return c.env[k] })
}

// lockedBuffer is a bytes.Buffer safe for concurrent use: a command's
// stderr gets both its own lines and its workers' logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

func (b *lockedBuffer) String() string { return string(b.Bytes()) }

// Reset empties the buffer.
func (b *lockedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}

func readSummary(t *testing.T, path string) report.Summary {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var s report.Summary
	require.NoError(t, json.Unmarshal(b, &s))
	return s
}

func TestImportEmbeddedDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := &cli{}
	sum, res := filepath.Join(dir, "s.json"), filepath.Join(dir, "r.csv")
	code := c.run(t, "import", "../../testdata/program-licenses.csv", "--summary", sum, "--results", res)
	require.Equal(t, exitOK, code, c.stderr.String())
	s := readSummary(t, sum)
	require.Equal(t, "program-licenses", s.Kind)
	require.Equal(t, 5, s.Total)
	require.Equal(t, 5, s.Successes)
	require.Equal(t, []string{}, s.ErrorCodes)
	require.Contains(t, c.stderr.String(), "5/5 rows done")

	var printed report.Summary
	require.NoError(t, json.Unmarshal(c.stdout.Bytes(), &printed), "stdout is the summary JSON")
	require.Equal(t, s, printed)

	f, err := os.Open(res)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"line", "external_id", "transaction_id", "action", "status", "http_status", "error_code", "message", "attempts"}, recs[0])
	require.Len(t, recs, 6)
	require.Equal(t, []string{"2", "acme-ds-eng-2024"}, recs[1][:2])
	require.Equal(t, "created", recs[1][3])
	require.Equal(t, "tx-lead-2024-001", recs[3][2], "a row's own transaction_id is kept")
}

func TestImportBadRowsAndFailedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	require.NoError(t, os.WriteFile(in, []byte("platform_key,program_key,name,count,started,external_id\n"+
		"acme,p1,A,1,2024-01-01,a\n"+
		"acme,p1,\"=HYPERLINK(\"\"x\"\")\",x,2024-01-01,-b\n"+
		"acme,p1,C,3,2024-13-01,c\n"+
		"acme,p1,D,4,2024-01-01,a\n"), 0o600))
	c := &cli{}
	res, failed := filepath.Join(dir, "r.csv"), filepath.Join(dir, "failed.csv")
	code := c.run(t, "import", in, "--results", res, "--failed", failed)
	require.Equal(t, exitFailed, code, c.stderr.String())
	var s report.Summary
	require.NoError(t, json.Unmarshal(c.stdout.Bytes(), &s))
	require.Equal(t, 1, s.Successes)
	require.Equal(t, []string{"line 3: invalid_integer:count", "line 4: invalid_datetime:started", "line 5: duplicate_external_id"}, s.ErrorCodes)

	b, err := os.ReadFile(res)
	require.NoError(t, err)
	require.Contains(t, string(b), "\n3,'-b,", "formula-like cells are neutralised")

	f, err := os.ReadFile(failed)
	require.NoError(t, err)
	recs, err := csv.NewReader(bytes.NewReader(f)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"platform_key", "program_key", "name", "count", "started", "external_id", "error_line", "error_code"}, recs[0])
	require.Equal(t, []string{"acme", "p1", "=HYPERLINK(\"x\")", "x", "2024-01-01", "-b", "3", "invalid_integer:count"}, recs[1], "the input's cells are kept verbatim, ready to fix")
	require.Len(t, recs, 4)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.csv")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	unknown := filepath.Join(dir, "unknown.csv")
	require.NoError(t, os.WriteFile(unknown, []byte("platform_key,external_id,shoe_size\nacme,a,42\n"), 0o600))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"NoCommand", nil, "Usage"},
		{"UnknownCommand", []string{"frobnicate"}, "unknown command"},
		{"NoFile", []string{"import"}, "at least one FILE"},
		{"ResultsWithSeveralFiles", []string{"import", empty, empty, "--results", "r.csv"}, "one input FILE"},
		{"MissingFile", []string{"import", filepath.Join(dir, "nope.csv")}, "no such file"},
		{"EmptyFile", []string{"import", empty}, "empty"},
		{"UnknownColumn", []string{"import", unknown, "--kind", "user-licenses"}, "shoe_size"},
		{"BadKind", []string{"import", empty, "--kind", "seats"}, "unknown kind"},
		{"BadChunk", []string{"import", empty, "--chunk-size", "-1"}, "--chunk-size"},
		{"ChunkTooLarge", []string{"import", empty, "--chunk-size", "5001"}, "--chunk-size"},
		{"DetachNeedsRedis", []string{"import", empty, "--detach"}, "REDIS_URL"},
		{"UnknownFlag", []string{"import", "--nope", empty}, "flag provided but not defined"},
		{"ReportNeedsRedis", []string{"report", "abc"}, "REDIS_URL"},
		{"WorkerNeedsRedis", []string{"worker"}, "REDIS_URL"},
		{"SandboxNeedsToken", []string{"sandbox"}, "--token"},
		{"SandboxBadFailStatus", []string{"sandbox", "--token", "t", "--fail-status", "nope"}, "--fail-status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &cli{}
			require.Equal(t, exitUsage, c.run(t, tc.args...))
			require.Contains(t, c.stderr.String(), tc.want)
		})
	}
}

// TestWorkerProcessMode runs the import against a real Redis with
// --detach, a separate worker and a later report, as in production.
func TestWorkerProcessMode(t *testing.T) {
	t.Parallel()
	const db = 12
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: db})
	require.NoError(t, rdb.Ping(context.Background()).Err())
	require.NoError(t, rdb.FlushDB(context.Background()).Err())
	t.Cleanup(func() { rdb.FlushDB(context.Background()); rdb.Close() })

	sb := sandbox.New(sandbox.Config{Token: "secret-token-xyz"})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	env := map[string]string{
		"REDIS_URL":          "redis://127.0.0.1:6379/12",
		"BULKSYNC_API_URL":   srv.URL,
		"BULKSYNC_API_TOKEN": "secret-token-xyz",
	}
	c := &cli{env: env}
	require.Equal(t, exitOK, c.run(t, "import", "--detach", "../../testdata/program-licenses.csv"), c.stderr.String())
	id := strings.TrimSpace(c.stdout.String())
	require.Len(t, id, 20)

	// A report before any worker ran: every row is unprocessed.
	c2 := &cli{env: env}
	require.Equal(t, exitFailed, c2.run(t, "report", id))
	var s report.Summary
	require.NoError(t, json.Unmarshal(c2.stdout.Bytes(), &s))
	require.Equal(t, 5, s.Unprocessed)

	ctx, cancel := context.WithCancel(context.Background())
	werr := make(chan int, 1)
	var wout, wlog bytes.Buffer
	go func() {
		werr <- run(ctx, []string{"worker", "--concurrency", "4"}, &wout, &wlog, func(k string) string { return env[k] })
	}()
	c3 := &cli{env: env}
	require.Equal(t, exitOK, c3.run(t, "import", "../../testdata/program-licenses.csv"), c3.stderr.String())
	require.Contains(t, c3.stderr.String(), "imported before")
	cancel()
	require.Equal(t, exitOK, <-werr)
	require.NotContains(t, wlog.String(), "secret-token-xyz", "the token is never logged")
	require.Equal(t, 5, sb.Stats().ProgramLicenses)

	dir := t.TempDir()
	c4 := &cli{env: env}
	require.Equal(t, exitOK, c4.run(t, "report", id, "--summary", filepath.Join(dir, "s.json"), "--results", filepath.Join(dir, "r.jsonl")))
	require.Equal(t, 5, readSummary(t, filepath.Join(dir, "s.json")).Successes)
	lines, err := os.ReadFile(filepath.Join(dir, "r.jsonl"))
	require.NoError(t, err)
	require.Equal(t, 5, strings.Count(string(lines), "\n"))
	require.Contains(t, string(lines), `"action":"created"`)
}

func TestMinifiedJSONRowsShareALine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "min.json")
	require.NoError(t, os.WriteFile(in, []byte(`[{"platform_key":"acme","external_id":"m1"},{"platform_key":"acme","external_id":"m2","count":"x"},{"platform_key":"acme","external_id":"m3"}]`), 0o600))
	c := &cli{}
	res := filepath.Join(dir, "r.csv")
	require.Equal(t, exitFailed, c.run(t, "import", in, "--results", res), c.stderr.String())
	var s report.Summary
	require.NoError(t, json.Unmarshal(c.stdout.Bytes(), &s))
	require.Equal(t, 3, s.Total, "every row is kept, though all start on line 1")
	require.Equal(t, 2, s.Successes)
	require.Equal(t, []string{"line 1: invalid_integer:count"}, s.ErrorCodes)
	b, err := os.ReadFile(res)
	require.NoError(t, err)
	require.Equal(t, 4, strings.Count(string(b), "\n"))
}

// TestSeveralFilesInOrder imports licenses, then the assignments that
// name them, then the assignments again as a fresh batch: on the
// embedded defaults, in one command.
func TestSeveralFilesInOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := &cli{}
	sum := filepath.Join(dir, "s.json")
	code := c.run(t, "import", "--summary", sum,
		"../../testdata/user-licenses.csv", "../../testdata/user-group-assignments.csv")
	require.Equal(t, exitOK, code, c.stderr.String())
	b, err := os.ReadFile(sum)
	require.NoError(t, err)
	var sums []report.Summary
	require.NoError(t, json.Unmarshal(b, &sums))
	require.Len(t, sums, 2)
	require.Equal(t, "user-licenses", sums[0].Kind)
	require.Equal(t, "user-group-assignments", sums[1].Kind, "told from the file name: its columns fit two kinds")
	require.Equal(t, sums[1].Total, sums[1].Successes)

	dec := json.NewDecoder(bytes.NewReader(c.stdout.Bytes()))
	for range 2 {
		var s report.Summary
		require.NoError(t, dec.Decode(&s), "stdout holds one summary per file")
	}
}
