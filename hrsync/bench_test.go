package hrsync_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/hrsync"
	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// The figures of BENCHMARKS.md ("Scheduled HRIS sync"). They take minutes
// and are run by hand:
//
//	BULKSYNC_BENCH=1 go test ./hrsync -run 'TestBench' -v -timeout 30m
//
// With BULKSYNC_BENCH_PROFILE=DIR, the unchanged run and each plan child
// write CPU and heap profiles there (unchanged.cpu.pprof, plan-*.pprof).

func benchOnly(t *testing.T) {
	if os.Getenv("BULKSYNC_BENCH") == "" {
		t.Skip("set BULKSYNC_BENCH=1 to measure")
	}
}

// writeExport writes an HR export of n employees (user1..userN, the
// sandbox's users) in the shape of testdata/hris; edit sets Onboarded on
// every hundredth row.
func writeExport(t *testing.T, path string, n int, edit bool) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprint(w, "\ufeffEmployee ID,Work Email,Status,Onboarded\r\n")
	for i := 1; i <= n; i++ {
		onboarded := "no"
		if edit && i%100 == 0 {
			onboarded = "yes" // 1% of the rows edited
		}
		fmt.Fprintf(w, "E%d, USER%d@EXAMPLE.COM ,Active,%s\r\n", i, i, onboarded)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}

// licenseDef syncs employees to user licenses keyed on the employee id:
// the workers look licenses up in one paged list per batch, so the
// benchmark measures the sync rather than the sandbox's assignment
// look-ups (a linear scan per row there).
const licenseDef = `syncs:
  - name: bench
    kind: user-licenses
    source: {file: hr.csv}
    mapping: {external_id: Employee ID, name: Work Email}
    transforms: {name: [trim, lower]}
    defaults: {platform_key: acme, count: "1", started: "2024-01-01"}
    deactivate_missing: true
`

// TestBenchUnchanged syncs 100,000 employees once (creates), then the
// same export again, and compares the runs' times and API requests.
func TestBenchUnchanged(t *testing.T) {
	benchOnly(t)
	b := setup(t)
	writeExport(t, filepath.Join(b.dir, "hr.csv"), 100_000, false)
	cfg, err := hrsync.Parse([]byte(licenseDef), b.dir)
	require.NoError(t, err)
	s := &cfg.Syncs[0]
	ctx := context.Background()
	last := b.env.Sandbox.Stats()

	start := time.Now()
	res, err := b.runner.Run(ctx, s, hrsync.RunOptions{})
	require.NoError(t, err)
	first := time.Since(start)
	c1 := b.since(&last)
	require.Equal(t, 100_000, res.Succeeded)

	stop := profile(t, "unchanged")
	start = time.Now()
	res, err = b.runner.Run(ctx, s, hrsync.RunOptions{})
	require.NoError(t, err)
	second := time.Since(start)
	stop()
	c2 := b.since(&last)
	require.Equal(t, 100_000, res.Counts.Unchanged)
	require.Zero(t, c2.requests)
	t.Logf("first run: %d creates, %d API requests, %s", c1.creates, c1.requests, first.Round(time.Millisecond))
	t.Logf("unchanged run: %d API requests, %s (%.2f%% of the first)", c2.requests, second.Round(time.Millisecond), 100*second.Seconds()/first.Seconds())
	if second.Seconds() >= 0.05*first.Seconds() {
		t.Logf("the unchanged run is over the target of 5%% of the first run's time")
	}
}

// TestBenchPlanMillion plans a 1,000,000-row export in a child process,
// first with no snapshot, then against the snapshot of those million keys
// with 1% of the rows edited, and reports the child's peak RSS (VmHWM).
func TestBenchPlanMillion(t *testing.T) {
	benchOnly(t)
	dir := t.TempDir()
	const n = 1_000_000
	writeExport(t, filepath.Join(dir, "hr.csv"), n, false)
	t.Log("plan, no snapshot: " + planChild(t, dir, "BULKSYNC_BENCH_NAME=fresh"))

	// The snapshot a successful first run leaves, in the state file and in
	// Redis (as the scheduler keeps it).
	cfg, err := hrsync.Parse([]byte(millionDef), dir)
	require.NoError(t, err)
	state, err := applied.OpenFile(filepath.Join(dir, "state.db"))
	require.NoError(t, err)
	env := testenv.New(t, redisDB, sandbox.Config{})
	for _, store := range []applied.ValueStore{state, applied.NewRedis(env.Redis, env.Prefix)} {
		r := &hrsync.Runner{Planner: hrsync.Planner{Snapshots: store}}
		plan, err := r.Plan(context.Background(), &cfg.Syncs[0], false)
		require.NoError(t, err)
		require.NoError(t, hrsync.AdvanceAll(context.Background(), r, &cfg.Syncs[0], plan))
		require.NoError(t, plan.Close())
	}
	require.NoError(t, state.Close())
	fi, err := os.Stat(filepath.Join(dir, "state.db"))
	require.NoError(t, err)
	t.Logf("state file: %d MB", fi.Size()>>20)

	writeExport(t, filepath.Join(dir, "hr.csv"), n, true)
	t.Log("plan against the snapshot in the state file, 1% edited: " + planChild(t, dir, "BULKSYNC_BENCH_NAME=file"))
	t.Log("plan against the snapshot in Redis, 1% edited: " + planChild(t, dir, "BULKSYNC_BENCH_NAME=redis", "BULKSYNC_BENCH_REDIS="+env.RedisURL, "BULKSYNC_BENCH_PREFIX="+env.Prefix))
}

var millionDef = strings.Replace(definition, "hr-nightly", "million", 1)

// planChild plans the sync of dir in a child process and returns its
// report.
func planChild(t *testing.T, dir string, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchPlanChild$", "-test.v")
	// The memory limit bulksync sync sets (ingest.MemoryLimit).
	cmd.Env = append(append(os.Environ(), "BULKSYNC_BENCH_DIR="+dir, "GOMEMLIMIT=80MiB"), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for l := range strings.SplitSeq(string(out), "\n") {
		if i := strings.Index(l, "RESULT "); i >= 0 {
			return l[i+len("RESULT "):]
		}
	}
	t.Fatalf("no result: %s", out)
	return ""
}

// TestBenchPlanChild is planChild's child.
func TestBenchPlanChild(t *testing.T) {
	dir := os.Getenv("BULKSYNC_BENCH_DIR")
	if dir == "" {
		t.Skip("the child of TestBenchPlanMillion")
	}
	cfg, err := hrsync.Parse([]byte(millionDef), dir)
	require.NoError(t, err)
	var state applied.ValueStore
	if url := os.Getenv("BULKSYNC_BENCH_REDIS"); url != "" {
		opt, err := redis.ParseURL(url)
		require.NoError(t, err)
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		state = applied.NewRedis(rdb, os.Getenv("BULKSYNC_BENCH_PREFIX"))
	} else {
		f, err := applied.OpenFile(filepath.Join(dir, "state.db"))
		require.NoError(t, err)
		defer f.Close()
		state = f
	}
	stop := profile(t, "plan-"+os.Getenv("BULKSYNC_BENCH_NAME"))
	start := time.Now()
	plan, err := (&hrsync.Planner{Snapshots: state}).Plan(context.Background(), &cfg.Syncs[0], false)
	require.NoError(t, err)
	stop()
	defer plan.Close()
	c := plan.Counts
	t.Logf("RESULT %d rows, snapshot %d keys: %d create, %d update, %d unchanged in %s, peak RSS %s",
		plan.Rows, plan.SnapshotKeys, c.Create, c.Update, c.Unchanged, time.Since(start).Round(time.Millisecond), vmHWM(t))
}

// profile starts a CPU profile named name in $BULKSYNC_BENCH_PROFILE, if
// set; the returned func stops it and writes a heap profile beside it.
func profile(t *testing.T, name string) func() {
	t.Helper()
	dir := os.Getenv("BULKSYNC_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	cpu, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
	require.NoError(t, err)
	require.NoError(t, pprof.StartCPUProfile(cpu))
	return func() {
		pprof.StopCPUProfile()
		require.NoError(t, cpu.Close())
		heap, err := os.Create(filepath.Join(dir, name+".heap.pprof"))
		require.NoError(t, err)
		require.NoError(t, pprof.Lookup("allocs").WriteTo(heap, 0))
		require.NoError(t, heap.Close())
	}
}

// vmHWM reports the process's peak RSS (VmHWM), with its RSS now split
// into anonymous memory (the Go heap, mostly) and file pages (the state
// file's mapping, the binary).
func vmHWM(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	f := map[string]string{}
	for l := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			f[k] = strings.TrimSpace(v)
		}
	}
	return fmt.Sprintf("%s (now anonymous %s, file %s)", f["VmHWM"], f["RssAnon"], f["RssFile"])
}
