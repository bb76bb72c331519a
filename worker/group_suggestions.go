package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// Group suggestion actions (the action column).
const (
	actionCreate = "create"
	actionDelete = "delete"
)

// groupSuggestionRow is a row of the group-suggestions kind.
type groupSuggestionRow struct {
	Action       string          `json:"action"`
	PlatformKey  string          `json:"platform_key"`
	ProgramKey   string          `json:"program_key"`
	GroupID      int64           `json:"group_id"`
	SuggestionID int64           `json:"suggestion_id"`
	Accepted     *bool           `json:"accepted"`
	Visible      *bool           `json:"visible"`
	Metadata     json.RawMessage `json:"metadata"`
}

func (d *groupSuggestionRow) diff(cur *dmapi.GroupSuggestion) fieldDiff {
	var f fieldDiff
	f.boolean("accepted", d.Accepted, cur.Accepted)
	f.boolean("visible", d.Visible, cur.Visible)
	f.object("metadata", d.Metadata, cur.Metadata)
	return f
}

func (d *groupSuggestionRow) body() map[string]any {
	body := map[string]any{"platform_key": d.PlatformKey, "program_key": d.ProgramKey, "group_id": d.GroupID}
	if d.Accepted != nil {
		body["accepted"] = *d.Accepted
	}
	if d.Visible != nil {
		body["visible"] = *d.Visible
	}
	if d.Metadata != nil {
		body["metadata"] = d.Metadata
	}
	return body
}

// groupSuggestionKey is the upsert key of a group suggestion on a
// platform.
type groupSuggestionKey struct {
	program string
	group   int64
}

// groupSuggestionSnapshot is a platform's group suggestions, read whole
// once per batch: the list has no filter, so a row's own look-up would
// page through all of them.
type groupSuggestionSnapshot struct {
	byKey map[groupSuggestionKey]*dmapi.GroupSuggestion
	byID  map[int64]*dmapi.GroupSuggestion
}

// groupSuggestionSnapshot returns the batch's snapshot of a platform's
// group suggestions, or nil when the platform has more than maxSnapshot or
// they could not be read (which is remembered for the batch, as for
// licenses); rows then look themselves up.
func (w *Worker) groupSuggestionSnapshot(ctx context.Context, batch, platform string) *groupSuggestionSnapshot {
	// The only error is ctx's, which the row's own calls meet next.
	snap, _ := w.caches.groupSuggestions.get(ctx, platformKey{batch, platform}, func() (*groupSuggestionSnapshot, error) {
		s := &groupSuggestionSnapshot{byKey: map[groupSuggestionKey]*dmapi.GroupSuggestion{}, byID: map[int64]*dmapi.GroupSuggestion{}}
		err := dmapi.Each(ctx, maxSnapshot, retried(w, w.groupSuggestionPages(platform)), func(sg *dmapi.GroupSuggestion) bool {
			s.byKey[groupSuggestionKey{sg.ProgramKey, sg.GroupID}] = sg
			s.byID[sg.ID] = sg
			return true
		})
		switch {
		case errors.Is(err, dmapi.ErrTooMany):
			return nil, nil
		case ctx.Err() != nil:
			return nil, ctx.Err() // not remembered: the next chunk loads again
		case err != nil:
			w.log.Warn("group suggestion snapshot unavailable; looking rows up one by one", "batch", batch, "platform", platform, "err", err)
			return nil, nil
		}
		return s, nil
	})
	return snap
}

func (w *Worker) groupSuggestionPages(platform string) func(ctx context.Context, page int) (dmapi.Page[dmapi.GroupSuggestion], error) {
	return func(ctx context.Context, page int) (dmapi.Page[dmapi.GroupSuggestion], error) {
		return w.api.ListGroupSuggestions(ctx, dmapi.GroupSuggestionQuery{PlatformKey: platform, Page: page, PageSize: listPageSize})
	}
}

// groupSuggestions applies one group-suggestions row.
type groupSuggestions struct {
	w       *Worker
	row     *groupSuggestionRow
	snap    *groupSuggestionSnapshot // for the first attempt; nil: look up
	attempt int
}

// find looks the row's suggestion up by (program_key, group_id): in the
// snapshot on the first look-up, afresh on later ones, since an earlier
// attempt's write (whose answer was lost) is newer than the snapshot.
func (g *groupSuggestions) find(ctx context.Context) (*dmapi.GroupSuggestion, error) {
	if g.attempt == 1 && g.snap != nil {
		return g.snap.byKey[groupSuggestionKey{g.row.ProgramKey, g.row.GroupID}], nil
	}
	return g.w.api.FindGroupSuggestion(ctx, g.row.PlatformKey, g.row.ProgramKey, g.row.GroupID)
}

// findByID looks the row's suggestion_id up, for dry runs.
func (g *groupSuggestions) findByID(ctx context.Context) (*dmapi.GroupSuggestion, error) {
	if g.attempt == 1 && g.snap != nil {
		return g.snap.byID[g.row.SuggestionID], nil
	}
	var found *dmapi.GroupSuggestion
	err := dmapi.Each(ctx, 0, g.w.groupSuggestionPages(g.row.PlatformKey), func(sg *dmapi.GroupSuggestion) bool {
		if sg.ID == g.row.SuggestionID {
			found = sg
		}
		return found == nil
	})
	return found, err
}

// applyGroupSuggestion applies a group-suggestions row. create: look the
// suggestion up by (program_key, group_id); absent, create it; present
// with other accepted, visible or metadata values, update it (the API's
// create-or-update call); else unchanged. delete: delete the suggestion
// named by suggestion_id, or the one the look-up finds; one already gone
// is unchanged.
func (w *Worker) applyGroupSuggestion(ctx context.Context, c *chunkInfo, row jobs.ChunkRow) (jobs.Outcome, error) {
	var d groupSuggestionRow
	out, ok := decodeRow(row, &d)
	if !ok {
		return out, nil
	}
	g := &groupSuggestions{w: w, row: &d, snap: w.groupSuggestionSnapshot(ctx, c.run, d.PlatformKey)}
	switch d.Action {
	case actionCreate:
		// The API's call creates or updates.
		write := func(ctx context.Context) error {
			_, err := w.api.UpsertGroupSuggestion(ctx, d.body())
			return err
		}
		u := &upsert[dmapi.GroupSuggestion]{
			what: "suggestion",
			find: func(ctx context.Context) (*dmapi.GroupSuggestion, error) {
				g.attempt++
				return g.find(ctx)
			},
			diff: func(cur *dmapi.GroupSuggestion, _ func() (*applied.Record, error)) (fieldDiff, error) {
				return d.diff(cur), nil
			},
			create: write,
			update: func(ctx context.Context, _ *dmapi.GroupSuggestion, _ fieldDiff) error { return write(ctx) },
		}
		attempts, err := u.run(ctx, w, w.target(c, row), c.DryRun, &out)
		return finish(ctx, out, attempts, err)
	case actionDelete:
		attempts, err := w.retry(ctx, g.deleteOp(ctx, c.DryRun, &out))
		return finish(ctx, out, attempts, err)
	}
	return finish(ctx, out, 0, fmt.Errorf("unknown action %q (want %s or %s)", d.Action, actionCreate, actionDelete))
}

// deleteOp is one attempt of a delete row.
func (g *groupSuggestions) deleteOp(ctx context.Context, dryRun bool, out *jobs.Outcome) func() error {
	var lost string
	rm := remover[dmapi.GroupSuggestion]{
		what: "suggestion", find: g.find, findByID: g.findByID,
		idOf: func(s *dmapi.GroupSuggestion) int64 { return s.ID },
		del: func(ctx context.Context, id int64) error {
			return g.w.api.DeleteGroupSuggestion(ctx, id, g.row.PlatformKey)
		},
	}
	return func() error {
		g.attempt++
		return rm.attempt(ctx, out, &lost, dryRun, g.row.SuggestionID)
	}
}
