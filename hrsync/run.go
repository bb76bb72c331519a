package hrsync

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/jobs"
	"github.com/hibiken/asynq"
)

// RefusedError is a run that sent nothing because its plan was refused:
// over a safety limit, an empty source, or (apply) a plan made on another
// source or snapshot.
type RefusedError struct {
	Sync   string
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("sync %s refused, nothing sent: %s", e.Sync, e.Reason)
}

// Runner runs plans: it sends their changes as one batch and advances the
// snapshot with the changes that succeeded.
type Runner struct {
	Planner
	// Store and Queue are the batches' store and the asynq client that
	// enqueues their chunks.
	Store *jobs.Store
	Queue *asynq.Client
	// QueueName is the asynq queue of the chunks. Defaults to "bulksync".
	QueueName string
	// Progress, when set, gets the batch's progress lines.
	Progress io.Writer
	// PollEvery is how often a batch is polled. Defaults to 200ms.
	PollEvery time.Duration
}

// RunOptions are the options of one run.
type RunOptions struct {
	Force     bool // run a plan refused by a safety limit (not an empty source)
	Reconcile bool // look every key up in the API rather than trust the snapshot
}

// Result is what a run did; it is also the run's history entry.
type Result struct {
	ID       string    `json:"id"` // the run's id: its start time
	Sync     string    `json:"sync"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Source   string    `json:"source,omitempty"`
	Counts   Counts    `json:"counts"`
	Forced   bool      `json:"forced,omitempty"`
	Refused  string    `json:"refused,omitempty"`
	Error    string    `json:"error,omitempty"`
	BatchID  string    `json:"batch_id,omitempty"`
	// Succeeded and Failed count the batch's rows; a failed row's key
	// stays as it was in the snapshot and is planned again next run.
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Failures say why the batch's first failed rows failed: the key,
	// its error code and the API's message.
	Failures []string `json:"failures,omitempty"`
	// Problems are the first invalid source rows.
	Problems []Problem `json:"problems,omitempty"`
}

// Run plans the sync and runs the plan, recording the run in the sync's
// history. A refused plan comes back as a *RefusedError.
func (r *Runner) Run(ctx context.Context, s *Sync, opts RunOptions) (Result, error) {
	start := r.now()
	plan, err := r.Plan(ctx, s, opts.Reconcile)
	if err != nil {
		res := Result{ID: runID(start), Sync: s.Name, Started: start, Finished: r.now(), Error: err.Error()}
		r.record(ctx, s, res)
		return res, err
	}
	defer plan.Close()
	return r.Apply(ctx, s, plan, opts.Force)
}

// Apply runs a plan: refused, it records the refusal and returns a
// *RefusedError (unless force overrides a limit); otherwise it sends the
// plan's changes as one batch, waits for it, and advances the snapshot
// with every change that succeeded, the missing counts included.
func (r *Runner) Apply(ctx context.Context, s *Sync, plan *Plan, force bool) (Result, error) {
	res := Result{ID: runID(r.now()), Sync: s.Name, Started: r.now(), Source: plan.Source, Counts: plan.Counts, Problems: plan.Problems}
	if plan.Refused != "" && !(force && plan.Forcible) {
		res.Refused, res.Finished = plan.Refused, r.now()
		r.record(ctx, s, res)
		return res, &RefusedError{Sync: s.Name, Reason: plan.Refused}
	}
	res.Forced = plan.Refused != ""
	err := r.send(ctx, s, plan, &res)
	res.Finished = r.now()
	if err != nil {
		res.Error = err.Error()
	}
	r.record(context.WithoutCancel(ctx), s, res)
	return res, err
}

// send enqueues the plan's rows as a batch, waits for it, and advances
// the snapshot.
func (r *Runner) send(ctx context.Context, s *Sync, plan *Plan, res *Result) error {
	schema, err := importers.Lookup(s.Kind)
	if err != nil {
		return err
	}
	// The batch's file: one row a change that sends one, in plan order, so
	// that the batch's row n is the plan's nth sending change.
	f, err := os.CreateTemp("", "bulksync-sync-*.ndjson")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	bw := bufio.NewWriter(f)
	rows := 0
	err = plan.EachChange(func(c Change) error {
		if !sends(c.Action) {
			return nil
		}
		rows++
		_, _ = bw.Write(c.Row)
		return bw.WriteByte('\n')
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("write the batch of sync %s: %w", s.Name, err)
	}

	// ok[n] tells whether the batch's row n succeeded.
	var ok []bool
	if rows > 0 {
		open := func() (io.ReadCloser, error) { return os.Open(f.Name()) }
		imp, err := ingest.Import(ctx, open, r.Store, r.Queue, ingest.Options{
			Reader:   importers.Options{Kind: s.Kind, Format: importers.FormatJSON},
			NewBatch: true, Source: "sync " + s.Name, Queue: cmp.Or(r.QueueName, "bulksync"),
		})
		if err != nil {
			return fmt.Errorf("enqueue the batch of sync %s: %w", s.Name, err)
		}
		res.BatchID = imp.Meta.ID
		var progress func(jobs.Meta)
		if r.Progress != nil {
			progress = ingest.NewProgress(r.Progress, time.Now()).Update
		}
		if _, err := ingest.Wait(ctx, r.Store, imp.Meta.ID, cmp.Or(r.PollEvery, 200*time.Millisecond), progress); err != nil {
			return fmt.Errorf("wait for batch %s: %w", imp.Meta.ID, err)
		}
		ok = make([]bool, rows+1)
		err = r.Store.Ledger(context.WithoutCancel(ctx), imp.Meta.ID, func(o jobs.Outcome) error {
			if o.Row <= rows {
				ok[o.Row] = o.OK()
			}
			if o.OK() {
				res.Succeeded++
				return nil
			}
			res.Failed++
			if len(res.Failures) < maxFailures {
				res.Failures = append(res.Failures, failure(o))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return r.advance(context.WithoutCancel(ctx), s, schema, plan, ok)
}

// maxFailures is how many failed rows a run's result describes.
const maxFailures = 20

// failure describes a failed (or unprocessed) row of a run's batch.
func failure(o jobs.Outcome) string {
	code := cmp.Or(o.ErrorCode, o.Status)
	if o.Message == "" {
		return o.ExternalID + ": " + code
	}
	return o.ExternalID + ": " + code + ": " + o.Message
}

// snapshotBatch is how many snapshot writes go in one transaction.
const snapshotBatch = 1000

// advance writes the run's outcome to the snapshot: a create, update or
// reconcile that succeeded stores the row's record and value, a
// deactivation that succeeded forgets the key, a missing key's count grows
// and a returned key's resets. A change that failed leaves its key as it
// was.
//
// The records are written before the values, and a key's value is
// forgotten before its record: a plan reads the values, so a run cut
// short between the two leaves at worst a record no value names, which
// the key's next create overwrites.
func (r *Runner) advance(ctx context.Context, s *Sync, schema *importers.Schema, plan *Plan, ok []bool) error {
	ns, vns := r.namespace(s), r.namespace(s)+valuesSuffix
	var records, values, forget []applied.Write
	flush := func() error {
		for _, b := range []struct {
			ns     string
			writes *[]applied.Write
		}{{ns, &records}, {vns, &values}, {ns, &forget}} {
			if len(*b.writes) == 0 {
				continue
			}
			if err := r.Snapshots.Apply(ctx, b.ns, *b.writes); err != nil {
				return err
			}
			*b.writes = (*b.writes)[:0]
		}
		return nil
	}
	n := 0
	err := plan.EachChange(func(c Change) error {
		switch c.Action {
		case ActionCreate, ActionUpdate, ActionReconcile:
			n++
			if !ok[n] {
				return nil
			}
			rec, err := newRecord(schema, c.Row)
			if err != nil {
				return err
			}
			records = append(records, applied.Write{Key: c.Key, Record: &rec})
			values = append(values, applied.Write{Key: c.Key, Value: encodeValue(fingerprint(c.Row), 0)})
		case ActionDeactivate:
			n++
			if ok[n] {
				values = append(values, applied.Write{Key: c.Key})
				forget = append(forget, applied.Write{Key: c.Key})
			}
		case ActionMissing, ActionReturned:
			missing := 0
			if c.Action == ActionMissing {
				missing = c.Missing
			}
			values = append(values, applied.Write{Key: c.Key, Value: encodeValue(c.FP, missing)})
		}
		if len(values) >= snapshotBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("advance the snapshot of %s: %w", s.Name, err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("advance the snapshot of %s: %w", s.Name, err)
	}
	return nil
}

// runID names a run by its start time; ids sort in time order.
func runID(t time.Time) string { return t.UTC().Format("20060102T150405.000000000Z") }

// record adds a run to the sync's history. A history that cannot be
// written does not fail the run, whose outcome is in the snapshot.
func (r *Runner) record(ctx context.Context, s *Sync, res Result) {
	b, err := json.Marshal(res)
	if err != nil {
		return
	}
	_ = r.Snapshots.Put(ctx, s.historyNamespace(), res.ID, applied.Record{Fields: map[string]string{"result": string(b)}})
}

// History returns the sync's past runs, oldest first.
func (p *Planner) History(ctx context.Context, s *Sync) ([]Result, error) {
	var runs []Result
	err := p.Snapshots.Scan(ctx, s.historyNamespace(), func(_ string, rec applied.Record) error {
		var res Result
		if err := json.Unmarshal([]byte(rec.Fields["result"]), &res); err != nil {
			return err
		}
		runs = append(runs, res)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", s.Name, err)
	}
	sortRuns(runs)
	return runs, nil
}

// IsRefused reports whether err is a refused run.
func IsRefused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}

func sortRuns(runs []Result) {
	slices.SortFunc(runs, func(a, b Result) int { return strings.Compare(a.ID, b.ID) })
}
