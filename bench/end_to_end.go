package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/bulksync/bulksync/worker"
	"github.com/cenkalti/backoff/v4"
	"github.com/hibiken/asynq"
	"golang.org/x/sync/errgroup"
)

// apiToken is the token of the benchmark's sandboxes.
const apiToken = "bench-token-0123456789abcdef"

// waitEvery is how often a timed import polls its batch for the end.
const waitEvery = 10 * time.Millisecond

// e2eSpec describes one end-to-end measurement: a fresh sandbox, an
// in-process worker.Worker and ingest.Import of a file, timed from the
// start of the import to the batch being done.
type e2eSpec struct {
	name     string         // metric prefix and profile name
	rows     int            // rows of the file
	sandbox  sandbox.Config // Token is set by runE2E
	embedded bool           // an in-process miniredis (as cmd/bulksync without REDIS_URL) instead of the real Redis
	reimport bool           // then import the file again, unchanged, with ingest.Options{NewBatch: true}
}

// phase is what one timed import (or baseline) measured.
type phase struct {
	seconds    float64
	rows       int
	failed     int     // rows that did not end ok
	requests   int64   // API requests the sandbox received
	serverCmds int64   // INFO commandstats delta; -1 for the embedded Redis
	clientCmds int64   // commands the bench's Redis clients sent
	cpu        float64 // seconds of CPU this process used (sandbox, worker, ingest, miniredis when embedded)
	redisCPU   float64 // seconds of CPU the real Redis server used; -1 when not measured
}

func (p phase) rate() float64 { return float64(p.rows) / p.seconds }

// e2eResult is a fresh import and, when asked for, the unchanged re-import.
type e2eResult struct {
	fresh, again phase
}

// serveSandbox serves a fresh sandbox configured as spec says over
// loopback HTTP, with a client of it; closeSandbox stops it.
func serveSandbox(spec e2eSpec) (sb *sandbox.Server, api *dmapi.Client, closeSandbox func(), err error) {
	cfg := spec.sandbox
	cfg.Token = apiToken
	sb = sandbox.New(cfg)
	srv := httptest.NewServer(sb)
	api, err = dmapi.New(dmapi.Config{BaseURL: srv.URL, Token: apiToken})
	if err != nil {
		srv.Close()
		return nil, nil, nil, err
	}
	return sb, api, srv.Close, nil
}

// runE2E runs spec once.
func (b *bench) runE2E(ctx context.Context, spec e2eSpec, run int) (e2eResult, error) {
	sb, api, closeSandbox, err := serveSandbox(spec)
	if err != nil {
		return e2eResult{}, err
	}
	defer closeSandbox()

	var n atomic.Int64
	conn := countedRedis{addr: b.opts.redisAddr, db: b.opts.db, n: &n}
	if spec.embedded {
		mr, err := miniredis.Run()
		if err != nil {
			return e2eResult{}, fmt.Errorf("start in-process redis: %w", err)
		}
		defer mr.Close()
		conn = countedRedis{addr: mr.Addr(), n: &n}
	}
	rdb := conn.client()
	defer rdb.Close()
	id := randomID()
	store := jobs.NewStore(rdb, jobs.StoreConfig{Prefix: "bench-" + id + ":"})
	queue := "bench-" + id
	w, err := worker.New(conn, store, api, worker.Config{Concurrency: b.opts.concurrency, Queue: queue, Logger: b.workerLog})
	if err != nil {
		return e2eResult{}, err
	}
	if err := w.Start(); err != nil {
		return e2eResult{}, err
	}
	defer w.Shutdown()
	q := asynq.NewClient(conn)
	defer q.Close()

	imp := timedImport{b: b, spec: spec, sb: sb, store: store, q: q, queue: queue, n: &n}
	var res e2eResult
	if res.fresh, err = imp.run(ctx, false, b.profilePath(spec.name+"-fresh", run)); err != nil {
		return res, err
	}
	if spec.reimport {
		if res.again, err = imp.run(ctx, true, b.profilePath(spec.name+"-reimport", run)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// timedImport times imports of one spec's file on one set-up.
type timedImport struct {
	b     *bench
	spec  e2eSpec
	sb    *sandbox.Server
	store *jobs.Store
	q     *asynq.Client
	queue string
	n     *atomic.Int64
}

// run imports the file (as a new batch when newBatch) and waits until the
// batch is done.
func (t timedImport) run(ctx context.Context, newBatch bool, profile string) (phase, error) {
	runtime.GC()
	file := t.b.files[t.spec.rows]
	open := func() (io.ReadCloser, error) { return os.Open(file) }
	reqs := t.sb.Stats().Requests
	cli := t.n.Load()
	var srv0 int64
	var rcpu0 float64
	if !t.spec.embedded {
		var err error
		if srv0, err = commandCalls(ctx, t.b.admin); err != nil {
			return phase{}, err
		}
		if rcpu0, err = redisCPU(ctx, t.b.admin); err != nil {
			return phase{}, err
		}
	}
	stop, err := startProfile(profile)
	if err != nil {
		return phase{}, err
	}
	cpu0 := processCPU()
	start := time.Now()
	res, err := ingest.Import(ctx, open, t.store, t.q, ingest.Options{
		ChunkSize: t.b.opts.chunkSize, NewBatch: newBatch, Queue: t.queue, Source: filepath.Base(file),
	})
	if err != nil {
		stop()
		return phase{}, fmt.Errorf("%s: import: %w", t.spec.name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	meta, err := ingest.Wait(wctx, t.store, res.Meta.ID, waitEvery, nil)
	p := phase{seconds: time.Since(start).Seconds(), rows: meta.Total, failed: meta.Failed, serverCmds: -1, redisCPU: -1}
	p.cpu = (processCPU() - cpu0).Seconds()
	stop()
	if err != nil {
		return p, fmt.Errorf("%s: wait for batch %s: %w (%d/%d done)", t.spec.name, meta.ID, err, meta.Done, meta.Total)
	}
	if meta.State != jobs.StateDone {
		return p, fmt.Errorf("%s: batch %s ended %s: %s", t.spec.name, meta.ID, meta.State, meta.HaltReason)
	}
	p.requests = t.sb.Stats().Requests - reqs
	p.clientCmds = t.n.Load() - cli
	if !t.spec.embedded {
		srv1, err := commandCalls(ctx, t.b.admin)
		if err != nil {
			return p, err
		}
		p.serverCmds = srv1 - srv0 - 2 // without the INFO commandstats and INFO cpu taken before
		rcpu1, err := redisCPU(ctx, t.b.admin)
		if err != nil {
			return p, err
		}
		p.redisCPU = rcpu1 - rcpu0
	}
	return p, nil
}

// runBaseline makes the calls a fresh import makes, one create POST per
// row through dmapi.Client.CreateLicense with the body the worker sends
// (the row's fields and a transaction_id), to a fresh sandbox configured
// like spec's, from b.opts.concurrency goroutines fed by one reader of the
// file: no queue, no Redis, no look-up. Transient failures are retried
// with the worker's default policy (250 ms doubling to 15 s, ±50% jitter,
// 8 attempts, Retry-After honoured); the sandbox's FailRate faults happen
// before the write, so resending the create is safe.
func (b *bench) runBaseline(ctx context.Context, spec e2eSpec, run int) (phase, error) {
	sb, api, closeSandbox, err := serveSandbox(spec)
	if err != nil {
		return phase{}, err
	}
	defer closeSandbox()
	runtime.GC()
	stop, err := startProfile(b.profilePath(spec.name+"-baseline", run))
	if err != nil {
		return phase{}, err
	}
	defer stop()
	cpu0 := processCPU()
	start := time.Now()
	f, err := os.Open(b.files[spec.rows])
	if err != nil {
		return phase{}, err
	}
	defer f.Close()
	r, err := importers.NewReader(f, importers.Options{})
	if err != nil {
		return phase{}, err
	}
	batchID := randomID()
	rows := make(chan importers.Row, 4*b.opts.concurrency)
	var failed atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range b.opts.concurrency {
		g.Go(func() error {
			for row := range rows {
				var want map[string]json.RawMessage
				if err := json.Unmarshal(row.Data, &want); err != nil {
					return err
				}
				body := make(map[string]any, len(want)+1)
				for k, v := range want {
					body[k] = v
				}
				body["transaction_id"] = cmp.Or(row.TransactionID, jobs.TransactionID(batchID, row.Key, row.Data))
				err := retryTransient(gctx, func() error {
					_, err := api.CreateLicense(gctx, dmapi.ProgramLicense, body)
					return err
				})
				if gctx.Err() != nil {
					return gctx.Err()
				}
				if err != nil {
					failed.Add(1)
				}
			}
			return nil
		})
	}
	total := 0
	g.Go(func() error {
		defer close(rows)
		for {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			total++
			if row.Err != nil {
				failed.Add(1)
				continue
			}
			select {
			case rows <- row:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
	})
	if err := g.Wait(); err != nil {
		return phase{}, fmt.Errorf("%s baseline: %w", spec.name, err)
	}
	p := phase{seconds: time.Since(start).Seconds(), rows: total, failed: int(failed.Load()), requests: sb.Stats().Requests, serverCmds: -1, redisCPU: -1}
	p.cpu = (processCPU() - cpu0).Seconds()
	if p.failed > 0 {
		return p, fmt.Errorf("%s baseline: %d rows failed", spec.name, p.failed)
	}
	return p, nil
}

// retryTransient runs op until it succeeds, fails permanently or the
// worker's default retry budget is spent.
func retryTransient(ctx context.Context, op func() error) error {
	exp := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(250*time.Millisecond),
		backoff.WithMaxInterval(15*time.Second),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0),
	)
	b := backoff.WithMaxRetries(exp, 7)
	for {
		err := op()
		if err == nil || dmapi.ClassOf(err) != dmapi.Retryable || ctx.Err() != nil {
			return err
		}
		d := b.NextBackOff()
		if d == backoff.Stop {
			return err
		}
		var apiErr *dmapi.Error
		if errors.As(err, &apiErr) && apiErr.RetryAfter > d {
			d = min(apiErr.RetryAfter, time.Minute)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// startProfile starts a CPU profile written to path, when path is not
// empty, and returns the function that stops it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path + ".cpu.pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// e2eSection runs one pass of measurements 2 to 4: for each scenario, the
// bulksync import (fresh, then the unchanged re-import) and its plain-loop
// baseline; and the embedded default beside the real Redis.
func (b *bench) e2eSection(ctx context.Context, run int) error {
	for _, sc := range b.scenarios() {
		if !b.opts.only[sc.section] {
			continue
		}
		spec := sc.spec
		res, err := b.runE2E(ctx, spec, run)
		if err != nil {
			return err
		}
		if res.fresh.failed > 0 || res.again.failed > 0 {
			return fmt.Errorf("%s: %d rows failed fresh, %d on re-import", spec.name, res.fresh.failed, res.again.failed)
		}
		b.addPhase(spec.name+".fresh", res.fresh)
		b.logf("run %d: %s: fresh %d rows in %.2fs (%.0f rows/s, %.3f req/row)", run+1, spec.name, res.fresh.rows, res.fresh.seconds, res.fresh.rate(), float64(res.fresh.requests)/float64(res.fresh.rows))
		if spec.reimport {
			b.addPhase(spec.name+".again", res.again)
			b.logf("run %d: %s: unchanged re-import in %.2fs (%.0f rows/s, %.4f req/row)", run+1, spec.name, res.again.seconds, res.again.rate(), float64(res.again.requests)/float64(res.again.rows))
		}
		if sc.baseline {
			base, err := b.runBaseline(ctx, spec, run)
			if err != nil {
				return err
			}
			b.addPhase(spec.name+".baseline", base)
			b.add(spec.name+".vs_baseline", res.fresh.rate()/base.rate())
			b.logf("run %d: %s: plain-loop baseline %d rows in %.2fs (%.0f rows/s)", run+1, spec.name, base.rows, base.seconds, base.rate())
		}
		if sc.section == "embedded" {
			real, ok := b.lastOK("e2e.fresh.rate", run)
			if !ok {
				// The e2e section did not run: measure the real Redis here.
				r, err := b.runE2E(ctx, e2eSpec{name: "embedded-real", rows: spec.rows}, run)
				if err != nil {
					return err
				}
				b.addPhase("embedded-real.fresh", r.fresh)
				real = r.fresh.rate()
			}
			b.add("embedded.vs_real", res.fresh.rate()/real)
		}
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// scenario is one end-to-end measurement of the table.
type scenario struct {
	section  string // the -only name
	label    string // the table's row label
	spec     e2eSpec
	baseline bool
}

// scenarios lists the end-to-end measurements in table order.
func (b *bench) scenarios() []scenario {
	return []scenario{
		{section: "e2e", label: "no faults", baseline: true,
			spec: e2eSpec{name: "e2e", rows: b.opts.e2eRows, reimport: true}},
		{section: "latency", label: fmt.Sprintf("%s sandbox latency", b.opts.latency), baseline: true,
			spec: e2eSpec{name: "latency", rows: b.opts.latencyRows, reimport: true, sandbox: sandbox.Config{Latency: b.opts.latency}}},
		{section: "faults", label: fmt.Sprintf("%.0f%% 503s", 100*b.opts.failRate), baseline: true,
			spec: e2eSpec{name: "faults", rows: b.opts.faultRows, reimport: true, sandbox: sandbox.Config{FailRate: b.opts.failRate, Seed: int64(b.opts.seed)}}},
		{section: "embedded", label: "embedded miniredis", baseline: false,
			spec: e2eSpec{name: "embedded", rows: b.opts.e2eRows, embedded: true}},
	}
}
