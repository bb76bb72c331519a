package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/jobs"
	"github.com/hibiken/asynq"
)

// childCommand is the hidden first argument that makes the binary run one
// measurement as a child process, so that the peak RSS read from its
// rusage is the measurement's own and not the parent's.
const childCommand = "__bench-child"

// Child jobs.
const (
	jobCSVRead = "csv-read" // stream the file through encoding/csv
	jobImport  = "import"   // ingest.Import the file into Redis
	jobNoop    = "noop"     // nothing: the floor of a child's peak RSS
)

// childJob is what a child process is asked to do; it travels as JSON in
// the argument after childCommand.
type childJob struct {
	Kind      string `json:"kind"`
	File      string `json:"file"`
	RedisAddr string `json:"redis_addr,omitempty"`
	DB        int    `json:"db,omitempty"`
	Queue     string `json:"queue,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	ChunkSize int    `json:"chunk_size,omitempty"`
	// Profile, when set, is the path prefix of the CPU and heap profiles
	// the child writes (Profile + ".cpu.pprof", Profile + ".heap.pprof").
	Profile string `json:"profile,omitempty"`
}

// childResult is what a child prints on stdout, as JSON.
type childResult struct {
	Rows           int     `json:"rows"`
	Chunks         int     `json:"chunks"`
	Seconds        float64 `json:"seconds"`         // the measured work only, not the process start
	ClientCommands int64   `json:"client_commands"` // Redis commands the child's clients sent
	BatchID        string  `json:"batch_id,omitempty"`
	// PayloadSizes are the payload sizes of the tasks the import enqueued,
	// in the order they were sent, and LargestPayload the largest payload.
	PayloadSizes   []int  `json:"payload_sizes,omitempty"`
	LargestPayload []byte `json:"largest_payload,omitempty"`
}

// runChild is main for a child process: it runs the job in args[0] and
// prints its result. It returns the exit code.
func runChild(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "bench child: want one JSON job argument")
		return 2
	}
	var job childJob
	if err := json.Unmarshal([]byte(args[0]), &job); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var stopProfile func() error
	if job.Profile != "" {
		f, err := os.Create(job.Profile + ".cpu.pprof")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			return 1
		}
		stopProfile = func() error {
			pprof.StopCPUProfile()
			h, err := os.Create(job.Profile + ".heap.pprof")
			if err != nil {
				return err
			}
			defer h.Close()
			return pprof.Lookup("heap").WriteTo(h, 0)
		}
	}
	var res childResult
	var err error
	switch job.Kind {
	case jobCSVRead:
		res, err = childCSVRead(ctx, job)
	case jobImport:
		res, err = childImport(ctx, job)
	case jobNoop:
	default:
		err = fmt.Errorf("unknown job %q", job.Kind)
	}
	if stopProfile != nil {
		if perr := stopProfile(); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 1
	}
	return 0
}

// childCSVRead streams the file through encoding/csv as the importers'
// CSV source does (64 KiB buffer, ReuseRecord), with no field conversion.
func childCSVRead(ctx context.Context, job childJob) (childResult, error) {
	f, err := os.Open(job.File)
	if err != nil {
		return childResult{}, err
	}
	defer f.Close()
	start := time.Now()
	r := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	if _, err := r.Read(); err != nil {
		return childResult{}, fmt.Errorf("read header: %w", err)
	}
	var res childResult
	cells := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return childResult{}, err
		}
		res.Rows++
		cells += len(rec)
		if res.Rows%65536 == 0 && ctx.Err() != nil {
			return childResult{}, ctx.Err()
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if cells == 0 {
		return childResult{}, errors.New("no cells read")
	}
	return res, nil
}

// childImport runs ingest.Import on the file as the CLI does with
// REDIS_URL set: a store and an asynq client on separate connection pools,
// nothing consuming the queue.
func childImport(ctx context.Context, job childJob) (childResult, error) {
	// As bulksync import against REDIS_URL does.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(ingest.MemoryLimit)
	}
	var n atomic.Int64
	tasks := &taskRecorder{}
	conn := countedRedis{addr: job.RedisAddr, db: job.DB, n: &n, tasks: tasks}
	rdb := conn.client()
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return childResult{}, fmt.Errorf("redis at %s: %w", job.RedisAddr, err)
	}
	store := jobs.NewStore(rdb, jobs.StoreConfig{Prefix: job.Prefix})
	q := asynq.NewClient(conn)
	defer q.Close()
	n.Store(0)
	open := func() (io.ReadCloser, error) { return os.Open(job.File) }
	start := time.Now()
	res, err := ingest.Import(ctx, open, store, q, ingest.Options{
		ChunkSize: job.ChunkSize, Queue: job.Queue, Source: filepath.Base(job.File),
	})
	if err != nil {
		return childResult{}, fmt.Errorf("import: %w", err)
	}
	took := time.Since(start)
	sizes, largest, err := tasks.result()
	if err != nil {
		return childResult{}, err
	}
	return childResult{
		Rows:           res.Meta.Total,
		Chunks:         res.Meta.Chunks,
		Seconds:        took.Seconds(),
		ClientCommands: n.Load(),
		BatchID:        res.Meta.ID,
		PayloadSizes:   sizes,
		LargestPayload: largest,
	}, nil
}

// childUsage is what the kernel reports of a finished child.
type childUsage struct {
	maxRSS int64         // peak resident set size, bytes
	cpu    time.Duration // user plus system time
}

// launcherCommand is the hidden first argument that makes the binary a
// launcher: a small process, started before the bench grows, that runs
// the measurement children. On Linux a child started by a process inherits
// that process's peak RSS in its own ru_maxrss (Go starts children with
// CLONE_VM, and execve records the old address space's high-water mark), so
// children started by the bench itself, once it holds a sandbox of 100,000
// licenses, would all report the bench's peak. Children started by the
// launcher report at least the launcher's own few megabytes (see the noop
// job), and otherwise their own peak.
const launcherCommand = "__bench-launcher"

// launcherReply is the launcher's answer to one job, one JSON line.
type launcherReply struct {
	Result json.RawMessage `json:"result,omitempty"`
	MaxRSS int64           `json:"max_rss"` // bytes
	CPU    time.Duration   `json:"cpu"`
	Error  string          `json:"error,omitempty"`
}

// launcher is the parent's handle on a launcher process. It runs one job
// at a time.
type launcher struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// startLauncher starts a launcher process; ctx ending kills it, and with it
// the child it runs.
func startLauncher(ctx context.Context) (*launcher, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, launcherCommand)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start launcher: %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	return &launcher{cmd: cmd, in: in, out: sc}, nil
}

// run runs job in a child process and returns its result and its resource
// usage.
func (l *launcher) run(job childJob) (childResult, childUsage, error) {
	line, err := json.Marshal(job)
	if err != nil {
		return childResult{}, childUsage{}, err
	}
	if _, err := l.in.Write(append(line, '\n')); err != nil {
		return childResult{}, childUsage{}, fmt.Errorf("launcher: %w", err)
	}
	if !l.out.Scan() {
		return childResult{}, childUsage{}, fmt.Errorf("launcher: no answer: %v", l.out.Err())
	}
	var reply launcherReply
	if err := json.Unmarshal(l.out.Bytes(), &reply); err != nil {
		return childResult{}, childUsage{}, fmt.Errorf("launcher: %w", err)
	}
	if reply.Error != "" {
		return childResult{}, childUsage{}, fmt.Errorf("child %s: %s", job.Kind, reply.Error)
	}
	var res childResult
	if err := json.Unmarshal(reply.Result, &res); err != nil {
		return childResult{}, childUsage{}, fmt.Errorf("child %s: read result: %w", job.Kind, err)
	}
	return res, childUsage{maxRSS: reply.MaxRSS, cpu: reply.CPU}, nil
}

// close ends the launcher.
func (l *launcher) close() {
	_ = l.in.Close()
	_ = l.cmd.Wait()
}

// runLauncher is main for the launcher: it reads jobs, one JSON line each,
// from stdin, runs each in a child process and answers on stdout. It
// returns the exit code when stdin ends.
func runLauncher() int {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<10), 16<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var job childJob
		reply := launcherReply{}
		if err := json.Unmarshal(in.Bytes(), &job); err != nil {
			reply.Error = err.Error()
		} else {
			res, use, err := runChildProcess(job)
			reply.Result, reply.MaxRSS, reply.CPU = res, use.maxRSS, use.cpu
			if err != nil {
				reply.Error = err.Error()
			}
		}
		if err := out.Encode(reply); err != nil {
			return 1
		}
	}
	return 0
}

// runChildProcess runs job in a child process (this binary, re-executed)
// and returns its raw result and its resource usage. The launcher calls it.
func runChildProcess(job childJob) (json.RawMessage, childUsage, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, childUsage{}, err
	}
	arg, err := json.Marshal(job)
	if err != nil {
		return nil, childUsage{}, err
	}
	cmd := exec.Command(exe, childCommand, string(arg))
	setParentDeathSignal(cmd) // the child dies with the launcher
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, childUsage{}, err
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return nil, childUsage{}, fmt.Errorf("no rusage on %s", runtime.GOOS)
	}
	u := childUsage{maxRSS: ru.Maxrss * 1024, cpu: rusageCPU(ru)} // Maxrss is in kilobytes on Linux
	if runtime.GOOS == "darwin" {
		u.maxRSS = ru.Maxrss // bytes on macOS
	}
	return bytes.TrimSpace(out.Bytes()), u, nil
}
