package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// errImmutable is a license that exists with a program it cannot change.
type errImmutable struct{ field, have, want string }

func (e *errImmutable) Error() string {
	return fmt.Sprintf("the license exists with %s %q, which cannot be changed to %q", e.field, e.have, e.want)
}

// licenseApplier upserts license rows keyed on external_id: look the
// license up; create it when absent; update only the fields that differ;
// else report unchanged. Every attempt starts with the look-up, so a create
// or update whose answer was lost is found on the next attempt instead of
// being sent again, and a create that lost a race falls back to the update.
func (w *Worker) licenseApplier(kind dmapi.LicenseKind) applyFunc {
	return func(ctx context.Context, p *chunkInfo, row jobs.ChunkRow) (jobs.Outcome, bool) {
		out := jobs.Outcome{Row: row.Row, Line: row.Line, ExternalID: row.Key, TransactionID: row.TransactionID}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(row.Data, &want); err != nil {
			out.Status, out.Action, out.ErrorCode = jobs.StatusFailed, jobs.ActionSkipped, "invalid_payload"
			out.Message = err.Error()
			return out, true
		}
		platform := jsonString(want["platform_key"])
		var sentCreate, sentUpdate bool
		attempt := 0
		attempts, err := w.retry(ctx, func() error {
			attempt++
			var cur *dmapi.License
			var err error
			if snap := w.index.get(ctx, w, snapshotKey{p.BatchID, platform, kind}, p.total); snap != nil && attempt == 1 {
				cur = snap.byID[row.Key]
			} else if cur, err = w.api.FindLicense(ctx, kind, platform, row.Key); err != nil {
				return err
			}
			if cur == nil {
				if p.DryRun {
					out.Action = jobs.ActionCreate
					return nil
				}
				_, err := w.api.CreateLicense(ctx, kind, createBody(want, row.TransactionID))
				// A create that failed transiently may have taken effect.
				sentCreate = sentCreate || err == nil || dmapi.ClassOf(err) == dmapi.Retryable
				if err == nil {
					out.Action = jobs.ActionCreated
					return nil
				}
				if dmapi.StatusOf(err) != 400 {
					return err // a 500 or a lost answer: the next attempt looks up first
				}
				// Rejected: perhaps another writer created it meanwhile.
				var ferr error
				if cur, ferr = w.api.FindLicense(ctx, kind, platform, row.Key); ferr != nil {
					return ferr
				}
				if cur == nil {
					return err
				}
			}
			changed, err := licenseDiff(want, cur)
			if err != nil {
				return err
			}
			switch {
			case len(changed) == 0:
				out.Action = jobs.ActionUnchanged
				if sentCreate {
					out.Action = jobs.ActionCreated // our earlier create took effect
				} else if sentUpdate {
					out.Action = jobs.ActionUpdated
				}
				return nil
			case p.DryRun:
				out.Action = jobs.ActionUpdate
				out.Message = "would update " + strings.Join(changed, ", ")
				return nil
			}
			if _, err := w.api.UpdateLicense(ctx, kind, updateBody(want, changed, row)); err != nil {
				sentUpdate = sentUpdate || dmapi.ClassOf(err) == dmapi.Retryable
				if dmapi.StatusOf(err) == 404 {
					// Deleted since the look-up: look again on the next attempt.
					return &dmapi.Error{Op: "update license", Err: errors.New("the license vanished between look-up and update")}
				}
				return err
			}
			out.Action = jobs.ActionUpdated
			out.Message = "updated " + strings.Join(changed, ", ")
			return nil
		})
		out.Attempts = attempts
		if err != nil {
			if ctx.Err() != nil {
				return out, false
			}
			var imm *errImmutable
			if errors.As(err, &imm) {
				out.Status, out.Action, out.ErrorCode, out.Message = jobs.StatusFailed, jobs.ActionSkipped, codeImmutablePref+imm.field, imm.Error()
				return out, true
			}
			return failure(out, err), true
		}
		out.Status = jobs.StatusOK
		return out, true
	}
}

// createBody is the row plus its transaction id.
func createBody(want map[string]json.RawMessage, txID string) map[string]any {
	body := make(map[string]any, len(want)+1)
	for k, v := range want {
		body[k] = v
	}
	body["transaction_id"] = txID
	return body
}

// updateBody names the license by external_id and carries only the fields
// that changed.
func updateBody(want map[string]json.RawMessage, changed []string, row jobs.ChunkRow) map[string]any {
	body := map[string]any{"external_id": row.Key, "transaction_id": row.TransactionID}
	if pk, ok := want["platform_key"]; ok {
		body["platform_key"] = pk
	}
	for _, f := range changed {
		body[f] = want[f]
	}
	return body
}

// licenseDiff returns the updatable fields whose wanted value differs from
// the license's, in a stable order. A field the API did not return cannot
// be compared and is left alone.
func licenseDiff(want map[string]json.RawMessage, cur *dmapi.License) ([]string, error) {
	if raw, ok := want["program_key"]; ok && cur.ProgramKey != "" {
		if pk := jsonString(raw); pk != cur.ProgramKey {
			return nil, &errImmutable{field: "program_key", have: cur.ProgramKey, want: pk}
		}
	}
	var changed []string
	for _, f := range []string{"name", "count", "started", "expired", "active", "metadata", "enrollment_config", "source"} {
		raw, ok := want[f]
		if !ok {
			continue
		}
		if differs(f, raw, cur) {
			changed = append(changed, f)
		}
	}
	return changed, nil
}

func differs(field string, raw json.RawMessage, cur *dmapi.License) bool {
	switch field {
	case "name":
		return cur.Name != nil && *cur.Name != jsonString(raw)
	case "source":
		return cur.Source != nil && *cur.Source != jsonString(raw)
	case "count":
		var n int64
		return cur.Count != nil && (json.Unmarshal(raw, &n) != nil || n != *cur.Count)
	case "active":
		var b bool
		return cur.Active != nil && (json.Unmarshal(raw, &b) != nil || b != *cur.Active)
	case "started":
		return !sameTime(raw, cur.Started)
	case "expired":
		return !sameTime(raw, cur.Expired)
	case "metadata":
		return cur.Metadata != nil && !sameJSON(raw, cur.Metadata)
	case "enrollment_config":
		return cur.EnrollmentConfig != nil && !sameJSON(raw, cur.EnrollmentConfig)
	}
	return false
}

func jsonString(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func sameTime(raw json.RawMessage, have *time.Time) bool {
	t, err := time.Parse(time.RFC3339Nano, jsonString(raw))
	return err == nil && have != nil && t.Equal(*have)
}

func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
