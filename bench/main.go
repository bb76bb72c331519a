// Command bench measures bulksync on the machine it runs on and prints a
// markdown table of medians, ratios and PASS/MISS against the project's
// targets.
//
// It generates its own program-license CSV files (realistic values, every
// column of the kind) in a temporary directory, then, -runs times, measures
// side by side:
//
//  1. The import path: ingest.Import (parse, validate, chunk, enqueue) of
//     -rows rows into the real Redis, in a child process so that its peak
//     RSS is its own, with the Redis commands per row (INFO commandstats);
//     beside the raw encoding/csv read of the same file (also in a child)
//     and the raw asynq Enqueue of as many tasks as the import made chunks,
//     with the same payload sizes, from 16 goroutines.
//  2. End to end: ingest.Import plus an in-process worker.Worker and the
//     sandbox over loopback HTTP (httptest), fresh and then re-imported
//     unchanged as a new batch, beside a plain loop of goroutines making one
//     create call per row with the same concurrency and no queue.
//  3. The same with sandbox latency (-latency) and with a fraction of 503s
//     (-fail-rate), on fewer rows (-latency-rows, -fault-rows).
//  4. The embedded default (miniredis in-process, as cmd/bulksync does
//     without REDIS_URL) beside the real Redis.
//
// The real Redis is used in database -db (15), flushed before, between and
// after the measurements, with its own key prefixes and queue names.
//
// Usage:
//
//	go run ./bench [flags]
//	go run ./bench -rows 100000 -e2e-rows 10000 -latency-rows 2000 -fault-rows 2000 -runs 1   # quick
//
// The table goes to stdout, progress to stderr.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// sections are the names -only accepts, in the order they run.
var sections = []string{"import", "e2e", "latency", "faults", "embedded"}

// options are the command's flags.
type options struct {
	rows        int
	e2eRows     int
	latencyRows int
	faultRows   int
	runs        int
	only        map[string]bool
	concurrency int
	chunkSize   int
	platforms   int
	redisAddr   string
	db          int
	latency     time.Duration
	failRate    float64
	seed        uint64
	profileDir  string
	keep        bool
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.rows, "rows", 1_000_000, "rows of the import-path file (measurement 1)")
	fs.IntVar(&o.e2eRows, "e2e-rows", 100_000, "rows of the end-to-end and embedded runs (measurements 2 and 4)")
	fs.IntVar(&o.latencyRows, "latency-rows", 10_000, "rows of the end-to-end run with sandbox latency")
	fs.IntVar(&o.faultRows, "fault-rows", 10_000, "rows of the end-to-end run with injected 503s")
	fs.IntVar(&o.runs, "runs", 3, "runs of every measurement; the table shows medians")
	only := fs.String("only", strings.Join(sections, ","), "comma-separated measurements to run: "+strings.Join(sections, ", "))
	fs.IntVar(&o.concurrency, "concurrency", 10, "worker.Config.Concurrency, and the baseline's goroutines (the CLI's default is 10)")
	fs.IntVar(&o.chunkSize, "chunk-size", 0, "ingest.Options.ChunkSize (0: chosen from the file, as bulksync import does)")
	fs.IntVar(&o.platforms, "platforms", 1, "platform_key values the generated rows are spread over (1 to 8)")
	fs.StringVar(&o.redisAddr, "redis", "127.0.0.1:6379", "the real Redis")
	fs.IntVar(&o.db, "db", 15, "the Redis database used and flushed")
	fs.DurationVar(&o.latency, "latency", 20*time.Millisecond, "sandbox latency of the latency run")
	fs.Float64Var(&o.failRate, "fail-rate", 0.1, "fraction of API requests answered 503 in the fault run")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated files and of the sandbox's faults")
	fs.StringVar(&o.profileDir, "profile", "", "write CPU (and, for the import child, heap) profiles of the first run to `DIR`")
	fs.BoolVar(&o.keep, "keep", false, "keep the generated files (their directory is printed)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	o.only = map[string]bool{}
	for name := range strings.SplitSeq(*only, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(sections, name) {
			return o, fmt.Errorf("-only: unknown measurement %q (want %s)", name, strings.Join(sections, ", "))
		}
		o.only[name] = true
	}
	switch {
	case o.runs < 1:
		return o, errors.New("-runs must be at least 1")
	case o.rows < 1 || o.e2eRows < 1 || o.latencyRows < 1 || o.faultRows < 1:
		return o, errors.New("row counts must be at least 1")
	case o.concurrency < 1:
		return o, errors.New("-concurrency must be at least 1")
	case o.db < 0 || o.db > 15:
		return o, errors.New("-db must be between 0 and 15")
	case o.failRate < 0 || o.failRate >= 1:
		return o, errors.New("-fail-rate must be in [0, 1)")
	}
	return o, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == childCommand {
		os.Exit(runChild(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == launcherCommand {
		os.Exit(runLauncher())
	}
	opts, err := parseOptions(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench holds one invocation's inputs and samples.
type bench struct {
	opts      options
	admin     *redis.Client // INFO and FLUSHDB; its commands are not counted
	launcher  *launcher     // runs the child processes
	floorRSS  int64         // peak RSS of a child that does nothing
	dir       string
	files     map[int]string // generated file by row count
	fileBytes map[int]int64
	plan      chunkPlan // the import's chunk tasks, from its first run
	samples   map[string][]float64
	// importCmds are the Redis commands of the import-path run that saw
	// the fewest: other clients of the server only ever add to the counts.
	importCmds commandStats
	env        environment
	stderr     io.Writer
	workerLog  *slog.Logger
	start      time.Time
}

// run generates the inputs, runs every selected measurement opts.runs
// times and writes the report to stdout.
func run(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	// The launcher starts first, while this process is small: see
	// launcherCommand.
	l, err := startLauncher(ctx)
	if err != nil {
		return err
	}
	defer l.close()
	b := &bench{
		launcher:  l,
		opts:      opts,
		files:     map[int]string{},
		fileBytes: map[int]int64{},
		samples:   map[string][]float64{},
		stderr:    stderr,
		workerLog: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		start:     time.Now(),
	}
	b.admin = redis.NewClient(&redis.Options{Addr: opts.redisAddr, DB: opts.db})
	defer b.admin.Close()
	if err := b.admin.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w (start it: bash .ci/run does, or redis-server --daemonize yes --save '' --appendonly no)", opts.redisAddr, err)
	}
	_, floor, err := l.run(childJob{Kind: jobNoop})
	if err != nil {
		return err
	}
	b.floorRSS = floor.maxRSS
	env, err := readEnvironment(ctx, b.admin)
	if err != nil {
		return err
	}
	b.env = env
	if opts.profileDir != "" {
		if err := os.MkdirAll(opts.profileDir, 0o755); err != nil {
			return err
		}
	}
	if b.dir, err = os.MkdirTemp("", "bulksync-bench-"); err != nil {
		return err
	}
	if opts.keep {
		b.logf("inputs kept in %s", b.dir)
	} else {
		defer os.RemoveAll(b.dir)
	}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	defer func() { _ = b.flush(context.WithoutCancel(ctx)) }()
	for run := range opts.runs {
		if opts.only["import"] {
			if err := b.importSection(ctx, run); err != nil {
				return err
			}
		}
		if err := b.e2eSection(ctx, run); err != nil {
			return err
		}
	}
	b.logf("done in %s", time.Since(b.start).Round(time.Second))
	return b.report(stdout)
}

// prepare generates the input files.
func (b *bench) prepare(ctx context.Context) error {
	need := map[int]bool{}
	if b.opts.only["import"] {
		need[b.opts.rows] = true
	}
	for _, sc := range b.scenarios() {
		if b.opts.only[sc.section] {
			need[sc.spec.rows] = true
		}
	}
	for _, rows := range slices.Sorted(maps.Keys(need)) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		path := filepath.Join(b.dir, fmt.Sprintf("program-licenses-%d.csv", rows))
		start := time.Now()
		size, err := generate(path, genConfig{Rows: rows, Platforms: b.opts.platforms, Seed: b.opts.seed, IDPrefix: "sf"})
		if err != nil {
			return fmt.Errorf("generate %s: %w", path, err)
		}
		b.files[rows], b.fileBytes[rows] = path, size
		b.logf("generated %d rows (%.1f MB) in %s", rows, float64(size)/1e6, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// flush empties the benchmark's Redis database.
func (b *bench) flush(ctx context.Context) error {
	if err := b.admin.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush redis db %d: %w", b.opts.db, err)
	}
	return nil
}

// add records one run's value of a metric.
func (b *bench) add(name string, v float64) { b.samples[name] = append(b.samples[name], v) }

// last returns the latest value of a metric.
func (b *bench) last(name string) float64 {
	s := b.samples[name]
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// lastOK returns the value of a metric in the given run, if measured.
func (b *bench) lastOK(name string, run int) (float64, bool) {
	s := b.samples[name]
	if len(s) <= run {
		return 0, false
	}
	return s[run], true
}

// addPhase records a timed phase's metrics under prefix.
func (b *bench) addPhase(prefix string, p phase) {
	b.add(prefix+".rate", p.rate())
	b.add(prefix+".seconds", p.seconds)
	b.add(prefix+".req", float64(p.requests)/float64(p.rows))
	b.add(prefix+".client_cmds", float64(p.clientCmds)/float64(p.rows))
	if p.serverCmds >= 0 {
		b.add(prefix+".server_cmds", float64(p.serverCmds)/float64(p.rows))
	}
	b.add(prefix+".cpu", p.cpu/float64(p.rows))
	if p.redisCPU >= 0 {
		b.add(prefix+".redis_cpu", p.redisCPU/float64(p.rows))
	}
}

// profilePath is where a measurement of the first run writes its profile,
// or "" when profiles are off or run is not the first.
func (b *bench) profilePath(name string, run int) string {
	if b.opts.profileDir == "" || run != 0 {
		return ""
	}
	return filepath.Join(b.opts.profileDir, name)
}

// logf prints progress on stderr.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "[%6.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, args...))
}

// randomID returns 12 random hex digits, for key prefixes and queue names.
func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
