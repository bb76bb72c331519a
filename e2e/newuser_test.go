//go:build unix

package e2e

// Issue 8's checks as a new user runs them: the real binary, the
// standalone sandbox, the CLI's own output. The long variants (a 90 s
// outage in a 2,000-row batch; ten imports of 300 rows against 30%
// faults) are behind flags:
//
//	go test ./e2e -run OutageCLI -outage.for 90s -outage.rows 2000 -timeout 10m -v
//	go test ./e2e -run FaultRuns -faults.runs 10 -faults.rows 300 -timeout 30m -v

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/report"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

var (
	outageFor  = flag.Duration("outage.for", 10*time.Second, "length of TestOutageCLI's outage (issue 8's check: 90s, with -timeout 10m)")
	outageRows = flag.Int("outage.rows", 600, "rows of TestOutageCLI's batch (issue 8's check: 2000)")
	faultRuns  = flag.Int("faults.runs", 0, "imports of TestFaultRuns (issue 8's check: 10); 0 skips it")
	faultRows  = flag.Int("faults.rows", 300, "rows of each TestFaultRuns import")
)

// testdataDir is the repository's sample files.
const testdataDir = "../testdata"

// standalone is a `bulksync sandbox` process with its default fixtures, as
// a new user starts it.
type standalone struct {
	url  string
	proc *proc
}

func startStandalone(t *testing.T, dir string, flags ...string) *standalone {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	args := append([]string{"sandbox", "--addr", addr, "--token", apiToken}, flags...)
	s := &standalone{url: "http://" + addr, proc: startProc(t, dir, "sandbox", nil, bulksyncBin(t), args...)}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := s.stats(); err == nil {
			return s
		}
		if s.proc.exited() || time.Now().After(deadline) {
			t.Fatalf("the sandbox did not come up on %s\n%s", addr, s.proc.tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *standalone) stats() (sandbox.Stats, error) {
	var st sandbox.Stats
	hc := http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(s.url + "/_sandbox/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /_sandbox/stats: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (s *standalone) mustStats(t *testing.T) sandbox.Stats {
	t.Helper()
	st, err := s.stats()
	require.NoError(t, err)
	return st
}

// startOutage starts an outage of d now (POST /_sandbox/outage).
func (s *standalone) startOutage(t *testing.T, d time.Duration) {
	t.Helper()
	resp, err := http.Post(s.url+"/_sandbox/outage?for="+d.String(), "", nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// runCLI runs bulksync with env (on top of a clean environment) to its end.
func runCLI(t *testing.T, timeout time.Duration, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bulksyncBin(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("bulksync %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("bulksync %s did not end within %s\nstderr:\n%s", strings.Join(args, " "), timeout, stderr.String())
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// readResults reads a --results FILE.jsonl.
func readResults(t *testing.T, path string) []jobs.Outcome {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var outs []jobs.Outcome
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var o jobs.Outcome
		require.NoError(t, json.Unmarshal(sc.Bytes(), &o), "results line %q", sc.Text())
		outs = append(outs, o)
	}
	require.NoError(t, sc.Err())
	return outs
}

// tally counts results by "status action" ("ok created").
func tally(outs []jobs.Outcome) map[string]int {
	m := map[string]int{}
	for _, o := range outs {
		m[o.Status+" "+o.Action]++
	}
	return m
}

// writes is the sandbox's write counters.
type writeCounts struct{ creates, updates, deletes int64 }

func writesOf(st sandbox.Stats) writeCounts {
	return writeCounts{st.Creates, st.Updates, st.Deletes}
}

func (w writeCounts) minus(o writeCounts) writeCounts {
	return writeCounts{w.creates - o.creates, w.updates - o.updates, w.deletes - o.deletes}
}

// writeLicenseFile writes n program-license rows with external ids
// prefix-0 .. prefix-(n-1), each with an enrollment_config, on the
// cluster's known programs.
func writeLicenseFile(t *testing.T, path, prefix string, n int) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w := csv.NewWriter(f)
	require.NoError(t, w.Write([]string{"platform_key", "program_key", "name", "count", "started", "metadata", "enrollment_config", "external_id"}))
	for i := range n {
		require.NoError(t, w.Write([]string{
			"acme", knownPrograms[i%len(knownPrograms)], fmt.Sprintf("Seats %s-%d", prefix, i), strconv.Itoa(i%500 + 1),
			"2024-01-15T09:00:00Z", fmt.Sprintf(`{"row": %d}`, i), `{"auto_enroll": true}`, fmt.Sprintf("%s-%d", prefix, i),
		}))
	}
	w.Flush()
	require.NoError(t, w.Error())
}

// TestOutageCLI: an outage in the middle of a batch worked by two worker
// processes fails no row and creates nothing twice; the import's progress
// says it waits for the API; the sandbox gets a few requests per worker
// during the outage, not a few per row; the batch ends by itself after it.
func TestOutageCLI(t *testing.T) {
	t.Parallel()
	rows, outage := *outageRows, *outageFor
	c := newCluster(t)
	c.startRedis()
	c.startSandbox("--latency", "2ms")
	sb := &standalone{url: c.sandboxURL, proc: c.sandbox}
	// The rate limit keeps the batch running for a while, so that the
	// outage lands in its middle.
	c.workerArgs = []string{"--rate-limit", "50"}
	const workers = 2
	for range workers {
		c.startWorker()
	}
	roster := filepath.Join(c.dir, "roster.csv")
	writeLicenseFile(t, roster, "outage", rows)
	results := filepath.Join(c.dir, "results.jsonl")
	start := time.Now()
	imp := startProc(t, c.dir, "import", c.env(), c.bin, "import", roster, "--results", results)

	// Start the outage once a fifth of the rows are in.
	for {
		st := sb.mustStats(t)
		if st.ProgramLicenses >= rows/5 {
			break
		}
		require.False(t, imp.exited(), "the import ended before the outage:\n%s", imp.tail(20))
		require.Less(t, time.Since(start), 2*time.Minute, "the batch did not get going")
		time.Sleep(20 * time.Millisecond)
	}
	before := sb.mustStats(t)
	sb.startOutage(t, outage)
	outageStart := time.Now()
	time.Sleep(outage)
	during := sb.mustStats(t)
	t.Logf("outage of %s from row %d of %d, %s after the import started: %d outage answers, %d requests during it",
		outage, before.ProgramLicenses, rows, outageStart.Sub(start).Round(time.Millisecond), during.OutageAnswers, during.Requests-before.Requests)
	require.Less(t, during.ProgramLicenses, rows, "the outage ended after the batch")
	for sb.mustStats(t).ProgramLicenses == during.ProgramLicenses && !imp.exited() {
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("rows resumed %s after the outage ended", time.Since(outageStart.Add(outage)).Round(100*time.Millisecond))

	require.True(t, imp.wait(3*time.Minute), "the batch did not end by itself after the outage:\n%s", imp.tail(20))
	t.Logf("import ended %s after it started, %s after the outage ended", time.Since(start).Round(time.Millisecond),
		time.Since(outageStart.Add(outage)).Round(time.Millisecond))
	require.Equal(t, 0, imp.exitCode(), "import:\n%s", imp.tail(20))

	log, err := os.ReadFile(imp.log)
	require.NoError(t, err)
	require.Contains(t, string(log), "waiting for the API", "the import's progress says the batch waits for the API")

	outs := readResults(t, results)
	require.Len(t, outs, rows)
	require.Equal(t, map[string]int{"ok created": rows}, tally(outs), "every row created, none failed")

	st := sb.mustStats(t)
	t.Logf("sandbox: %d licenses, %d creates, %d updates, %d requests, %d outage answers", st.ProgramLicenses, st.Creates, st.Updates, st.Requests, st.OutageAnswers)
	require.Equal(t, rows, st.ProgramLicenses)
	require.EqualValues(t, rows, st.Creates, "nothing created twice")
	require.Equal(t, during.OutageAnswers, st.OutageAnswers)
	// Each worker's breaker opens after 20 failures in a row, then one
	// probe every 15 s; a worker's requests in flight when it opens add a
	// few.
	perWorker := 20 + int64(outage/(10*time.Second)) + 5
	require.Positive(t, st.OutageAnswers, "the outage landed in the batch")
	require.LessOrEqual(t, st.OutageAnswers, workers*perWorker, "a few requests per worker during the outage, not a few per row")
}

// TestLookupUnsupportedCLI: against a license list that ignores its
// external_id filter, nothing is written wrong: licenses come out right,
// assignments naming licenses the unfiltered answer holds find them, and
// one naming a license it lacks halts the batch with lookup_unsupported,
// exit 1, the reason printed and nothing written for it.
func TestLookupUnsupportedCLI(t *testing.T) {
	t.Parallel()
	dir := workDir(t)
	sb := startStandalone(t, dir, "--ignore-list-filters")
	env := []string{"BULKSYNC_API_URL=" + sb.url, "BULKSYNC_API_TOKEN=" + apiToken, "XDG_STATE_HOME=" + filepath.Join(dir, "state")}

	res := filepath.Join(dir, "licenses.jsonl")
	r := runCLI(t, time.Minute, env, "import", filepath.Join(testdataDir, "program-licenses.csv"), "--results", res)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, map[string]int{"ok created": 5}, tally(readResults(t, res)))
	require.Equal(t, 5, sb.mustStats(t).ProgramLicenses)

	file := filepath.Join(dir, "assign.csv")
	require.NoError(t, os.WriteFile(file, []byte("action,platform_key,license_external_id,group_id\n"+
		"assign,acme,acme-ds-eng-2024,101\n"), 0o600))
	res = filepath.Join(dir, "assign.jsonl")
	r = runCLI(t, time.Minute, env, "import", file, "--kind", "program-group-assignments", "--results", res)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, map[string]int{"ok created": 1}, tally(readResults(t, res)))

	before := sb.mustStats(t)
	file = filepath.Join(dir, "missing.csv")
	require.NoError(t, os.WriteFile(file, []byte("action,platform_key,license_external_id,group_id\n"+
		"assign,acme,no-such-license,102\nassign,acme,acme-ds-eng-2024,103\n"), 0o600))
	res = filepath.Join(dir, "missing.jsonl")
	r = runCLI(t, time.Minute, env, "import", file, "--kind", "program-group-assignments", "--results", res, "--chunk-size", "1")
	require.Equal(t, 1, r.code, "a halted batch exits 1:\n%s", r.stderr)
	require.Contains(t, r.stderr, "halted: ")
	require.Contains(t, r.stderr, "ignored the external_id filter")
	var sum report.Summary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))
	require.Equal(t, jobs.StateHalted, sum.State)
	require.Contains(t, sum.HaltReason, "external_id filter")
	outs := readResults(t, res)
	require.Equal(t, "lookup_unsupported", outs[0].ErrorCode)
	require.NotEqual(t, jobs.StatusOK, outs[0].Status)
	after := sb.mustStats(t)
	require.LessOrEqual(t, writesOf(after).minus(writesOf(before)).creates, int64(sum.Successes), "nothing written for the halted row")
}

// TestAppliedStateCLI: with REDIS_URL unset against a standalone API, the
// applied state lives in $XDG_STATE_HOME/bulksync/state.db, so that a
// changed enrollment_config (which the API does not echo) is sent once and
// then reported unchanged, and an issuer re-run (email, not echoed) sends
// nothing.
func TestAppliedStateCLI(t *testing.T) {
	t.Parallel()
	dir := workDir(t)
	sb := startStandalone(t, dir)
	state := filepath.Join(dir, "state")
	env := []string{"BULKSYNC_API_URL=" + sb.url, "BULKSYNC_API_TOKEN=" + apiToken, "XDG_STATE_HOME=" + state}

	// phase imports file (a fresh batch each time) and checks its actions
	// and the writes the sandbox saw.
	phase := func(t *testing.T, name, file string, want map[string]int, delta writeCounts) []jobs.Outcome {
		t.Helper()
		before := writesOf(sb.mustStats(t))
		res := filepath.Join(dir, name+".jsonl")
		r := runCLI(t, time.Minute, env, "import", file, "--new-batch", "--results", res)
		require.Equal(t, 0, r.code, "%s: %s", name, r.stderr)
		outs := readResults(t, res)
		require.Equal(t, want, tally(outs), name)
		require.Equal(t, delta, writesOf(sb.mustStats(t)).minus(before), "%s: writes (creates, updates, deletes)", name)
		return outs
	}
	copyFile := func(t *testing.T, from, to string, replace ...string) {
		t.Helper()
		b, err := os.ReadFile(from)
		require.NoError(t, err)
		s := string(b)
		for i := 0; i < len(replace); i += 2 {
			require.Contains(t, s, replace[i])
			s = strings.Replace(s, replace[i], replace[i+1], 1)
		}
		require.NoError(t, os.WriteFile(to, []byte(s), 0o644))
	}

	t.Run("Licenses", func(t *testing.T) {
		file := filepath.Join(dir, "program-licenses.csv")
		copyFile(t, filepath.Join(testdataDir, "program-licenses.csv"), file)
		phase(t, "lic-create", file, map[string]int{"ok created": 5}, writeCounts{5, 0, 0})
		_, err := os.Stat(filepath.Join(state, "bulksync", "state.db"))
		require.NoError(t, err, "the state file is under $XDG_STATE_HOME/bulksync/")
		phase(t, "lic-rerun", file, map[string]int{"ok unchanged": 5}, writeCounts{})
		copyFile(t, filepath.Join(testdataDir, "program-licenses.csv"), file, `""auto_enroll"": true`, `""auto_enroll"": false`)
		outs := phase(t, "lic-change", file, map[string]int{"ok updated": 1, "ok unchanged": 4}, writeCounts{0, 1, 0})
		require.Equal(t, "acme-ds-eng-2024", outs[0].ExternalID)
		require.Equal(t, "updated enrollment_config", outs[0].Message)
		phase(t, "lic-rerun-change", file, map[string]int{"ok unchanged": 5}, writeCounts{})
	})
	t.Run("Issuers", func(t *testing.T) {
		file := filepath.Join(dir, "issuers.csv")
		copyFile(t, filepath.Join(testdataDir, "issuers.csv"), file)
		// The last row deletes an issuer that does not exist: unchanged.
		phase(t, "iss-create", file, map[string]int{"ok created": 5, "ok unchanged": 1}, writeCounts{5, 0, 0})
		phase(t, "iss-rerun", file, map[string]int{"ok unchanged": 6}, writeCounts{})
		copyFile(t, filepath.Join(testdataDir, "issuers.csv"), file, "credentials@acme.example", "certs@acme.example")
		outs := phase(t, "iss-change", file, map[string]int{"ok updated": 1, "ok unchanged": 5}, writeCounts{0, 1, 0})
		require.Equal(t, "updated email", outs[0].Message)
		phase(t, "iss-rerun-change", file, map[string]int{"ok unchanged": 6}, writeCounts{})
	})
	t.Run("SameFileAgain", func(t *testing.T) {
		// The same file imported again without --new-batch gets the same
		// batch id: the in-process Redis forgot the batch, the state file
		// did not. The second run sends nothing and says so.
		file := filepath.Join(testdataDir, "program-licenses.csv")
		again := startStandalone(t, workDir(t))
		envAgain := []string{"BULKSYNC_API_URL=" + again.url, "BULKSYNC_API_TOKEN=" + apiToken, "XDG_STATE_HOME=" + filepath.Join(dir, "state-again")}
		want := []map[string]int{{"ok created": 5}, {"ok unchanged": 5}}
		for i := range 2 {
			res := filepath.Join(dir, fmt.Sprintf("again-%d.jsonl", i))
			r := runCLI(t, time.Minute, envAgain, "import", file, "--results", res)
			require.Equal(t, 0, r.code, r.stderr)
			require.Equal(t, want[i], tally(readResults(t, res)), "run %d", i+1)
		}
		require.Equal(t, writeCounts{5, 0, 0}, writesOf(again.mustStats(t)))
	})
}

// TestAuthSchemeCLI: the standalone sandbox prints its UiPath credentials,
// BULKSYNC_API_AUTH_SCHEME=Bearer works against --auth-scheme Bearer, and
// a mismatch halts with a message naming the variable.
func TestAuthSchemeCLI(t *testing.T) {
	t.Parallel()
	dir := workDir(t)
	sb := startStandalone(t, dir, "--auth-scheme", "Bearer")
	logs, err := os.ReadFile(sb.proc.log)
	require.NoError(t, err)
	require.Contains(t, string(logs), "client_id=sandbox-client client_secret=sandbox-secret username=admin password=sandbox-password")
	require.Contains(t, string(logs), "auth_scheme=Bearer")

	env := []string{"BULKSYNC_API_URL=" + sb.url, "BULKSYNC_API_TOKEN=" + apiToken, "XDG_STATE_HOME=" + filepath.Join(dir, "state")}
	file := filepath.Join(testdataDir, "program-licenses.csv")
	r := runCLI(t, time.Minute, append(env, "BULKSYNC_API_AUTH_SCHEME=Bearer"), "import", file)
	require.Equal(t, 0, r.code, r.stderr)

	r = runCLI(t, time.Minute, env, "import", file, "--new-batch")
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stderr, "halted: ")
	require.Contains(t, r.stderr, "BULKSYNC_API_AUTH_SCHEME")
	require.NotContains(t, r.stderr+r.stdout, apiToken, "the token is never printed")
}

// TestFaultRuns: against 30% failures and 20% lost answers, -faults.runs
// imports of -faults.rows rows each (distinct external ids, each with an
// enrollment_config) end with every row ok and created, and the sandbox
// holds exactly one license per row, each created once.
func TestFaultRuns(t *testing.T) {
	runs, rows := *faultRuns, *faultRows
	if runs == 0 {
		t.Skip("several minutes: run with -faults.runs 10 -faults.rows 300 -timeout 30m")
	}
	c := newCluster(t)
	c.startRedis()
	c.startSandbox("--fail-rate", "0.3", "--fail-after-write", "0.2", "--latency", "2ms")
	sb := &standalone{url: c.sandboxURL, proc: c.sandbox}
	c.startWorker()
	c.startWorker()
	for i := range runs {
		file := filepath.Join(c.dir, fmt.Sprintf("run-%d.csv", i))
		writeLicenseFile(t, file, fmt.Sprintf("run%d", i), rows)
		res := filepath.Join(c.dir, fmt.Sprintf("run-%d.jsonl", i))
		start := time.Now()
		r := c.run(20*time.Minute, "import", file, "--results", res)
		outs := readResults(t, res)
		retried, attempts := attemptFigures(outs)
		maxAttempts := 0
		for _, o := range outs {
			maxAttempts = max(maxAttempts, o.Attempts)
		}
		t.Logf("run %d: exit %d in %s: %v; %d rows retried, %d attempts, at most %d", i+1, r.code,
			time.Since(start).Round(100*time.Millisecond), tally(outs), retried, attempts, maxAttempts)
		require.Equal(t, 0, r.code, r.stderr)
		require.Equal(t, map[string]int{"ok created": rows}, tally(outs))
	}
	st := sb.mustStats(t)
	t.Logf("sandbox: %d licenses, %d creates, %d updates, %d history, %d requests, %d faults", st.ProgramLicenses, st.Creates, st.Updates, st.History, st.Requests, st.Faults)
	require.Equal(t, runs*rows, st.ProgramLicenses)
	require.EqualValues(t, runs*rows, st.Creates, "no license created twice")
	// A create whose answer was lost stored its enrollment_config's
	// fingerprint with its intent: it is not sent again as an update.
	require.Zero(t, st.Updates, "a lost create's enrollment_config is not sent again")
}

// TestReimportAfterBatchExpiry: a file imported again once its batch has
// left Redis (7 days) gets the same batch id; the long-lived worker must
// still see that the licenses exist and send nothing.
func TestReimportAfterBatchExpiry(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.startRedis()
	dir := workDir(t)
	sb := startStandalone(t, dir)
	c.sandboxURL = sb.url
	c.startWorker()
	file := filepath.Join(testdataDir, "program-licenses.csv")
	res := filepath.Join(dir, "first.jsonl")
	r := c.run(time.Minute, "import", file, "--results", res)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, map[string]int{"ok created": 5}, tally(readResults(t, res)))
	var sum report.Summary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sum))

	// What 7 days do to the batch (not to the applied state).
	ctx := context.Background()
	keys, err := c.rdb.Keys(ctx, "bulksync:batch:"+sum.BatchID+"*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	require.NoError(t, c.rdb.Del(ctx, keys...).Err())
	require.NoError(t, c.rdb.ZRem(ctx, "bulksync:batches", sum.BatchID).Err())

	before := writesOf(sb.mustStats(t))
	res = filepath.Join(dir, "again.jsonl")
	r = c.run(time.Minute, "import", file, "--results", res)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, map[string]int{"ok unchanged": 5}, tally(readResults(t, res)))
	st := sb.mustStats(t)
	require.Equal(t, writeCounts{}, writesOf(st).minus(before), "nothing written")
	require.Zero(t, st.ByEndpoint["POST /api/catalog/licenses/program/create/"]-5, "no create sent again")
}
