package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/uipath"
	"github.com/hibiken/asynq"
)

// applyFunc applies one row of a chunk to the API and returns its outcome.
// It returns an error instead when the outcome is not known: ctx ended, or
// the API is unavailable (errUnavailable).
type applyFunc func(ctx context.Context, c *chunkInfo, row jobs.ChunkRow) (jobs.Outcome, error)

// chunkFunc applies the rows of a chunk that have no outcome yet and hands
// each outcome to record as soon as it is known. It returns record's first
// error, or ctx's error when ctx ended before every outcome was known.
// Kinds whose API has a bulk call apply their rows together; the others
// are adapted from an applyFunc by perRow.
type chunkFunc func(ctx context.Context, c *chunkInfo, rows []jobs.ChunkRow, record recordFunc) error

// recordFunc hands outcomes over to be stored as final. It returns
// errHalted once it has halted the batch (a 401 or 403), or the error of a
// store call that failed for earlier outcomes.
type recordFunc func(outs ...jobs.Outcome) error

// errHalted ends a chunk whose batch was halted by one of its outcomes.
var errHalted = errors.New("batch halted")

// perRow applies the rows one at a time with apply.
func perRow(apply applyFunc) chunkFunc {
	return func(ctx context.Context, c *chunkInfo, rows []jobs.ChunkRow, record recordFunc) error {
		for _, row := range rows {
			if c.cancelled() {
				return errCancelled
			}
			out, err := apply(ctx, c, row)
			if err != nil {
				return err
			}
			if err := record(out); err != nil {
				return err
			}
		}
		return nil
	}
}

// chunkInfo is what a row's applier knows of its chunk and batch.
type chunkInfo struct {
	*jobs.ChunkPayload
	// run names this run of the batch: its id and when it was made. A
	// file imported again after its batch left Redis (expired, or an
	// in-process Redis) gets the same id but another run, so that
	// nothing a worker remembers of the earlier run (snapshots, write
	// intents) is taken for this one's.
	run string
	// redelivered says that the chunk was delivered before: a record its
	// rows find may be one an earlier delivery created.
	redelivered bool
	// ns is the applied-state namespace of the chunk's kind on the API.
	ns string
	// intents are the write intents written for the chunk's rows at once,
	// by key, with the records they replaced.
	intents map[string]*swapped
	total   int          // rows in the batch
	watch   *cancelWatch // tells that the batch was cancelled; nil: not watched
}

// Worker works chunk tasks. Create it with [New].
type Worker struct {
	cfg     Config
	store   *jobs.Store
	api     *dmapi.Client
	applied applied.Store
	uipath  *uipath.Client // nil: not configured
	log     *slog.Logger
	apply   map[string]chunkFunc // by kind
	sendsTx map[string]bool      // by kind: its writes carry a transaction_id
	caches  *caches
	redis   asynq.RedisConnOpt
	srv     *asynq.Server
	ins     *asynq.Inspector
	rec     *recorder          // stores the chunks' outcomes
	stop    context.CancelFunc // ends the sweeper
	swept   chan struct{}      // closed when the sweeper has ended
	started bool
}

// uipathKind is the kind whose rows go to UiPath rather than the Data
// Manager.
const uipathKind = string(importers.UiPathGroupLicenses)

// New returns a worker that takes tasks from the Redis at redis, keeps
// outcomes in store and calls api (and cfg.UiPath for UiPath rows).
func New(redis asynq.RedisConnOpt, store *jobs.Store, api *dmapi.Client, cfg Config) (*Worker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Applied == nil {
		cfg.Applied = applied.NewRedis(store.Client(), store.Prefix())
	}
	w := &Worker{
		cfg: cfg, store: store, api: api, applied: cfg.Applied, uipath: cfg.UiPath, log: cfg.Logger, redis: redis,
		caches: newCaches(), rec: newRecorder(store),
	}
	if err := w.register(); err != nil {
		return nil, err
	}
	return w, nil
}

// Start begins taking tasks in the background.
func (w *Worker) Start() error {
	w.srv = asynq.NewServer(w.redis, asynq.Config{
		Concurrency:     w.cfg.Concurrency,
		Queues:          w.cfg.Queues,
		ShutdownTimeout: w.cfg.ShutdownTimeout,
		// Chunks are few and large: look for new ones often.
		TaskCheckInterval: 100 * time.Millisecond,
		RetryDelayFunc:    w.retryDelay,
		// A chunk handed back while the API is down is not failing: it
		// keeps its redeliveries for real trouble.
		IsFailure:    func(err error) bool { return !errors.Is(err, errUnavailable) },
		ErrorHandler: asynq.ErrorHandlerFunc(w.handleTaskError),
		Logger:       asynqLogger{w.log},
		LogLevel:     asynq.WarnLevel,
	})
	mux := asynq.NewServeMux()
	mux.Handle(jobs.TypePrefix, w)
	w.rec.start()
	if err := w.srv.Start(mux); err != nil {
		w.rec.stop()
		return fmt.Errorf("start worker: %w", err)
	}
	w.ins = asynq.NewInspector(w.redis)
	ctx, stop := context.WithCancel(context.Background())
	w.stop, w.swept = stop, make(chan struct{})
	go func() {
		defer close(w.swept)
		w.sweep(ctx, w.ins)
	}()
	w.started = true
	return nil
}

// Shutdown stops taking tasks, waits up to the shutdown timeout for the
// chunks in progress, hands back the rest to the queue and stores the
// outcomes still queued.
func (w *Worker) Shutdown() {
	if w.started {
		w.stop()
		<-w.swept
		_ = w.ins.Close()
		w.srv.Shutdown()
		w.rec.stop()
		w.started = false
	}
}

// Run starts the worker and shuts it down when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Shutdown()
	return nil
}

// retryDelay spaces the redeliveries of a chunk whose delivery was cut
// short: 1 s, 2 s, 4 s, ... up to 30 s; a chunk handed back while the API
// is down comes back after one to two OutageDelay, about when the circuit
// breaker lets a probe through.
func (w *Worker) retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	if errors.Is(err, errUnavailable) {
		return w.cfg.OutageDelay + rand.N(w.cfg.OutageDelay)
	}
	return min(time.Second<<min(n, 5), 30*time.Second)
}

// ProcessTask works one chunk. It implements asynq.Handler.
func (w *Worker) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := jobs.DecodeChunk(t)
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	apply, ok := w.apply[p.Kind]
	if !ok {
		return fmt.Errorf("chunk %d of batch %s: unknown kind %q: %w", p.Chunk, p.BatchID, p.Kind, asynq.SkipRetry)
	}
	meta, err := w.store.Get(ctx, p.BatchID)
	if errors.Is(err, jobs.ErrBatchNotFound) {
		return fmt.Errorf("chunk %d: %w: %w", p.Chunk, err, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	if meta.State == jobs.StateHalted || meta.State == jobs.StateCancelled {
		return nil
	}
	indexes := make([]int, len(p.Rows))
	for i, r := range p.Rows {
		indexes[i] = r.Row
	}
	done, err := w.store.Done(ctx, p.BatchID, indexes)
	if err != nil {
		return err
	}
	pending := make([]jobs.ChunkRow, 0, len(p.Rows))
	for _, row := range p.Rows {
		if !done[row.Row] {
			pending = append(pending, row)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	started, first, err := w.store.ChunkStarted(ctx, p.BatchID, p.Chunk)
	if err != nil {
		return err
	}
	info := &chunkInfo{
		ChunkPayload: &p, run: p.BatchID + "@" + strconv.FormatInt(meta.Created.UnixNano(), 36),
		ns: applied.Namespace(w.api.BaseURL(), p.Kind), total: meta.Total, redelivered: !first,
	}
	defer w.watchCancel(ctx, info).end()
	recs := &chunkRecords{}
	err = apply(withDeadline(ctx, started.Add(w.cfg.RetryFor)), info, pending, func(outs ...jobs.Outcome) error { return w.record(ctx, &p, recs, outs) })
	if rerr := recs.wait(); rerr != nil {
		err = rerr // redelivered: the rows without an outcome are applied again
	}
	switch {
	case errors.Is(err, errHalted), errors.Is(err, errCancelled):
		return nil
	case errors.Is(err, errUnavailable):
		reason := fmt.Sprintf("%s answered no request lately (the circuit breaker is open); the batch goes on by itself when it answers again", redactedURL(w.api.BaseURL()))
		if serr := w.store.SetWaiting(context.WithoutCancel(ctx), p.BatchID, reason); serr != nil {
			w.log.Warn("cannot mark batch waiting", "batch", p.BatchID, "err", serr)
		}
		return fmt.Errorf("chunk %d of batch %s: %w", p.Chunk, p.BatchID, err)
	case err != nil:
		return fmt.Errorf("chunk %d of batch %s: %w", p.Chunk, p.BatchID, err)
	}
	return nil
}

// record hands a chunk's outcomes to the recorder, for the chunk to wait
// on with recs. The API calls behind them are over, so they are stored even
// when shutdown has begun: a redelivery must not repeat them. An outcome
// that says the credentials were refused (401, 403) halts the batch, once
// the chunk's outcomes are stored: no further request could succeed. Once
// a store call for the chunk has failed, record returns its error: the
// chunk will be redelivered anyway.
func (w *Worker) record(ctx context.Context, p *jobs.ChunkPayload, recs *chunkRecords, outs []jobs.Outcome) error {
	w.rec.add(recs, p.BatchID, outs)
	w.observeRows(p.Kind, outs)
	for _, out := range outs {
		if !halts(out.ErrorCode) {
			continue
		}
		reason := haltReason(p.Kind, out)
		w.log.Error("batch halted", "batch", p.BatchID, "reason", reason)
		// The outcome is stored first, so that whoever sees the batch
		// halted finds why in its ledger. A store error is ProcessTask's.
		_ = recs.wait()
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		if err := w.store.Halt(hctx, p.BatchID, reason); err != nil {
			return err
		}
		return errHalted
	}
	return recs.failed()
}

// redactedURL is s with its password, if any, masked.
func redactedURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the API"
	}
	return u.Redacted()
}

// haltReason says why out halted its batch, and what to fix.
func haltReason(kind string, out jobs.Outcome) string {
	switch {
	case kind == uipathKind && out.ErrorCode == jobs.CodeUnauthorized:
		return fmt.Sprintf("UiPath refused the credentials (HTTP %d) at line %d: check UIPATH_CLIENT_ID and UIPATH_CLIENT_SECRET, or UIPATH_USERNAME, UIPATH_PASSWORD and UIPATH_TENANT", out.HTTPStatus, out.Line)
	case kind == uipathKind:
		return fmt.Sprintf("UiPath answered %d at line %d: the external application needs the PM.License.Write scope", out.HTTPStatus, out.Line)
	case out.ErrorCode == jobs.CodeUnauthorized:
		return fmt.Sprintf("the API answered %d at line %d: the API token is wrong or missing (BULKSYNC_API_TOKEN), or the API wants another Authorization scheme (BULKSYNC_API_AUTH_SCHEME)", out.HTTPStatus, out.Line)
	case out.ErrorCode == jobs.CodeLookupUnsupported:
		return fmt.Sprintf("the API's license list ignored the external_id filter at line %d, so bulksync cannot tell whether a license is absent; to create nothing twice, it sends no more rows of this batch", out.Line)
	}
	return fmt.Sprintf("the API answered %d at line %d: the API token is not allowed to do this; license writes need a Data Manager admin's key", out.HTTPStatus, out.Line)
}

// handleTaskError records the rows of a chunk that asynq gave up on, so
// that every row of the batch ends with an outcome.
func (w *Worker) handleTaskError(ctx context.Context, t *asynq.Task, err error) {
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if errors.Is(err, errUnavailable) {
		w.log.Info("API unavailable; chunk handed back to the queue", "type", t.Type(), "err", err)
		return
	}
	if retried < maxRetry && !errors.Is(err, asynq.SkipRetry) {
		w.log.Warn("chunk will be retried", "type", t.Type(), "retried", retried, "err", err)
		return
	}
	p, derr := jobs.DecodeChunk(t)
	if derr != nil {
		w.log.Error("dropping unreadable task", "type", t.Type(), "err", derr)
		return
	}
	msg := "the chunk failed " + strconv.Itoa(retried+1) + " times: " + err.Error()
	if rerr := w.recordChunkFailed(ctx, p, msg); rerr != nil {
		w.log.Error("cannot record failed chunk", "batch", p.BatchID, "chunk", p.Chunk, "err", rerr)
	}
}

// recordChunkFailed gives the rows of a chunk that asynq gave up on, and
// that have no outcome yet, the outcome task_failed.
func (w *Worker) recordChunkFailed(ctx context.Context, p jobs.ChunkPayload, msg string) error {
	outs := make([]jobs.Outcome, len(p.Rows))
	for i, r := range p.Rows {
		outs[i] = jobs.Outcome{
			Row: r.Row, Line: r.Line, ExternalID: r.Key, TransactionID: w.sentTransactionID(p.Kind, r),
			Action: jobs.ActionSkipped, Status: jobs.StatusFailed, ErrorCode: jobs.CodeTaskFailed, Message: msg,
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	_, err := w.store.Record(rctx, p.BatchID, outs...)
	return err
}

// asynqLogger sends asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
