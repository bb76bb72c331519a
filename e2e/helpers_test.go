//go:build unix

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/report"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// apiToken is the token of the sandbox processes.
const apiToken = "e2e-token-0123456789abcdef"

// knownPrograms are the program keys the sandbox knows (--fixtures); a row
// naming another one is rejected by the API (400).
var knownPrograms = []string{"prog-0", "prog-1", "prog-2", "prog-3", "prog-4", "prog-5", "prog-6"}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// bulksyncBin builds ./cmd/bulksync once per test binary and returns its path.
func bulksyncBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "bulksync-e2e-bin-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "bulksync")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/bulksync/bulksync/cmd/bulksync")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/bulksync: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// requireRedisServer skips the test when there is no redis-server to start.
func requireRedisServer(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not on PATH: the e2e tests start (and kill) their own Redis; install redis-server to run them")
	}
	return p
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// workDir returns a directory for the test's files and process logs. It is
// removed when the test passes and kept (and named in the log) when it fails.
func workDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bulksync-e2e-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept %s (process logs: *.log)", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

// proc is a child process whose stdout and stderr go to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, once done is closed
}

// cleanEnv is the test's environment without the variables bulksync reads,
// so that the developer's own settings never leak into a test.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "REDIS_URL=") || strings.HasPrefix(kv, "BULKSYNC_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// startProc starts bin in its own process group with its output in
// dir/name.log. The test's cleanup kills it (and its group).
func startProc(t *testing.T, dir, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	require.NoError(t, cmd.Start(), "start %s", name)
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.killGroup)
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) error { return syscall.Kill(p.pid(), sig) }

// killGroup SIGKILLs the process and its process group and waits for it.
func (p *proc) killGroup() {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.pid(), syscall.SIGCONT) // a stopped process dies on SIGKILL too, but be sure
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// wait waits up to d for the process to exit; it reports whether it did.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode is the process's exit status, -1 when killed by a signal.
func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string { return tailFile(p.log, n) }

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cluster is one test's processes: a dedicated redis-server, a sandbox and
// workers, all on free ports of 127.0.0.1.
type cluster struct {
	t   *testing.T
	bin string
	dir string

	redisBin   string
	redisPort  int
	redisDir   string
	redis      *proc
	redisStart int
	rdb        *redis.Client
	inspector  *asynq.Inspector

	sandboxURL string
	sandbox    *proc

	workerArgs []string
	workers    []*proc
	workerSeq  int
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, redisBin: requireRedisServer(t), bin: bulksyncBin(t), dir: workDir(t)}
	c.redisDir = filepath.Join(c.dir, "redis-data")
	require.NoError(t, os.MkdirAll(c.redisDir, 0o755))
	c.redisPort = freePort(t)
	c.rdb = redis.NewClient(&redis.Options{Addr: c.redisAddr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.rdb.Close() })
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs()
		}
	})
	return c
}

func (c *cluster) redisAddr() string { return "127.0.0.1:" + strconv.Itoa(c.redisPort) }
func (c *cluster) redisURL() string  { return "redis://" + c.redisAddr() + "/0" }

// env is the environment of bulksync commands.
func (c *cluster) env() []string {
	return []string{"REDIS_URL=" + c.redisURL(), "BULKSYNC_API_URL=" + c.sandboxURL, "BULKSYNC_API_TOKEN=" + apiToken}
}

// startRedis starts redis-server on the cluster's port and data directory,
// with every write fsynced to the append-only file, and waits until it
// answers.
func (c *cluster) startRedis() {
	c.t.Helper()
	c.redisStart++
	c.redis = startProc(c.t, c.dir, fmt.Sprintf("redis-%d", c.redisStart), nil, c.redisBin,
		"--port", strconv.Itoa(c.redisPort), "--bind", "127.0.0.1", "--dir", c.redisDir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no")
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if c.redis.exited() || time.Now().After(deadline) {
			c.t.Fatalf("redis-server did not come up on %s: %v\n%s", c.redisAddr(), err, c.redis.tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashRedis SIGKILLs redis-server (a crash: no shutdown, no final save).
func (c *cluster) crashRedis() {
	c.t.Helper()
	c.redis.killGroup()
	require.True(c.t, c.redis.exited(), "redis-server survived SIGKILL")
}

// startSandbox serves the sandbox API with the given extra flags.
func (c *cluster) startSandbox(flags ...string) {
	c.t.Helper()
	fixtures := filepath.Join(c.dir, "fixtures.json")
	b, err := json.Marshal(map[string]any{"programs": knownPrograms})
	require.NoError(c.t, err)
	require.NoError(c.t, os.WriteFile(fixtures, b, 0o644))
	addr := "127.0.0.1:" + strconv.Itoa(freePort(c.t))
	args := append([]string{"sandbox", "--addr", addr, "--token", apiToken, "--fixtures", fixtures}, flags...)
	c.sandbox = startProc(c.t, c.dir, "sandbox", nil, c.bin, args...)
	c.sandboxURL = "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := c.stats(); err == nil {
			return
		}
		if c.sandbox.exited() || time.Now().After(deadline) {
			c.t.Fatalf("the sandbox did not come up on %s\n%s", addr, c.sandbox.tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stats reads the sandbox's GET /_sandbox/stats.
func (c *cluster) stats() (sandbox.Stats, error) {
	var s sandbox.Stats
	hc := http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(c.sandboxURL + "/_sandbox/stats")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET /_sandbox/stats: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func (c *cluster) mustStats() sandbox.Stats {
	c.t.Helper()
	s, err := c.stats()
	require.NoError(c.t, err)
	return s
}

// startWorker starts one more `bulksync worker` process with c.workerArgs.
func (c *cluster) startWorker() *proc {
	c.t.Helper()
	c.workerSeq++
	w := startProc(c.t, c.dir, fmt.Sprintf("worker-%03d", c.workerSeq), c.env(), c.bin, append([]string{"worker"}, c.workerArgs...)...)
	c.workers = append(c.workers, w)
	return w
}

// liveWorkers returns the workers that have not exited.
func (c *cluster) liveWorkers() []*proc {
	var out []*proc
	for _, w := range c.workers {
		if !w.exited() {
			out = append(out, w)
		}
	}
	return out
}

// result is one run of a bulksync command.
type result struct {
	code           int
	stdout, stderr string
}

// run runs a bulksync command to its end (at most timeout).
func (c *cluster) run(timeout time.Duration, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(cleanEnv(), c.env()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		c.t.Fatalf("bulksync %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		c.t.Fatalf("bulksync %s did not end within %s\nstderr:\n%s", strings.Join(args, " "), timeout, stderr.String())
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// importDetached runs `bulksync import FILE --detach` and returns the batch id.
func (c *cluster) importDetached(file string, flags ...string) string {
	c.t.Helper()
	r := c.run(2*time.Minute, append([]string{"import", file, "--detach"}, flags...)...)
	require.Equal(c.t, 0, r.code, "import --detach: %s", r.stderr)
	id := strings.TrimSpace(r.stdout)
	require.Len(c.t, id, 20, "import --detach prints the batch id; got %q", r.stdout)
	return id
}

// poll runs `bulksync report ID --summary FILE` once. ok is false when the
// report could not be made (exit 3: Redis is down, say).
func (c *cluster) poll(id string) (sum report.Summary, code int, ok bool) {
	c.t.Helper()
	f := filepath.Join(c.dir, "poll-summary.json")
	_ = os.Remove(f)
	r := c.run(time.Minute, "report", id, "--summary", f)
	switch r.code {
	case 0, 1:
	case 3:
		return sum, r.code, false
	default:
		c.t.Fatalf("report %s: exit %d: %s", id, r.code, r.stderr)
	}
	b, err := os.ReadFile(f)
	require.NoError(c.t, err)
	require.NoError(c.t, json.Unmarshal(b, &sum))
	return sum, r.code, true
}

// waitDone polls the batch until its state is done or timeout passes; tick
// runs between polls.
func (c *cluster) waitDone(id string, timeout, every time.Duration) (report.Summary, bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last report.Summary
	for {
		if s, code, ok := c.poll(id); ok {
			last = s
			if s.State == jobs.StateDone {
				require.Contains(c.t, []int{0, 1}, code)
				return s, true
			}
		}
		if time.Now().After(deadline) {
			return last, false
		}
		time.Sleep(every)
	}
}

// finalReport runs `bulksync report ID --summary s.json --results r.jsonl`
// and reads both.
func (c *cluster) finalReport(id string) (result, report.Summary, []jobs.Outcome) {
	c.t.Helper()
	sf, rf := filepath.Join(c.dir, "summary.json"), filepath.Join(c.dir, "results.jsonl")
	r := c.run(2*time.Minute, "report", id, "--summary", sf, "--results", rf)
	require.Contains(c.t, []int{0, 1}, r.code, "report: %s", r.stderr)
	var sum report.Summary
	b, err := os.ReadFile(sf)
	require.NoError(c.t, err)
	require.NoError(c.t, json.Unmarshal(b, &sum))
	f, err := os.Open(rf)
	require.NoError(c.t, err)
	defer f.Close()
	var outs []jobs.Outcome
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var o jobs.Outcome
		require.NoError(c.t, json.Unmarshal(sc.Bytes(), &o), "results line %q", sc.Text())
		outs = append(outs, o)
	}
	require.NoError(c.t, sc.Err())
	return r, sum, outs
}

// queueState describes asynq's queue in Redis, for failure messages.
func (c *cluster) queueState() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	const q = "asynq:{bulksync}:"
	var b strings.Builder
	for _, k := range []string{"pending", "active"} {
		n, err := c.rdb.LLen(ctx, q+k).Result()
		fmt.Fprintf(&b, "%s=%d(%v) ", k, n, err)
	}
	for _, k := range []string{"scheduled", "retry", "archived", "completed", "lease"} {
		n, err := c.rdb.ZCard(ctx, q+k).Result()
		fmt.Fprintf(&b, "%s=%d(%v) ", k, n, err)
	}
	if archived, err := c.inspect().ListArchivedTasks("bulksync", asynq.PageSize(20)); err == nil && len(archived) > 0 {
		fmt.Fprintf(&b, "\narchived tasks:")
		for _, ti := range archived {
			fmt.Fprintf(&b, "\n  %s retried %d/%d, last error %q", ti.ID, ti.Retried, ti.MaxRetry, ti.LastErr)
		}
	}
	return b.String()
}

// inspect returns an asynq inspector on the cluster's Redis.
func (c *cluster) inspect() *asynq.Inspector {
	if c.inspector == nil {
		c.inspector = asynq.NewInspector(asynq.RedisClientOpt{Addr: c.redisAddr()})
		c.t.Cleanup(func() { _ = c.inspector.Close() })
	}
	return c.inspector
}

// maxChunkRetries returns the highest retry count among the active and
// retrying chunk tasks, and fails the test at once when asynq has archived
// one: its good rows cannot end ok, and a chunk archived by asynq's
// recoverer (its lease expired on its last retry) has rows that never get
// an outcome, so the batch would never end.
func (c *cluster) maxChunkRetries(t *testing.T) int {
	t.Helper()
	in := c.inspect()
	const queue = "bulksync"
	n := 0
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		in.ListActiveTasks, in.ListRetryTasks,
	} {
		tasks, err := list(queue, asynq.PageSize(1000))
		if err != nil {
			return n // Redis is down, say; the next poll will tell
		}
		for _, ti := range tasks {
			n = max(n, ti.Retried)
		}
	}
	archived, err := in.ListArchivedTasks(queue, asynq.PageSize(100))
	if err == nil && len(archived) > 0 {
		var b strings.Builder
		for _, ti := range archived {
			fmt.Fprintf(&b, "\n  %s retried %d/%d, last error %q", ti.ID, ti.Retried, ti.MaxRetry, ti.LastErr)
		}
		t.Fatalf("asynq archived %d chunk task(s) past their %d retries; one archived on \"task lease expired\" (a crash on its last retry) leaves its rows without an outcome for good:%s\nqueue: %s",
			len(archived), jobs.ChunkMaxRetry, b.String(), c.queueState())
	}
	return n
}

// dumpLogs logs the tail of every process log (on failure).
func (c *cluster) dumpLogs() {
	paths, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
	sort.Strings(paths)
	if len(paths) > 12 { // the first and the last workers tell the most
		paths = append(paths[:4], paths[len(paths)-8:]...)
	}
	for _, p := range paths {
		c.t.Logf("---- %s (tail)\n%s", filepath.Base(p), tailFile(p, 15))
	}
}

// roster is a generated program-licenses CSV file and what its import
// must give.
type roster struct {
	path  string
	rows  int            // data rows (good and bad)
	good  map[string]int // external_id -> line of every good row
	bad   map[int]string // line -> expected error code of every bad row
	lines []int          // the line of every row, in order
}

// badKinds are the bad rows a roster holds, each with the code it must
// fail with. The last one passes the importer and is refused by the API.
var badKinds = []struct {
	code   string
	mangle func(rec []string, prevGood string) []string
}{
	{"invalid_integer:count", func(r []string, _ string) []string { r[colCount] = "12x"; return r }},
	{"out_of_range:count", func(r []string, _ string) []string { r[colCount] = "-3"; return r }},
	{"invalid_datetime:started", func(r []string, _ string) []string { r[colStarted] = "31/01/2024"; return r }},
	{"missing_field:name", func(r []string, _ string) []string { r[colName] = ""; return r }},
	{"expired_before_started", func(r []string, _ string) []string {
		r[colStarted], r[colExpired] = "2024-05-01T00:00:00Z", "2024-04-01"
		return r
	}},
	{"invalid_boolean:active", func(r []string, _ string) []string { r[colActive] = "maybe"; return r }},
	{"invalid_object:metadata", func(r []string, _ string) []string { r[colMetadata] = "[1, 2]"; return r }},
	{"duplicate_external_id", func(r []string, prev string) []string { r[colExternalID] = prev; return r }},
	{"wrong_field_count", func(r []string, _ string) []string { return r[:5] }},
	{"rejected", func(r []string, _ string) []string { r[colProgram] = "prog-retired"; return r }},
}

var rosterHeader = []string{"platform_key", "program_key", "name", "count", "started", "expired", "active", "metadata", "external_id"}

const (
	colPlatform = iota
	colProgram
	colName
	colCount
	colStarted
	colExpired
	colActive
	colMetadata
	colExternalID
)

// writeRoster writes n program-license rows to path: one in a hundred is
// bad (the kinds of badKinds in turn), the others are valid rows with
// varied optional fields, a few with quoted newlines. It is deterministic
// for a given seed.
func writeRoster(t *testing.T, path string, n int, seed uint64) roster {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	bw := bufio.NewWriter(f)
	w := csv.NewWriter(bw)
	require.NoError(t, w.Write(rosterHeader))
	ro := roster{path: path, rows: n, good: map[string]int{}, bad: map[int]string{}}
	line, lastGood, badSeq := 2, "", 0
	for i := range n {
		id := fmt.Sprintf("ext-%07d", i)
		name := fmt.Sprintf("Seat pool %d", i)
		if i%500 == 7 {
			name = fmt.Sprintf("Seat pool \"%d\"\nsecond line, with a comma", i)
		}
		rec := []string{
			"acme",
			knownPrograms[rng.IntN(len(knownPrograms))],
			name,
			strconv.Itoa(rng.IntN(5000)),
			fmt.Sprintf("2024-%02d-%02dT09:00:00Z", 1+rng.IntN(12), 1+rng.IntN(28)),
			"",
			"",
			"",
			id,
		}
		if rng.IntN(3) == 0 {
			rec[colExpired] = "2026-12-31"
		}
		rec[colActive] = []string{"", "true", "no", "1"}[rng.IntN(4)]
		if rng.IntN(4) == 0 {
			rec[colMetadata] = fmt.Sprintf(`{"tier": "gold", "row": %d}`, i)
		}
		bad := i%100 == 50 && lastGood != ""
		if bad {
			k := badKinds[badSeq%len(badKinds)]
			badSeq++
			rec = k.mangle(rec, lastGood)
			ro.bad[line] = k.code
		} else {
			ro.good[id] = line
			lastGood = id
		}
		require.NoError(t, w.Write(rec))
		ro.lines = append(ro.lines, line)
		line++
		for _, cell := range rec {
			line += strings.Count(cell, "\n")
		}
	}
	w.Flush()
	require.NoError(t, w.Error())
	require.NoError(t, bw.Flush())
	return ro
}

// checkResults asserts the final report of a roster's batch: every good row
// ok and created once, every bad row failed on its line with its code, and
// the sandbox holding exactly one license (and one history record) per good
// row.
func checkResults(t *testing.T, ro roster, sum report.Summary, outs []jobs.Outcome, st sandbox.Stats) {
	t.Helper()
	require.Equal(t, jobs.StateDone, sum.State)
	require.Equal(t, ro.rows, sum.Total, "summary total")
	require.Equal(t, 0, sum.Unprocessed, "no row is left unprocessed")
	require.Equal(t, len(ro.good), sum.Successes, "successes: every good row, no bad one")
	require.Equal(t, len(ro.bad), sum.Failed, "failed: exactly the bad rows")

	var wantCodes []string
	for _, l := range ro.lines {
		if code, ok := ro.bad[l]; ok {
			wantCodes = append(wantCodes, fmt.Sprintf("line %d: %s", l, code))
		}
	}
	if wantCodes == nil {
		wantCodes = []string{}
	}
	require.Equal(t, wantCodes, sum.ErrorCodes, "error_codes: one per bad row, in line order")

	require.Len(t, outs, ro.rows, "one result per input row")
	seen := map[string]int{}
	var wrong []string
	for i, o := range outs {
		require.Equal(t, ro.lines[i], o.Line, "results are in input order")
		if code, isBad := ro.bad[o.Line]; isBad {
			if o.Status != jobs.StatusFailed || o.ErrorCode != code {
				wrong = append(wrong, fmt.Sprintf("line %d: want failed %s, got %s %s (%s)", o.Line, code, o.Status, o.ErrorCode, o.Message))
			}
			continue
		}
		want := ro.good[o.ExternalID]
		switch {
		case want != o.Line:
			wrong = append(wrong, fmt.Sprintf("line %d: external_id %q is not the good row of that line (%d)", o.Line, o.ExternalID, want))
		case o.Status != jobs.StatusOK:
			wrong = append(wrong, fmt.Sprintf("line %d (%s): want ok, got %s %s %s after %d attempts", o.Line, o.ExternalID, o.Status, o.ErrorCode, o.Message, o.Attempts))
		case o.Action != jobs.ActionCreated && o.Action != jobs.ActionUnchanged:
			// unchanged: the create took effect in a delivery that was
			// killed before it recorded the outcome.
			wrong = append(wrong, fmt.Sprintf("line %d (%s): want created (or unchanged), got %s %s", o.Line, o.ExternalID, o.Action, o.Message))
		case o.Attempts < 1:
			wrong = append(wrong, fmt.Sprintf("line %d (%s): %d attempts", o.Line, o.ExternalID, o.Attempts))
		}
		seen[o.ExternalID]++
	}
	if len(wrong) > 10 {
		wrong = append(wrong[:10], fmt.Sprintf("... and %d more", len(wrong)-10))
	}
	require.Empty(t, wrong, "rows with a wrong result")
	require.Len(t, seen, len(ro.good), "every good row has a result")

	require.Equal(t, len(ro.good), st.ProgramLicenses, "the sandbox holds one program license per good external_id")
	require.EqualValues(t, len(ro.good), st.Creates, "one create per good row, none repeated")
	require.EqualValues(t, 0, st.Updates, "no row was written a second time")
	require.Equal(t, len(ro.good), st.History, "one history record per good row: no row ran into a second write")
}

// attemptFigures counts the rows tried more than once and all attempts.
func attemptFigures(outs []jobs.Outcome) (retried, attempts int) {
	for _, o := range outs {
		attempts += o.Attempts
		if o.Attempts > 1 {
			retried++
		}
	}
	return retried, attempts
}
