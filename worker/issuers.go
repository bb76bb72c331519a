package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// actionUpdate is the issuers' update action; create and delete are shared
// with group suggestions.
const actionUpdate = "update"

// issuerRow is a row of the issuers kind. The optional fields are pointers
// so that a field the row leaves out is neither sent nor compared.
type issuerRow struct {
	Action              string    `json:"action"`
	Org                 string    `json:"org"`
	UserID              string    `json:"user_id"`
	EntityID            string    `json:"entityId"`
	IconImage           string    `json:"iconImage"`
	Name                *string   `json:"name"`
	Email               *string   `json:"email"`
	URL                 *string   `json:"url"`
	AllowedTemplateTags *[]string `json:"allowed_template_tags"`
}

// issuerUnechoed are the issuer fields bulksync sends whose value the
// answer does not tell: email is not in the Issuer schema, and name and
// url are read-only there (the answer holds the server's values).
var issuerUnechoed = []string{"name", "email", "url"}

// unechoed returns the row's values of issuerUnechoed, those it gives.
func (d *issuerRow) unechoed() map[string]string {
	vals := map[string]string{}
	for name, v := range map[string]*string{"name": d.Name, "email": d.Email, "url": d.URL} {
		if v != nil {
			vals[name] = *v
		}
	}
	return vals
}

// createBody is the schema's required fields plus the row's optional ones.
func (d *issuerRow) createBody() map[string]any {
	body := map[string]any{"entityId": d.EntityID, "iconImage": d.IconImage}
	for name, v := range d.unechoed() {
		body[name] = v
	}
	if d.AllowedTemplateTags != nil {
		body["allowed_template_tags"] = *d.AllowedTemplateTags
	}
	return body
}

// updateBody is the schema's required fields plus the changed ones.
func (d *issuerRow) updateBody(changed fieldDiff) map[string]any {
	all := d.createBody()
	body := map[string]any{"entityId": d.EntityID, "iconImage": d.IconImage}
	for _, f := range changed {
		body[f] = all[f]
	}
	return body
}

func (d *issuerRow) diff(cur *dmapi.Issuer, state func() (*applied.Record, error)) (fieldDiff, error) {
	var f fieldDiff
	f.str("iconImage", &d.IconImage, cur.IconImage)
	vals := d.unechoed()
	for _, name := range issuerUnechoed {
		v, ok := vals[name]
		if !ok {
			continue
		}
		unsent, err := notEchoed(state, name, jsonValue(v), nil)
		if err != nil {
			return nil, err
		}
		if unsent {
			f = append(f, name)
		}
	}
	if d.AllowedTemplateTags != nil && !slices.Equal(*d.AllowedTemplateTags, cur.AllowedTemplateTags) {
		f = append(f, "allowed_template_tags")
	}
	return f, nil
}

// sent returns the fingerprints of the unechoed fields a write sent: all
// the row gives on a create (changed nil), else the changed ones.
func (d *issuerRow) sent(changed fieldDiff) map[string]string {
	fps := map[string]string{}
	for name, v := range d.unechoed() {
		if changed == nil || slices.Contains(changed, name) {
			fps[name] = applied.Fingerprint(jsonValue(v))
		}
	}
	return fps
}

// jsonValue is v as JSON.
func jsonValue(v string) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// applyIssuer applies an issuers row, keyed on org and entityId (see
// upsert). create: absent, create the issuer; present, update the fields
// that differ. update: the same on an issuer that must exist (else
// not_found). delete: delete it; one already gone is unchanged.
func (w *Worker) applyIssuer(ctx context.Context, c *chunkInfo, row jobs.ChunkRow) (jobs.Outcome, error) {
	var d issuerRow
	out, ok := decodeRow(row, &d)
	if !ok {
		return out, nil
	}
	find := func(ctx context.Context) (*dmapi.Issuer, error) {
		return w.api.GetIssuer(ctx, d.Org, d.UserID, d.EntityID)
	}
	switch d.Action {
	case actionCreate, actionUpdate:
		u := &upsert[dmapi.Issuer]{
			what: fmt.Sprintf("issuer %q of org %q", d.EntityID, d.Org),
			find: find,
			diff: d.diff,
			create: func(ctx context.Context) error {
				_, err := w.api.CreateIssuer(ctx, d.Org, d.UserID, d.createBody())
				return err
			},
			update: func(ctx context.Context, _ *dmapi.Issuer, changed fieldDiff) error {
				_, err := w.api.UpdateIssuer(ctx, d.Org, d.UserID, d.EntityID, d.updateBody(changed))
				return err
			},
			sent: func(_ *dmapi.Issuer, changed fieldDiff) map[string]string { return d.sent(changed) },
		}
		if d.Action == actionUpdate {
			u.create = nil
		}
		attempts, err := u.run(ctx, w, w.target(c, row), c.DryRun, &out)
		return finish(ctx, out, attempts, err)
	case actionDelete:
		var lost string
		rm := remover[dmapi.Issuer]{
			what: "issuer", find: find, findByID: find,
			idOf: func(*dmapi.Issuer) int64 { return 1 },
			del:  func(ctx context.Context, _ int64) error { return w.api.DeleteIssuer(ctx, d.Org, d.UserID, d.EntityID) },
		}
		attempts, err := w.retry(ctx, func() error {
			if c.DryRun {
				return rm.attempt(ctx, &out, &lost, true, 0)
			}
			return deleteOutcome(&out, &lost, rm.del(ctx, 0), "issuer")
		})
		return finish(ctx, out, attempts, err)
	}
	return finish(ctx, out, 0, fmt.Errorf("unknown action %q (want %s, %s or %s)", d.Action, actionCreate, actionUpdate, actionDelete))
}
