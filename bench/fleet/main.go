// Command fleet measures bulksync's worker processes together, as
// BENCHMARKS.md reports them: scale-out (1, 2 and 4 `bulksync worker`
// processes against a sandbox with 20 ms latency), the shared API budget
// (4 processes against a sandbox that answers 429 beyond 300 requests/s)
// and the latency of 500-row interactive batches beside a 200,000-row
// import on the same workers.
//
// Every process is a plain one it starts itself, on free ports of
// 127.0.0.1: a redis-server without persistence, `bulksync sandbox`,
// `bulksync worker`. It prints a markdown table on stdout and its progress
// on stderr.
//
//	go run ./bench/fleet                 # all three, about 5 minutes
//	go run ./bench/fleet -only budget    # one of scale,budget,interactive
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	only        map[string]bool
	scaleRows   int
	budgetRows  int
	budget      float64
	importRows  int
	requests    int
	requestRows int
	latency     time.Duration
	concurrency int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	var o options
	only := fs.String("only", "scale,budget,interactive", "comma-separated measurements: scale, budget, interactive")
	fs.IntVar(&o.scaleRows, "scale-rows", 12000, "rows of each scale-out run")
	fs.IntVar(&o.budgetRows, "budget-rows", 9000, "rows of the shared-budget run")
	fs.Float64Var(&o.budget, "budget", 300, "the sandbox's --rate-limit and the workers' --rate-limit in the shared-budget run")
	fs.IntVar(&o.importRows, "import-rows", 200000, "rows of the import running under the interactive batches")
	fs.IntVar(&o.requests, "requests", 20, "interactive batches measured, idle and beside the import")
	fs.IntVar(&o.requestRows, "request-rows", 500, "rows of each interactive batch")
	fs.DurationVar(&o.latency, "latency", 20*time.Millisecond, "sandbox latency")
	fs.IntVar(&o.concurrency, "concurrency", 10, "each worker's --concurrency")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.only = map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		o.only[s] = true
	}
	dir, err := os.MkdirTemp("", "bulksync-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bulksync")
	fmt.Fprintln(stderr, "building ./cmd/bulksync")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/bulksync").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	f := &fleet{dir: dir, bin: bin, stderr: stderr, o: o}
	defer f.stopAll()
	fmt.Fprintf(stdout, "## Worker processes (bench/fleet), %s, GOMAXPROCS per process %s, load average at start %s\n\n", time.Now().UTC().Format(time.DateOnly), cmpOr(os.Getenv("GOMAXPROCS"), "2 (all cores)"), loadAvg())
	if o.only["scale"] {
		if err := f.scale(ctx, stdout); err != nil {
			return err
		}
	}
	if o.only["budget"] {
		if err := f.sharedBudget(ctx, stdout); err != nil {
			return err
		}
	}
	if o.only["interactive"] {
		if err := f.interactive(ctx, stdout); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "Load average at the end: %s\n", loadAvg())
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// loadAvg is /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// fleet is one run's processes.
type fleet struct {
	dir, bin string
	stderr   io.Writer
	o        options
	procs    []*exec.Cmd

	redisAddr  string
	rdb        *redis.Client
	sandboxURL string
	workers    []*exec.Cmd
}

const token = "fleet-token-0123456789abcdef"

// start starts a process with its output in dir/name.log.
func (f *fleet) start(name string, env []string, bin string, args ...string) (*exec.Cmd, error) {
	lf, err := os.Create(filepath.Join(f.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f.procs = append(f.procs, cmd)
	return cmd, nil
}

func (f *fleet) stopAll() {
	for _, p := range f.procs {
		_ = p.Process.Kill()
		_, _ = p.Process.Wait()
	}
	if f.rdb != nil {
		_ = f.rdb.Close()
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// setup starts a fresh redis-server and sandbox (with sandboxFlags),
// stopping those of the previous measurement.
func (f *fleet) setup(ctx context.Context, sandboxFlags ...string) error {
	f.stopAll()
	f.procs, f.workers = nil, nil
	var err error
	if f.redisAddr, err = freeAddr(); err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(f.redisAddr)
	if _, err := f.start("redis", nil, "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", f.dir); err != nil {
		return err
	}
	f.rdb = redis.NewClient(&redis.Options{Addr: f.redisAddr})
	if err := waitFor(ctx, func() bool { return f.rdb.Ping(ctx).Err() == nil }); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	if _, err = f.start("sandbox", nil, f.bin, append([]string{"sandbox", "--addr", addr, "--token", token}, sandboxFlags...)...); err != nil {
		return err
	}
	f.sandboxURL = "http://" + addr
	return waitFor(ctx, func() bool { _, err := f.stats(); return err == nil })
}

func waitFor(ctx context.Context, ok func() bool) error {
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			return errors.New("did not come up")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func (f *fleet) env() []string {
	return []string{"REDIS_URL=redis://" + f.redisAddr + "/0", "BULKSYNC_API_URL=" + f.sandboxURL, "BULKSYNC_API_TOKEN=" + token}
}

// startWorkers starts n worker processes with args.
func (f *fleet) startWorkers(n int, args ...string) error {
	for i := range n {
		w, err := f.start(fmt.Sprintf("worker-%d", len(f.workers)+i), f.env(), f.bin, append([]string{"worker", "--concurrency", strconv.Itoa(f.o.concurrency)}, args...)...)
		if err != nil {
			return err
		}
		f.workers = append(f.workers, w)
	}
	return nil
}

// stopWorkers SIGTERMs the workers and waits for them.
func (f *fleet) stopWorkers() {
	for _, w := range f.workers {
		_ = w.Process.Signal(syscall.SIGTERM)
	}
	for _, w := range f.workers {
		_, _ = w.Process.Wait()
	}
	f.workers = nil
}

func (f *fleet) stats() (sandbox.Stats, error) {
	var s sandbox.Stats
	resp, err := http.Get(f.sandboxURL + "/_sandbox/stats")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// writeFile writes n program-license rows of the platform prefix whose
// external ids start with prefix, and returns its path. Each file has a
// platform of its own: a batch reads its platform's licenses once (the
// look-up snapshot), so files sharing one would each read all the
// licenses the earlier ones created.
func (f *fleet) writeFile(name, prefix string, n int) (string, error) {
	p := filepath.Join(f.dir, name)
	var b strings.Builder
	b.WriteString("platform_key,program_key,name,count,started,external_id\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,program-v1:acme+p%d+2024,Seats %d,%d,2024-01-01T00:00:00Z,%s-%d\n", prefix, i%50, i, i%300, prefix, i)
	}
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}

// importAndWait imports file with `bulksync import --detach` and waits
// until the batch is done; it returns the rows/s from the command's start.
func (f *fleet) importAndWait(ctx context.Context, file string, rows int, flags ...string) (float64, time.Duration, error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, f.bin, append([]string{"import", file, "--detach"}, flags...)...)
	cmd.Env = append(os.Environ(), f.env()...)
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("import: %w", err)
	}
	id := strings.TrimSpace(string(out))
	for {
		st, err := f.rdb.HGet(ctx, "bulksync:batch:"+id, "state").Result()
		if err != nil {
			return 0, 0, err
		}
		if st == jobs.StateDone || st == jobs.StateHalted {
			d := time.Since(start)
			return float64(rows) / d.Seconds(), d, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fleet) scale(ctx context.Context, w io.Writer) error {
	if err := f.setup(ctx, "--latency", f.o.latency.String()); err != nil {
		return err
	}
	fmt.Fprintf(w, "### Scale-out: %d program-license rows per run, sandbox latency %s, `--concurrency %d`, chunks of 50 rows\n\n", f.o.scaleRows, f.o.latency, f.o.concurrency)
	fmt.Fprintln(w, "| worker processes | rows/s | time | ratio to 1 process | CPU of the whole machine (load) |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---|")
	var base float64
	for _, n := range []int{1, 2, 4} {
		fmt.Fprintf(f.stderr, "scale-out: %d workers\n", n)
		file, err := f.writeFile(fmt.Sprintf("scale-%d.csv", n), fmt.Sprintf("scale%d", n), f.o.scaleRows)
		if err != nil {
			return err
		}
		if err := f.startWorkers(n); err != nil {
			return err
		}
		time.Sleep(time.Second) // the workers connect
		rate, d, err := f.importAndWait(ctx, file, f.o.scaleRows, "--chunk-size", "50")
		f.stopWorkers()
		if err != nil {
			return err
		}
		if n == 1 {
			base = rate
		}
		fmt.Fprintf(w, "| %d | %.0f | %s | **%.2f×** | %s |\n", n, rate, d.Round(10*time.Millisecond), rate/base, loadAvg())
	}
	fmt.Fprintln(w)
	return nil
}

func (f *fleet) sharedBudget(ctx context.Context, w io.Writer) error {
	budget := strconv.FormatFloat(f.o.budget, 'f', -1, 64)
	fmt.Fprintf(w, "### Shared budget: 4 worker processes, sandbox `--rate-limit %s --latency %s`, %d rows per run\n\n", budget, f.o.latency, f.o.budgetRows)
	fmt.Fprintln(w, "| workers' `--rate-limit` (the fleet's) | rows/s | share of the API's limit | API requests | 429s | 429s / requests |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for i, limit := range []string{budget, strconv.FormatFloat(f.o.budget*4/3, 'f', -1, 64), "0"} {
		if err := f.setup(ctx, "--latency", f.o.latency.String(), "--rate-limit", budget); err != nil {
			return err
		}
		fmt.Fprintf(f.stderr, "shared budget: workers --rate-limit %s\n", limit)
		file, err := f.writeFile(fmt.Sprintf("budget-%d.csv", i), fmt.Sprintf("budget%d", i), f.o.budgetRows)
		if err != nil {
			return err
		}
		if err := f.startWorkers(4, "--rate-limit", limit); err != nil {
			return err
		}
		time.Sleep(time.Second)
		rate, _, err := f.importAndWait(ctx, file, f.o.budgetRows, "--chunk-size", "50")
		f.stopWorkers()
		if err != nil {
			return err
		}
		st, err := f.stats()
		if err != nil {
			return err
		}
		what := limit
		if limit == "0" {
			what = "0 (no limit: the per-request Retry-After alone)"
		}
		fmt.Fprintf(w, "| %s | %.0f | **%.0f%%** | %d | %d | **%.2f%%** |\n", what, rate, 100*rate/f.o.budget, st.Requests, st.Throttled, 100*float64(st.Throttled)/float64(st.Requests))
	}
	fmt.Fprintln(w)
	return nil
}

// interactive measures 500-row batches on jobs.InteractiveQueue, on idle
// workers and beside a large import.
func (f *fleet) interactive(ctx context.Context, w io.Writer) error {
	if err := f.setup(ctx, "--latency", f.o.latency.String()); err != nil {
		return err
	}
	if err := f.startWorkers(2); err != nil {
		return err
	}
	time.Sleep(time.Second)
	q := asynq.NewClient(asynq.RedisClientOpt{Addr: f.redisAddr})
	defer q.Close()
	store := jobs.NewStore(f.rdb, jobs.StoreConfig{})
	measure := func(phase string) ([]time.Duration, error) {
		var out []time.Duration
		for i := range f.o.requests {
			file, err := f.writeFile("request.csv", fmt.Sprintf("%s-req%d", phase, i), f.o.requestRows)
			if err != nil {
				return nil, err
			}
			start := time.Now()
			open := func() (io.ReadCloser, error) { return os.Open(file) }
			res, err := ingest.Import(ctx, open, store, q, ingest.Options{Queue: jobs.InteractiveQueue, Source: "request.csv"})
			if err != nil {
				return nil, err
			}
			if _, err := ingest.Wait(ctx, store, res.Meta.ID, 10*time.Millisecond, nil); err != nil {
				return nil, err
			}
			out = append(out, time.Since(start))
		}
		slices.Sort(out)
		return out, nil
	}
	fmt.Fprintf(f.stderr, "interactive: %d idle batches\n", f.o.requests)
	idle, err := measure("idle")
	if err != nil {
		return err
	}
	fmt.Fprintf(f.stderr, "interactive: a %d-row import, then %d batches beside it\n", f.o.importRows, f.o.requests)
	big, err := f.writeFile("big.csv", "big", f.o.importRows)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, f.bin, "import", big, "--detach")
	cmd.Env = append(os.Environ(), f.env()...)
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	bigID := strings.TrimSpace(string(out))
	time.Sleep(2 * time.Second) // the import's chunks fill every slot
	loaded, err := measure("loaded")
	if err != nil {
		return err
	}
	m, err := store.Get(ctx, bigID)
	if err != nil {
		return err
	}
	pct := func(d []time.Duration, p float64) time.Duration {
		return d[min(len(d)-1, int(p*float64(len(d))))].Round(time.Millisecond)
	}
	fmt.Fprintf(w, "### Interactive batches: %d batches of %d rows on `%s`, 2 worker processes (`--concurrency %d`), sandbox latency %s\n\n", f.o.requests, f.o.requestRows, jobs.InteractiveQueue, f.o.concurrency, f.o.latency)
	fmt.Fprintf(w, "| workers | p50 | p99 (the slowest of %d) | p99 / idle p99 |\n", f.o.requests)
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	fmt.Fprintf(w, "| idle | %s | %s | 1 |\n", pct(idle, 0.5), pct(idle, 0.99))
	fmt.Fprintf(w, "| beside a %d-row import (%d/%d rows done when the last batch ended) | %s | %s | **%.2f×** |\n\n", f.o.importRows, m.Done, m.Total, pct(loaded, 0.5), pct(loaded, 0.99), float64(pct(loaded, 0.99))/float64(pct(idle, 0.99)))
	f.stopWorkers()
	return nil
}
