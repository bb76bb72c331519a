package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// newOutcome is a row's outcome before anything is known. Appliers whose
// writes carry the row's transaction id set TransactionID.
func newOutcome(row jobs.ChunkRow) jobs.Outcome {
	return jobs.Outcome{Row: row.Row, Line: row.Line, ExternalID: row.Key}
}

// decodeRow reads a row's data, a JSON object with the kind's column
// names, into v. On failure it returns the row's failed outcome.
func decodeRow(row jobs.ChunkRow, v any) (jobs.Outcome, bool) {
	out := newOutcome(row)
	if err := json.Unmarshal(row.Data, v); err != nil {
		return invalidPayload(out, err), false
	}
	return out, true
}

// invalidPayload is the outcome of a row whose data cannot be read.
func invalidPayload(out jobs.Outcome, err error) jobs.Outcome {
	out.Status, out.Action, out.ErrorCode = jobs.StatusFailed, jobs.ActionSkipped, jobs.CodeInvalidPayload
	out.Message = "read row: " + err.Error()
	return out
}

// finish completes the outcome of a row whose operation took attempts and
// ended with err. It returns an error instead when the outcome is not
// known and must not be recorded: ctx ended first (ctx's error) or the API
// became unavailable (errUnavailable).
func finish(ctx context.Context, out jobs.Outcome, attempts int, err error) (jobs.Outcome, error) {
	out.Attempts = attempts
	switch {
	case err == nil:
		out.Status = jobs.StatusOK
		return out, nil
	case ctx.Err() != nil:
		return out, ctx.Err()
	case errors.Is(err, errUnavailable):
		return out, err
	}
	return failure(out, err), nil
}

// fieldDiff collects the names of the fields a row gives with a value
// other than the record's. A field the row leaves out is not compared, nor
// is one the API did not return.
type fieldDiff []string

func (d *fieldDiff) boolean(name string, want *bool, have bool) {
	if want != nil && *want != have {
		*d = append(*d, name)
	}
}

func (d *fieldDiff) str(name string, want *string, have string) {
	if want != nil && *want != have {
		*d = append(*d, name)
	}
}

func (d *fieldDiff) object(name string, want, have json.RawMessage) {
	if want != nil && len(have) > 0 && !sameJSON(want, have) {
		*d = append(*d, name)
	}
}

func (d fieldDiff) String() string { return strings.Join(d, ", ") }

// wouldUpdate and updated are the messages of an update.
func (d fieldDiff) wouldUpdate() string { return "would update " + d.String() }
func (d fieldDiff) updated() string     { return "updated " + d.String() }

// deleteOutcome completes a DELETE's outcome: deleted, or, when the record
// is already gone (a 404), unchanged, or deleted if an earlier attempt's
// DELETE may have taken effect (its answer was lost). A transient failure
// is returned for a retry and remembered in lost.
func deleteOutcome(out *jobs.Outcome, lost *string, err error, what string) error {
	switch {
	case err == nil:
		out.Action = jobs.ActionDeleted
	case dmapi.StatusOf(err) == 404:
		out.Action, out.Message = cmp.Or(*lost, jobs.ActionUnchanged), "no such "+what
	default:
		if dmapi.ClassOf(err) == dmapi.Retryable {
			*lost = jobs.ActionDeleted
		}
		return err
	}
	return nil
}

// remover removes records that rows name by id or by natural key.
type remover[T any] struct {
	what           string                            // "assignment", for messages
	find, findByID func(context.Context) (*T, error) // the row's record, nil when absent
	idOf           func(*T) int64                    // a record's id
	del            func(ctx context.Context, id int64) error
}

// attempt is one attempt at removing the record of a row that gives its id
// (0 when it does not). Without an id, and in a dry run, the record is
// looked up (by id when there is one); a record that is not there is
// unchanged, or deleted when an earlier attempt's DELETE may have taken
// effect (lost). A dry run stops there.
func (r remover[T]) attempt(ctx context.Context, out *jobs.Outcome, lost *string, dryRun bool, id int64) error {
	if id == 0 || dryRun {
		find := r.find
		if id != 0 {
			find = r.findByID
		}
		cur, err := find(ctx)
		if err != nil {
			return err
		}
		if cur == nil {
			out.Action, out.Message = cmp.Or(*lost, jobs.ActionUnchanged), "no such "+r.what
			return nil
		}
		id = r.idOf(cur)
	}
	if dryRun {
		out.Action = jobs.ActionDelete
		return nil
	}
	return deleteOutcome(out, lost, r.del(ctx, id), r.what)
}
