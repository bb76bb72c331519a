package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// upsert is the look-before-write rule every kind with a look-up follows.
// Each attempt looks the row's record up (the look-up retried on its own
// transient failures); absent, it is created; present, the fields that
// differ are updated; else the row is unchanged. A write whose answer was
// lost is found by the next attempt's look-up instead of being sent again,
// and reported as what it did. Before a create, the row (its batch and
// number) is stored as the target's write intent, so that a create that
// took effect in a delivery killed before its outcome was stored is
// reported created, not unchanged, when the chunk comes back; a create
// refused because another writer made the record withdraws it.
type upsert[T any] struct {
	// find looks the row's record up; nil when absent.
	find func(ctx context.Context) (*T, error)
	// diff names the fields the row would change. For fields the record
	// does not hold it consults the applied state, which state reads.
	diff func(cur *T, state func() (*applied.Record, error)) (fieldDiff, error)
	// create creates the record; nil when the row may only update one
	// that exists (absent, the row fails with not_found).
	create func(ctx context.Context) error
	// update writes the changed fields to cur.
	update func(ctx context.Context, cur *T, changed fieldDiff) error
	// sent returns the fingerprints of the fields a write sent that the
	// API does not echo, to remember: the create's when cur is nil, else
	// the update's of changed. Nil when the kind sends none.
	sent func(cur *T, changed fieldDiff) map[string]string
	// what names the record in messages ("issuer").
	what string
}

// target is a row's record in the applied-state store.
type target struct {
	store   applied.Store
	ns, key string
	intent  string // names the row in its batch: its write intent
	// redelivered: the chunk was delivered before, so a record the row
	// finds may be its own create (its intent says).
	redelivered bool
	// written, when not nil, is the row's intent already written with its
	// chunk's, and the record it replaced.
	written *swapped
}

// swapped is an applied-state record replaced by a write intent.
type swapped struct {
	old applied.Record
	had bool
}

// target returns a row's place in the applied-state store. The intent is
// the batch and the row, not the row's transaction id: a row's own
// transaction id may be the same in every batch that imports it.
func (w *Worker) target(c *chunkInfo, row jobs.ChunkRow) target {
	return target{
		store: w.applied, ns: c.ns, key: row.Key,
		intent: c.run + "/" + strconv.Itoa(row.Row), redelivered: c.redelivered,
		written: c.intents[row.Key],
	}
}

// run applies the row in attempts until it has an outcome.
func (u *upsert[T]) run(ctx context.Context, w *Worker, tg target, dryRun bool, out *jobs.Outcome) (int, error) {
	var lost string // what an earlier attempt's write whose answer was lost did
	return w.retry(ctx, func() error {
		cur, err := lookup(ctx, w, u.find)
		if err != nil {
			return err
		}
		if cur == nil {
			switch {
			case u.create == nil:
				return &notFoundError{what: u.what}
			case dryRun:
				out.Action = jobs.ActionCreate
				return nil
			}
			// The intent, with the fingerprints of what the create sends,
			// is stored before it is sent: a create that takes effect is
			// then known as this row's, with what it applied, whatever
			// becomes of its answer.
			if tg.written == nil {
				old, had, err := tg.swap(ctx, w, applied.Record{Intent: tg.intent, Fields: u.fingerprints(nil, nil)})
				if err != nil {
					return err
				}
				tg.written = &swapped{old: old, had: had}
			}
			err := u.create(ctx)
			if err == nil {
				out.Action = jobs.ActionCreated
				return nil
			}
			if dmapi.ClassOf(err) == dmapi.Retryable {
				lost = jobs.ActionCreated
			}
			if dmapi.StatusOf(err) != 400 {
				return err // a 500 or a lost answer: the next attempt looks up first
			}
			// Rejected: perhaps another writer created it meanwhile. Then
			// this row did not create it: the record is put back as it was.
			found, ferr := lookup(ctx, w, u.find)
			if ferr != nil {
				return ferr
			}
			if found == nil {
				return err
			}
			if err := tg.restore(ctx, w, *tg.written); err != nil {
				return err
			}
			cur = found
		}
		// The applied state is read only when needed: for fields the
		// record does not hold, and for the intent of a chunk delivered
		// before (on a first delivery, a record found was not made by it).
		var st applied.Record
		loaded := false
		state := func() (*applied.Record, error) {
			if !loaded {
				var err error
				if st, _, err = tg.get(ctx, w); err != nil {
					return nil, err
				}
				loaded = true
			}
			return &st, nil
		}
		if tg.redelivered {
			if _, err := state(); err != nil {
				return err
			}
			if st.Intent == tg.intent {
				lost = cmp.Or(lost, jobs.ActionCreated) // this row's create took effect in an earlier delivery
			}
		}
		changed, err := u.diff(cur, state)
		if err != nil {
			return err
		}
		switch {
		case len(changed) == 0:
			out.Action = cmp.Or(lost, jobs.ActionUnchanged)
			return nil
		case dryRun:
			out.Action, out.Message = jobs.ActionUpdate, changed.wouldUpdate()
			return nil
		}
		if err := u.update(ctx, cur, changed); err != nil {
			if dmapi.ClassOf(err) == dmapi.Retryable {
				lost = cmp.Or(lost, jobs.ActionUpdated)
			}
			if dmapi.StatusOf(err) == 404 && u.create != nil {
				// Deleted since the look-up: look again on the next attempt.
				return &dmapi.Error{Op: "update " + u.what, Err: fmt.Errorf("the %s vanished between look-up and update", u.what)}
			}
			return err
		}
		out.Action, out.Message = cmp.Or(lost, jobs.ActionUpdated), changed.updated()
		return u.remember(ctx, w, tg, state, cur, changed)
	})
}

// fingerprints returns what the write of changed to cur (a create when
// cur is nil) sends that the API does not echo; nil when nothing.
func (u *upsert[T]) fingerprints(cur *T, changed fieldDiff) map[string]string {
	if u.sent == nil {
		return nil
	}
	fps := u.sent(cur, changed)
	if len(fps) == 0 {
		return nil
	}
	return fps
}

// remember stores the fingerprints of what a successful update sent that
// the API does not echo, beside those of earlier writes.
func (u *upsert[T]) remember(ctx context.Context, w *Worker, tg target, state func() (*applied.Record, error), cur *T, changed fieldDiff) error {
	fps := u.fingerprints(cur, changed)
	if len(fps) == 0 {
		return nil
	}
	st, err := state()
	if err != nil {
		return err
	}
	rec := *st
	rec.Fields = maps.Clone(rec.Fields)
	if rec.Fields == nil {
		rec.Fields = map[string]string{}
	}
	maps.Copy(rec.Fields, fps)
	return tg.put(ctx, w, rec)
}

// swap replaces the target's applied state and returns the one it
// replaced.
func (tg target) swap(ctx context.Context, w *Worker, st applied.Record) (applied.Record, bool, error) {
	var old applied.Record
	var had bool
	err := w.call(ctx, func() error {
		var err error
		old, had, err = tg.store.Swap(ctx, tg.ns, tg.key, st)
		return storeError(err)
	})
	return old, had, err
}

// restore puts back the applied state an intent replaced: the old record,
// or none.
func (tg target) restore(ctx context.Context, w *Worker, sw swapped) error {
	if !sw.had {
		return w.call(ctx, func() error { return storeError(tg.store.Delete(ctx, tg.ns, tg.key)) })
	}
	return tg.put(ctx, w, sw.old)
}

// put replaces the target's applied state.
func (tg target) put(ctx context.Context, w *Worker, st applied.Record) error {
	return w.call(ctx, func() error { return storeError(tg.store.Put(ctx, tg.ns, tg.key, st)) })
}

// get reads the target's applied state.
func (tg target) get(ctx context.Context, w *Worker) (applied.Record, bool, error) {
	var st applied.Record
	var ok bool
	err := w.call(ctx, func() error {
		var err error
		st, ok, err = tg.store.Get(ctx, tg.ns, tg.key)
		return storeError(err)
	})
	return st, ok, err
}

// storeError makes an applied-state store failure (Redis down) retryable
// for the row: the write it guards must not go out unrecorded.
func storeError(err error) error {
	var apiErr *dmapi.Error
	if err == nil || errors.As(err, &apiErr) || errors.Is(err, context.Canceled) {
		return err
	}
	return &dmapi.Error{Op: "applied state", Err: err}
}

// notEchoed compares a field that the API's answer may not hold: with the
// answer's value when it holds the field (have is not nil), else with the
// fingerprint of what was last applied, else (never applied) it differs.
func notEchoed(state func() (*applied.Record, error), field string, want json.RawMessage, have json.RawMessage) (bool, error) {
	if have != nil {
		return !sameJSON(want, have), nil
	}
	st, err := state()
	if err != nil {
		return false, err
	}
	fp, ok := st.Fields[field]
	return !ok || fp != applied.Fingerprint(want), nil
}
