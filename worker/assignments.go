package worker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// subjectKind says whom an assignment is for.
type subjectKind int

const (
	groupSubject subjectKind = iota
	userSubject
)

// Assignment actions (the action column).
const (
	actionAssign = "assign"
	actionRemove = "remove"
)

// assignmentRow is a row of the four assignment kinds. Fields the row
// leaves out are zero (or nil for those compared with the assignment).
type assignmentRow struct {
	Action                string          `json:"action"`
	PlatformKey           string          `json:"platform_key"`
	LicenseID             int64           `json:"license_id"`
	LicenseExternalID     string          `json:"license_external_id"`
	GroupID               int64           `json:"group_id"`
	UserID                int64           `json:"user_id"`
	Email                 string          `json:"email"`
	AssignmentID          int64           `json:"assignment_id"`
	Active                *bool           `json:"active"`
	Fulfilled             *bool           `json:"fulfilled"`
	Metadata              json.RawMessage `json:"metadata"`
	RemoveUserAssignments *bool           `json:"remove_user_assignments"`
}

// assignmentView is what the worker compares of a group or user
// assignment.
type assignmentView struct {
	id                int64
	active, fulfilled bool
	metadata          json.RawMessage
}

func groupView(a *dmapi.GroupAssignment) *assignmentView {
	return &assignmentView{id: a.ID, active: a.Active, fulfilled: a.Fulfilled, metadata: a.Metadata}
}

func userView(a *dmapi.UserAssignment) *assignmentView {
	return &assignmentView{id: a.ID, active: a.Active, fulfilled: a.Fulfilled, metadata: a.Metadata}
}

// assignments applies one assignment row of a license family and subject.
type assignments struct {
	w         *Worker
	kind      dmapi.LicenseKind
	subject   subjectKind
	row       *assignmentRow
	licenseID int64
}

// find returns the row's assignment (by license and group or user), or
// nil.
func (a *assignments) find(ctx context.Context) (*assignmentView, error) {
	if a.subject == groupSubject {
		g, err := a.w.api.FindGroupAssignment(ctx, a.kind, a.licenseID, a.row.GroupID, a.row.PlatformKey)
		if err != nil || g == nil {
			return nil, err
		}
		return groupView(g), nil
	}
	u, err := a.w.api.FindUserAssignment(ctx, a.kind, a.licenseID, a.row.UserID, a.row.Email, a.row.PlatformKey)
	if err != nil || u == nil {
		return nil, err
	}
	return userView(u), nil
}

// findByID returns the license's assignment with the row's assignment_id,
// or nil. Only dry runs need it: a removal by id deletes without a look-up.
func (a *assignments) findByID(ctx context.Context) (*assignmentView, error) {
	var found *assignmentView
	var err error
	if a.subject == groupSubject {
		q := dmapi.GroupAssignmentQuery{LicenseID: a.licenseID, PlatformKey: a.row.PlatformKey, PageSize: listPageSize}
		err = dmapi.Each(ctx, 0, func(ctx context.Context, page int) (dmapi.Page[dmapi.GroupAssignment], error) {
			q.Page = page
			return a.w.api.ListGroupAssignments(ctx, a.kind, q)
		}, func(g *dmapi.GroupAssignment) bool {
			if g.ID == a.row.AssignmentID {
				found = groupView(g)
			}
			return found == nil
		})
	} else {
		q := dmapi.UserAssignmentQuery{LicenseID: a.licenseID, PlatformKey: a.row.PlatformKey, PageSize: listPageSize}
		err = dmapi.Each(ctx, 0, func(ctx context.Context, page int) (dmapi.Page[dmapi.UserAssignment], error) {
			q.Page = page
			return a.w.api.ListUserAssignments(ctx, a.kind, q)
		}, func(u *dmapi.UserAssignment) bool {
			if u.ID == a.row.AssignmentID {
				found = userView(u)
			}
			return found == nil
		})
	}
	return found, err
}

// assign creates or updates the assignment with the row's fields.
func (a *assignments) assign(ctx context.Context) error {
	body := map[string]any{"license_id": a.licenseID, "platform_key": a.row.PlatformKey}
	if a.row.Active != nil {
		body["active"] = *a.row.Active
	}
	if a.row.Fulfilled != nil {
		body["fulfilled"] = *a.row.Fulfilled
	}
	if a.row.Metadata != nil {
		body["metadata"] = a.row.Metadata
	}
	if a.subject == groupSubject {
		body["group_id"] = a.row.GroupID
		_, err := a.w.api.AssignGroup(ctx, a.kind, body)
		return err
	}
	if a.row.UserID != 0 {
		body["user_id"] = a.row.UserID
	}
	if a.row.Email != "" {
		body["email"] = a.row.Email
	}
	_, err := a.w.api.AssignUser(ctx, a.kind, body)
	return err
}

// remove deletes the assignment with id.
func (a *assignments) remove(ctx context.Context, id int64) error {
	q := dmapi.RemoveQuery{AssignmentID: id, LicenseID: a.licenseID, PlatformKey: a.row.PlatformKey}
	if a.subject == groupSubject {
		if a.kind == dmapi.ProgramLicense {
			q.RemoveUserAssignments = a.row.RemoveUserAssignments
		}
		return a.w.api.RemoveGroupAssignment(ctx, a.kind, q)
	}
	return a.w.api.RemoveUserAssignment(ctx, a.kind, q)
}

// diff returns the fields of the row that differ from cur.
func (a *assignments) diff(cur *assignmentView) fieldDiff {
	var d fieldDiff
	d.boolean("active", a.row.Active, cur.active)
	d.boolean("fulfilled", a.row.Fulfilled, cur.fulfilled)
	d.object("metadata", a.row.Metadata, cur.metadata)
	return d
}

// assignmentApplier applies rows that assign a license to (or remove it
// from) groups or users. The license is named by license_id, or by its
// external_id, resolved once per batch. An assignment is looked up by
// (license, group or user) before every write: absent, it is created;
// present with other active, fulfilled or metadata values, it is updated;
// else the row is unchanged. A removal deletes the assignment named by
// assignment_id, or the one the look-up finds; one already gone is
// unchanged.
func (w *Worker) assignmentApplier(kind dmapi.LicenseKind, subject subjectKind) applyFunc {
	return func(ctx context.Context, c *chunkInfo, row jobs.ChunkRow) (jobs.Outcome, error) {
		var d assignmentRow
		out, ok := decodeRow(row, &d)
		if !ok {
			return out, nil
		}
		a := &assignments{w: w, kind: kind, subject: subject, row: &d, licenseID: d.LicenseID}
		if a.licenseID == 0 {
			id, err := w.resolveLicense(ctx, c.run, kind, d.PlatformKey, d.LicenseExternalID)
			if err != nil {
				return finish(ctx, out, 1, err)
			}
			a.licenseID = id
		}
		switch d.Action {
		case actionAssign:
			// The API's call creates or updates.
			u := &upsert[assignmentView]{
				what: "assignment",
				find: a.find,
				diff: func(cur *assignmentView, _ func() (*applied.Record, error)) (fieldDiff, error) {
					return a.diff(cur), nil
				},
				create: a.assign,
				update: func(ctx context.Context, _ *assignmentView, _ fieldDiff) error { return a.assign(ctx) },
			}
			attempts, err := u.run(ctx, w, w.target(c, row), c.DryRun, &out)
			return finish(ctx, out, attempts, err)
		case actionRemove:
			attempts, err := w.retry(ctx, a.removeOp(ctx, c.DryRun, &out))
			return finish(ctx, out, attempts, err)
		}
		return finish(ctx, out, 0, fmt.Errorf("unknown action %q (want %s or %s)", d.Action, actionAssign, actionRemove))
	}
}

// removeOp is one attempt of a remove row.
func (a *assignments) removeOp(ctx context.Context, dryRun bool, out *jobs.Outcome) func() error {
	var lost string
	rm := remover[assignmentView]{
		what: "assignment", find: a.find, findByID: a.findByID,
		idOf: func(v *assignmentView) int64 { return v.id }, del: a.remove,
	}
	return func() error { return rm.attempt(ctx, out, &lost, dryRun, a.row.AssignmentID) }
}

// licenseRef names a license by external_id, as seen by one batch.
type licenseRef struct {
	batch           string
	kind            dmapi.LicenseKind
	platform, extID string
}

// resolveLicense returns the id of the license with external_id extID,
// looked up once per batch (and shared by the batch's chunks). A license
// that does not exist is a *notFoundError.
func (w *Worker) resolveLicense(ctx context.Context, batch string, kind dmapi.LicenseKind, platform, extID string) (int64, error) {
	id, err := w.caches.licenses.get(ctx, licenseRef{batch, kind, platform, extID}, func() (int64, error) {
		var id int64
		_, err := w.retry(ctx, func() error {
			l, err := w.api.FindLicense(ctx, kind, platform, extID)
			if l != nil {
				id = l.ID
			}
			return err
		})
		return id, err
	})
	if err == nil && id == 0 {
		err = &notFoundError{what: fmt.Sprintf("%s license with external_id %q on platform %q", kind, extID, platform)}
	}
	return id, err
}
