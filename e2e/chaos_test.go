//go:build unix

package e2e

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/report"
	"github.com/stretchr/testify/require"
)

var (
	chaosRows    = flag.Int("chaos.rows", 0, "rows of TestChaos (default $BULKSYNC_CHAOS_ROWS, else 2000; the full run is 20000)")
	chaosSeed    = flag.Uint64("chaos.seed", 0, "seed of TestChaos's file, faults and victims (default: from the clock)")
	chaosTimeout = flag.Duration("chaos.timeout", 0, "how long TestChaos waits for its batch (default: 4m + 60ms a row)")
	chaosChunk   = flag.Int("chaos.chunk-size", 10, "import --chunk-size of TestChaos (see its doc)")
)

// defaultChaosRows keeps `go test ./...` short; the full run is
// -chaos.rows 20000. Its length is bounded below by asynq, not by the rows:
// a chunk held by a SIGKILLed worker waits for its lease to expire (30 s)
// and for the recoverer's 30 s margin, so the short run takes 1.5-3 min.
const defaultChaosRows = 2000

func chaosRowCount(t *testing.T) int {
	t.Helper()
	if *chaosRows > 0 {
		return *chaosRows
	}
	if s := os.Getenv("BULKSYNC_CHAOS_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "BULKSYNC_CHAOS_ROWS")
		require.Positive(t, n, "BULKSYNC_CHAOS_ROWS")
		return n
	}
	return defaultChaosRows
}

// TestChaos imports a program-licenses file through three worker processes
// while it SIGKILLs a random worker every ~2 s (and starts a new one),
// SIGKILLs redis-server once and restarts it on its append-only file, and
// SIGSTOPs the sandbox API for 3 s, itself failing 20% of requests and
// losing the answer to 10% of writes. Then every good row must be ok and
// created exactly once, every bad row failed with its line and code.
//
// The file is imported in chunks of -chaos.chunk-size rows, 10 by default.
// A chunk applies its rows one after the other; with 20% faults and the
// worker's backoff (250 ms, doubling) a row takes about 0.4 s, so a chunk
// of 100 would be worked for some 40 s while a worker lives about 6 s:
// every SIGKILL of its holder costs a chunk one of its jobs.ChunkMaxRetry
// (10) deliveries, and 100-row chunks would run out of them. Chunks of 10
// keep a chunk's exposure to the kills to a few seconds.
func TestChaos(t *testing.T) {
	rows := chaosRowCount(t)
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano()%1_000_000_000) + 1
	}
	timeout := *chaosTimeout
	if timeout == 0 {
		timeout = 4*time.Minute + time.Duration(rows)*60*time.Millisecond
	}
	if dl, ok := t.Deadline(); ok && time.Until(dl)-time.Minute < timeout {
		timeout = time.Until(dl) - time.Minute // fail with a diagnosis rather than a timeout panic
	}
	t.Logf("chaos: %d rows, seed %d (-chaos.seed %d replays the file, faults and victims), deadline %s", rows, seed, seed, timeout.Round(time.Second))
	rng := rand.New(rand.NewPCG(seed, 0xc4a05))

	c := newCluster(t)
	c.startRedis()
	c.startSandbox("--fail-rate", "0.2", "--fail-after-write", "0.1", "--latency", "2ms", "--seed", strconv.FormatUint(seed, 10))
	c.workerArgs = []string{"--shutdown-timeout", "2s", "--max-attempts", "20"}
	ro := writeRoster(t, filepath.Join(c.dir, "roster.csv"), rows, seed)
	for range 3 {
		c.startWorker()
	}

	start := time.Now()
	id := c.importDetached(ro.path, "--chunk-size", strconv.Itoa(*chaosChunk))
	t.Logf("batch %s enqueued in %s", id, time.Since(start).Round(time.Millisecond))

	var (
		kills, redisRestarts, sandboxStops int
		redisDown                          time.Duration
		killed                             = map[*proc]bool{}
		last                               report.Summary
		chaosStart                         = time.Now()
		deadline                           = chaosStart.Add(timeout)
		nextKill                           = chaosStart.Add(jitter(rng, 2*time.Second))
		redisAt                            = chaosStart.Add(4*time.Second + time.Duration(rng.Int64N(int64(4*time.Second))))
		sandboxAt                          = chaosStart.Add(10*time.Second + time.Duration(rng.Int64N(int64(4*time.Second))))
		sandboxStoppedAt                   time.Time
		maxRetried                         int
		nextPoll                           = chaosStart
	)
	resumeSandbox := func() {
		if !sandboxStoppedAt.IsZero() {
			require.NoError(t, c.sandbox.signal(syscall.SIGCONT))
			sandboxStoppedAt = time.Time{}
		}
	}
	for {
		now := time.Now()
		if now.After(deadline) {
			resumeSandbox()
			st, _ := c.stats()
			t.Fatalf("batch %s not done after %s: %+v\nqueue: %s\nsandbox: %d licenses, %d creates, %d history\nkills %d, redis restarts %d",
				id, timeout, last, c.queueState(), st.ProgramLicenses, st.Creates, st.History, kills, redisRestarts)
		}
		for _, w := range c.workers {
			if w.exited() && !killed[w] {
				t.Fatalf("%s exited on its own (%v):\n%s", w.name, w.err, w.tail(20))
			}
		}
		require.False(t, c.sandbox.exited(), "the sandbox exited:\n%s", c.sandbox.tail(20))
		if !sandboxStoppedAt.IsZero() && now.Sub(sandboxStoppedAt) >= 3*time.Second {
			resumeSandbox()
		}
		if sandboxStops == 0 && now.After(sandboxAt) {
			require.NoError(t, c.sandbox.signal(syscall.SIGSTOP))
			sandboxStoppedAt = now
			sandboxStops++
		}
		if redisRestarts == 0 && now.After(redisAt) {
			c.crashRedis()
			c.startRedis()
			redisRestarts++
			redisDown = time.Since(now)
			t.Logf("redis-server SIGKILLed and restarted on its AOF in %s", redisDown.Round(time.Millisecond))
		}
		if now.After(nextKill) {
			live := c.liveWorkers()
			require.NotEmpty(t, live)
			victim := live[rng.IntN(len(live))]
			require.NoError(t, victim.signal(syscall.SIGKILL))
			require.True(t, victim.wait(10*time.Second), "%s survived SIGKILL", victim.name)
			killed[victim] = true
			kills++
			c.startWorker()
			nextKill = time.Now().Add(jitter(rng, 2*time.Second))
		}
		if now.After(nextPoll) {
			maxRetried = max(maxRetried, c.maxChunkRetries(t))
			if s, _, ok := c.poll(id); ok {
				if s.Unprocessed != last.Unprocessed {
					t.Logf("%5.1fs: %d/%d rows with an outcome, %d kills", time.Since(chaosStart).Seconds(), s.Total-s.Unprocessed, s.Total, kills)
				}
				last = s
				if s.State == jobs.StateDone {
					break
				}
			}
			nextPoll = time.Now().Add(time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resumeSandbox()
	duration := time.Since(start)
	require.Equal(t, 1, redisRestarts, "the batch ended before redis-server was restarted; the chaos was incomplete")
	require.Equal(t, 1, sandboxStops, "the batch ended before the sandbox was stopped; the chaos was incomplete")

	// The workers stop cleanly, so that nothing can write after the count.
	for _, w := range c.liveWorkers() {
		require.NoError(t, w.signal(syscall.SIGTERM))
	}
	for _, w := range c.liveWorkers() {
		require.True(t, w.wait(2*time.Second+5*time.Second), "%s did not stop on SIGTERM", w.name)
	}
	st := c.mustStats()
	r, sum, outs := c.finalReport(id)
	wantCode := 0
	if len(ro.bad) > 0 {
		wantCode = 1
	}
	require.Equal(t, wantCode, r.code, "report's exit code")

	retried, attempts := attemptFigures(outs)
	actions := map[string]int{}
	for _, o := range outs {
		actions[o.Action]++
	}
	figures := fmt.Sprintf("chaos figures: rows=%d (good %d, bad %d) kills=%d redis_restarts=%d (down %s) sandbox_stops=%d rows_retried=%d total_attempts=%d duration=%s created=%d unchanged=%d max_chunk_retries=%d/%d sandbox_requests=%d sandbox_faults=%d seed=%d",
		ro.rows, len(ro.good), len(ro.bad), kills, redisRestarts, redisDown.Round(time.Millisecond), sandboxStops,
		retried, attempts, duration.Round(time.Millisecond), actions[jobs.ActionCreated], actions[jobs.ActionUnchanged],
		maxRetried, jobs.ChunkMaxRetry, st.Requests, st.Faults, seed)
	t.Log(figures)
	fmt.Println(figures)

	checkResults(t, ro, sum, outs, st)
	// The sandbox starts empty: every good row's license was created by
	// this batch, also when the delivery that created it was killed
	// before its outcome was stored (the write intent tells).
	require.Equal(t, len(ro.good), actions[jobs.ActionCreated], "good rows reported created")
	require.Zero(t, actions[jobs.ActionUnchanged], "good rows reported unchanged")
}

// jitter returns d give or take a quarter.
func jitter(rng *rand.Rand, d time.Duration) time.Duration {
	return d*3/4 + time.Duration(rng.Int64N(int64(d/2)))
}

// TestWorkerSIGTERMHandsBackWork stops a worker with SIGTERM while its
// chunks are mid-flight: it must exit within its shutdown timeout, handing
// the chunks back to the queue at once (not leaving them to a lease
// expiry), and a new worker must finish the batch with nothing lost or
// written twice.
func TestWorkerSIGTERMHandsBackWork(t *testing.T) {
	t.Parallel()
	const shutdownTimeout = 2 * time.Second
	c := newCluster(t)
	c.startRedis()
	c.startSandbox("--latency", "50ms")
	c.workerArgs = []string{"--shutdown-timeout", shutdownTimeout.String(), "--concurrency", "4"}
	// 6 chunks of ~100 rows; a row costs at least one request (a create;
	// its first look-up may come from the worker's snapshot of the
	// licenses), 50+ ms, so a chunk takes 5 s or more: far longer than the
	// shutdown timeout.
	ro := writeRoster(t, filepath.Join(c.dir, "roster.csv"), 600, 1)
	id := c.importDetached(ro.path)

	w := c.startWorker()
	deadline := time.Now().Add(time.Minute)
	for {
		s, _, ok := c.poll(id)
		require.True(t, ok)
		if s.Successes >= 20 {
			require.NotEqual(t, jobs.StateDone, s.State)
			break
		}
		require.False(t, w.exited(), "the worker exited:\n%s", w.tail(20))
		require.True(t, time.Now().Before(deadline), "the worker made no progress:\n%s", w.tail(20))
		time.Sleep(100 * time.Millisecond)
	}

	sent := time.Now()
	require.NoError(t, w.signal(syscall.SIGTERM))
	const slack = 3 * time.Second
	require.True(t, w.wait(shutdownTimeout+slack), "the worker did not exit within its shutdown timeout (%s) + %s:\n%s", shutdownTimeout, slack, w.tail(20))
	stopped := time.Since(sent)
	require.Equal(t, 0, w.exitCode(), "a worker stopped by SIGTERM exits 0:\n%s", w.tail(20))
	t.Logf("the worker exited %s after SIGTERM", stopped.Round(time.Millisecond))

	mid, _, ok := c.poll(id)
	require.True(t, ok)
	require.Positive(t, mid.Unprocessed, "the batch was mid-flight when the worker stopped")
	ctx := t.Context()
	active, err := c.rdb.LLen(ctx, "asynq:{bulksync}:active").Result()
	require.NoError(t, err)
	require.Zero(t, active, "no chunk is left active (held by the stopped worker): %s", c.queueState())
	// No chunk can have finished (each needs 5 s or more), so every one
	// of them, those that were in progress included, is pending again.
	chunks, err := c.rdb.HGet(ctx, "bulksync:batch:"+id, "chunks").Int64()
	require.NoError(t, err)
	pending, err := c.rdb.LLen(ctx, "asynq:{bulksync}:pending").Result()
	require.NoError(t, err)
	require.Equal(t, chunks, pending, "the chunks in progress went back to the queue: %s", c.queueState())

	// A chunk left to its lease would wait 55 s or more; a handed-back one
	// runs at once.
	w2 := c.startWorker()
	restarted := time.Now()
	_, done := c.waitDone(id, 45*time.Second, 200*time.Millisecond)
	require.True(t, done, "the new worker did not finish the batch within 45 s: %s\n%s", c.queueState(), w2.tail(20))
	t.Logf("the new worker finished %d rows in %s", mid.Unprocessed, time.Since(restarted).Round(time.Millisecond))
	require.NoError(t, w2.signal(syscall.SIGTERM))
	require.True(t, w2.wait(shutdownTimeout+slack))

	st := c.mustStats()
	_, sum, outs := c.finalReport(id)
	checkResults(t, ro, sum, outs, st)
}

// progressLine is import's progress on stderr.
var progressLine = regexp.MustCompile(`^batch ([0-9a-f]{20}): (\d+)/(\d+) rows done \((\d+) ok, (\d+) failed\)`)

// TestImportKilledWhileWaiting SIGKILLs a waiting `bulksync import` (with
// REDIS_URL and worker processes): the batch still completes, and `report`
// gives its full result; importing the file again finds the same batch and
// runs nothing twice.
func TestImportKilledWhileWaiting(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.startRedis()
	c.startSandbox("--latency", "10ms", "--fail-rate", "0.05", "--fail-after-write", "0.05", "--seed", "7")
	c.workerArgs = []string{"--concurrency", "4", "--shutdown-timeout", "2s", "--max-attempts", "20"}
	ro := writeRoster(t, filepath.Join(c.dir, "roster.csv"), 800, 2)
	c.startWorker()
	c.startWorker()

	cmd := exec.Command(c.bin, "import", ro.path)
	cmd.Env = append(cleanEnv(), c.env()...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.SysProcAttr = sysProcAttr()
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	logf, err := os.Create(filepath.Join(c.dir, "import.log"))
	require.NoError(t, err)
	defer logf.Close()

	var (
		id     string
		killed bool
		sc     = bufio.NewScanner(stderr)
	)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logf, line)
		m := progressLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		id = m[1]
		done, total, ok := atoi(m[2]), atoi(m[3]), atoi(m[4])
		require.Less(t, done, total, "the batch finished before the import could be killed")
		if ok > 0 {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
			t.Logf("import SIGKILLed while waiting at %d/%d rows", done, total)
			break
		}
	}
	require.True(t, killed, "import never reported progress; stderr in %s", logf.Name())
	err = cmd.Wait()
	require.Error(t, err)
	ws, isWait := cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, isWait && ws.Signaled() && ws.Signal() == syscall.SIGKILL, "import ended by SIGKILL, not %v", err)
	require.Empty(t, stdout.String(), "a killed import printed no summary")

	sum, done := c.waitDone(id, 2*time.Minute, 250*time.Millisecond)
	require.True(t, done, "the batch did not complete after its import was killed: %+v %s", sum, c.queueState())

	st := c.mustStats()
	r, sum, outs := c.finalReport(id)
	require.Equal(t, 1, r.code, "the file has bad rows")
	checkResults(t, ro, sum, outs, st)

	// The same file again finds the finished batch and changes nothing.
	require.Equal(t, id, c.importDetached(ro.path), "re-importing the file gives the same batch id")
	again := c.run(time.Minute, "import", ro.path)
	require.Equal(t, 1, again.code, again.stderr)
	require.Contains(t, again.stderr, "imported before")
	require.Equal(t, st.Creates, c.mustStats().Creates, "a re-import creates nothing")
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
