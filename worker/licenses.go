package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// errImmutable is a license that exists with a program it cannot change.
type errImmutable struct{ field, have, want string }

func (e *errImmutable) Error() string {
	return fmt.Sprintf("the license exists with %s %q, which cannot be changed to %q", e.field, e.have, e.want)
}

// licenseFields are the license fields a row may change, in the order
// messages name them.
var licenseFields = []string{"name", "count", "started", "expired", "active", "metadata", "enrollment_config", "source"}

// licenseApplier upserts license rows keyed on external_id (see upsert).
// The license detail does not hold enrollment_config: its value is
// compared with the fingerprint of the one last applied. A row's first
// look-up reads the batch's snapshot of the platform's licenses when
// there is one.
func (w *Worker) licenseApplier(kind dmapi.LicenseKind) applyFunc {
	return func(ctx context.Context, p *chunkInfo, row jobs.ChunkRow) (jobs.Outcome, error) {
		out := newOutcome(row)
		out.TransactionID = row.TransactionID
		var want map[string]json.RawMessage
		if err := json.Unmarshal(row.Data, &want); err != nil {
			return invalidPayload(out, err), nil
		}
		platform := jsonString(want["platform_key"])
		looked := false
		u := &upsert[dmapi.License]{
			what: "license",
			find: func(ctx context.Context) (*dmapi.License, error) {
				if !looked {
					looked = true
					if snap := w.licenseSnapshot(ctx, licenseSnapshotKey{p.run, platform, kind}, p.total); snap != nil {
						return snap.byID[row.Key], nil
					}
				}
				return w.api.FindLicense(ctx, kind, platform, row.Key)
			},
			diff: func(cur *dmapi.License, state func() (*applied.Record, error)) (fieldDiff, error) {
				return licenseDiff(want, cur, state)
			},
			create: func(ctx context.Context) error {
				_, err := w.api.CreateLicense(ctx, kind, createBody(want, row.TransactionID))
				return err
			},
			update: func(ctx context.Context, _ *dmapi.License, changed fieldDiff) error {
				_, err := w.api.UpdateLicense(ctx, kind, updateBody(kind, want, changed, row))
				return err
			},
			sent: func(cur *dmapi.License, changed fieldDiff) map[string]string {
				if cur == nil {
					return licenseCreateFingerprints(want)
				}
				fps := map[string]string{}
				for _, f := range changed {
					if !licenseEchoes(cur, f) {
						fps[f] = applied.Fingerprint(want[f])
					}
				}
				return fps
			},
		}
		attempts, err := u.run(ctx, w, w.target(p, row), p.DryRun, &out)
		return finish(ctx, out, attempts, err)
	}
}

// licenseCreateFingerprints are the fingerprints of what a license's
// create sends that the API does not echo.
func licenseCreateFingerprints(want map[string]json.RawMessage) map[string]string {
	fps := map[string]string{}
	if raw, ok := want["enrollment_config"]; ok {
		fps["enrollment_config"] = applied.Fingerprint(raw)
	}
	return fps
}

// licenseChunks applies a chunk of license rows one by one, after writing
// in one round trip the write intents of the rows that the platform's
// snapshot shows absent (those the rows would each write before their
// create).
func (w *Worker) licenseChunks(kind dmapi.LicenseKind) chunkFunc {
	apply := perRow(w.licenseApplier(kind))
	return func(ctx context.Context, c *chunkInfo, rows []jobs.ChunkRow, record recordFunc) error {
		if !c.DryRun {
			c.intents = w.chunkIntents(ctx, c, kind, rows)
		}
		return apply(ctx, c, rows, record)
	}
}

// chunkIntents writes the intents of the rows of a chunk whose license the
// snapshot lacks, and returns them by key; nil when there is no snapshot,
// no such row, or the write failed (each row then writes its own).
func (w *Worker) chunkIntents(ctx context.Context, c *chunkInfo, kind dmapi.LicenseKind, rows []jobs.ChunkRow) map[string]*swapped {
	recs := map[string]applied.Record{}
	for _, row := range rows {
		var want map[string]json.RawMessage
		if json.Unmarshal(row.Data, &want) != nil {
			continue
		}
		snap := w.licenseSnapshot(ctx, licenseSnapshotKey{c.run, jsonString(want["platform_key"]), kind}, c.total)
		if snap == nil || snap.byID[row.Key] != nil {
			continue
		}
		rec := applied.Record{Intent: w.target(c, row).intent}
		if fps := licenseCreateFingerprints(want); len(fps) > 0 {
			rec.Fields = fps
		}
		recs[row.Key] = rec
	}
	if len(recs) == 0 {
		return nil
	}
	olds, err := w.applied.SwapMany(ctx, c.ns, recs)
	if err != nil {
		return nil
	}
	written := make(map[string]*swapped, len(recs))
	for key := range recs {
		old, had := olds[key]
		written[key] = &swapped{old: old, had: had}
	}
	return written
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
// that changed. A program license update has no platform fields; a user
// license update takes platform_key (not updatable) to find the license.
func updateBody(kind dmapi.LicenseKind, want map[string]json.RawMessage, changed []string, row jobs.ChunkRow) map[string]any {
	body := map[string]any{"external_id": row.Key, "transaction_id": row.TransactionID}
	if pk, ok := want["platform_key"]; ok && kind == dmapi.UserLicense {
		body["platform_key"] = pk
	}
	for _, f := range changed {
		body[f] = want[f]
	}
	return body
}

// licenseDiff returns the updatable fields whose wanted value differs from
// the license's, in a stable order. A field the answer does not hold is
// compared with what was last applied (st).
func licenseDiff(want map[string]json.RawMessage, cur *dmapi.License, state func() (*applied.Record, error)) (fieldDiff, error) {
	if raw, ok := want["program_key"]; ok && cur.ProgramKey != "" {
		if pk := jsonString(raw); pk != cur.ProgramKey {
			return nil, &errImmutable{field: "program_key", have: cur.ProgramKey, want: pk}
		}
	}
	var changed fieldDiff
	for _, f := range licenseFields {
		raw, ok := want[f]
		if !ok {
			continue
		}
		if licenseEchoes(cur, f) {
			if differs(f, raw, cur) {
				changed = append(changed, f)
			}
			continue
		}
		unsent, err := notEchoed(state, f, raw, nil)
		if err != nil {
			return nil, err
		}
		if unsent {
			changed = append(changed, f)
		}
	}
	return changed, nil
}

// licenseEchoes reports whether the license answer holds field.
func licenseEchoes(cur *dmapi.License, field string) bool {
	switch field {
	case "name":
		return cur.Name != nil
	case "source":
		return cur.Source != nil
	case "count":
		return cur.Count != nil
	case "active":
		return cur.Active != nil
	case "started":
		return cur.Started != nil
	case "expired":
		return true // null when the license does not expire
	case "metadata":
		return cur.Metadata != nil
	case "enrollment_config":
		return cur.EnrollmentConfig != nil
	}
	return false
}

// differs compares a field the answer holds.
func differs(field string, raw json.RawMessage, cur *dmapi.License) bool {
	switch field {
	case "name":
		return *cur.Name != jsonString(raw)
	case "source":
		return *cur.Source != jsonString(raw)
	case "count":
		var n int64
		return json.Unmarshal(raw, &n) != nil || n != *cur.Count
	case "active":
		var b bool
		return json.Unmarshal(raw, &b) != nil || b != *cur.Active
	case "started":
		return !sameTime(raw, cur.Started)
	case "expired":
		return !sameTime(raw, cur.Expired)
	case "metadata":
		return !sameJSON(raw, cur.Metadata)
	case "enrollment_config":
		return !sameJSON(raw, cur.EnrollmentConfig)
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
