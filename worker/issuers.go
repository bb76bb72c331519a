package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// actionUpdate is the issuers' update action; create and delete are shared
// with group suggestions.
const actionUpdate = "update"

// issuerListLimit is the page size of issuer name searches (the API's
// maximum).
const issuerListLimit = 1000

// issuerRow is a row of the issuers kind. The optional fields are pointers
// so that a field the row leaves out is neither sent nor compared.
type issuerRow struct {
	Action              string    `json:"action"`
	Org                 string    `json:"org"`
	UserID              string    `json:"user_id"`
	EntityID            string    `json:"entityId"`
	Name                *string   `json:"name"`
	IconImage           *string   `json:"iconImage"`
	Email               *string   `json:"email"`
	URL                 *string   `json:"url"`
	AllowedTemplateTags *[]string `json:"allowed_template_tags"`
}

// fields returns the row's writable fields with the API's names, only
// those it gives.
func (d *issuerRow) fields() map[string]any {
	body := map[string]any{}
	for name, v := range map[string]*string{"name": d.Name, "iconImage": d.IconImage, "email": d.Email, "url": d.URL} {
		if v != nil {
			body[name] = *v
		}
	}
	if d.AllowedTemplateTags != nil {
		body["allowed_template_tags"] = *d.AllowedTemplateTags
	}
	return body
}

// createBody is the row's fields plus its entityId when it has one.
func (d *issuerRow) createBody() map[string]any {
	body := d.fields()
	if d.EntityID != "" {
		body["entityId"] = d.EntityID
	}
	return body
}

// updateBody names the issuer and carries the changed fields, plus
// iconImage when the row gives it (the schema marks it required).
func (d *issuerRow) updateBody(entityID string, changed fieldDiff) map[string]any {
	all := d.fields()
	body := map[string]any{"entityId": entityID}
	for _, f := range changed {
		body[f] = all[f]
	}
	if v, ok := all["iconImage"]; ok {
		body["iconImage"] = v
	}
	return body
}

func (d *issuerRow) diff(cur *dmapi.Issuer) fieldDiff {
	var f fieldDiff
	f.str("name", d.Name, cur.Name)
	f.str("iconImage", d.IconImage, cur.IconImage)
	f.str("email", d.Email, cur.Email)
	f.str("url", d.URL, cur.URL)
	if d.AllowedTemplateTags != nil && !slices.Equal(*d.AllowedTemplateTags, cur.AllowedTemplateTags) {
		f = append(f, "allowed_template_tags")
	}
	return f
}

// issuers applies one issuers row.
type issuers struct {
	w   *Worker
	row *issuerRow
}

// find looks the row's issuer up: by entityId, or else by its exact name
// (the first match, oldest first, of a name search).
func (is *issuers) find(ctx context.Context) (*dmapi.Issuer, error) {
	d := is.row
	if d.EntityID != "" {
		return is.w.api.GetIssuer(ctx, d.Org, d.UserID, d.EntityID)
	}
	if d.Name == nil {
		return nil, errors.New("an issuer needs an entityId or a name")
	}
	for offset := 0; ; {
		p, err := is.w.api.ListIssuers(ctx, d.Org, d.UserID, dmapi.IssuerQuery{Q: *d.Name, Limit: issuerListLimit, Offset: offset})
		if err != nil {
			return nil, err
		}
		for i := range p.Data {
			if p.Data[i].Name == *d.Name {
				return &p.Data[i], nil
			}
		}
		offset += len(p.Data)
		if len(p.Data) == 0 || (p.Count > 0 && offset >= p.Count) || (p.Count == 0 && p.Next == "") {
			return nil, nil
		}
	}
}

// applyIssuer applies an issuers row, keyed on entityId (or, for a create
// without one, the exact name). create: look the issuer up; absent, create
// it; present, update the given fields that differ, if any. update: the
// same on an issuer that must exist (else not_found). delete: delete it;
// one already gone is unchanged.
func (w *Worker) applyIssuer(ctx context.Context, c *chunkInfo, row jobs.ChunkRow) (jobs.Outcome, bool) {
	var d issuerRow
	out, ok := decodeRow(row, &d)
	if !ok {
		return out, true
	}
	is := &issuers{w: w, row: &d}
	var op func() error
	switch d.Action {
	case actionCreate, actionUpdate:
		op = is.upsertOp(ctx, c.DryRun, &out)
	case actionDelete:
		op = is.deleteOp(ctx, c.DryRun, &out)
	default:
		return finish(ctx, out, 0, fmt.Errorf("unknown action %q (want %s, %s or %s)", d.Action, actionCreate, actionUpdate, actionDelete))
	}
	attempts, err := w.retry(ctx, op)
	return finish(ctx, out, attempts, err)
}

// upsertOp is one attempt of a create or update row. A create rejected
// because another writer just created the issuer falls back to the
// update.
func (is *issuers) upsertOp(ctx context.Context, dryRun bool, out *jobs.Outcome) func() error {
	d := is.row
	var lost string
	return func() error {
		cur, err := is.find(ctx)
		if err != nil {
			return err
		}
		if cur == nil {
			switch {
			case d.Action == actionUpdate:
				return &notFoundError{what: fmt.Sprintf("issuer %q of org %q", d.EntityID, d.Org), status: 404}
			case dryRun:
				out.Action = jobs.ActionCreate
				return nil
			}
			_, err := is.w.api.CreateIssuer(ctx, d.Org, d.UserID, d.createBody())
			if err == nil {
				out.Action = jobs.ActionCreated
				return nil
			}
			if dmapi.ClassOf(err) == dmapi.Retryable {
				lost = jobs.ActionCreated
			}
			if dmapi.StatusOf(err) != 400 {
				return err
			}
			var ferr error
			if cur, ferr = is.find(ctx); ferr != nil {
				return ferr
			}
			if cur == nil {
				return err
			}
		}
		changed := d.diff(cur)
		switch {
		case len(changed) == 0:
			out.Action = cmp.Or(lost, jobs.ActionUnchanged)
			return nil
		case dryRun:
			out.Action, out.Message = jobs.ActionUpdate, changed.wouldUpdate()
			return nil
		}
		if _, err := is.w.api.UpdateIssuer(ctx, d.Org, d.UserID, cur.EntityID, d.updateBody(cur.EntityID, changed)); err != nil {
			if dmapi.ClassOf(err) == dmapi.Retryable {
				lost = cmp.Or(lost, jobs.ActionUpdated)
			}
			if dmapi.StatusOf(err) == 404 && d.Action == actionCreate {
				// Deleted since the look-up: look again on the next attempt.
				return &dmapi.Error{Op: "update issuer", Err: errors.New("the issuer vanished between look-up and update")}
			}
			return err
		}
		out.Action, out.Message = jobs.ActionUpdated, changed.updated()
		return nil
	}
}

// deleteOp is one attempt of a delete row. Only a dry run looks the issuer
// up: a DELETE of an issuer already gone changes nothing.
func (is *issuers) deleteOp(ctx context.Context, dryRun bool, out *jobs.Outcome) func() error {
	d := is.row
	var lost string
	return func() error {
		if dryRun {
			cur, err := is.find(ctx)
			switch {
			case err != nil:
				return err
			case cur == nil:
				out.Action, out.Message = jobs.ActionUnchanged, "no such issuer"
			default:
				out.Action = jobs.ActionDelete
			}
			return nil
		}
		return deleteOutcome(out, &lost, is.w.api.DeleteIssuer(ctx, d.Org, d.UserID, d.EntityID), "issuer")
	}
}
