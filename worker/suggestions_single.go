package worker

import (
	"context"
	"encoding/json"
	"maps"
	"strconv"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// singleSuggestions applies one program-suggestions row of a chunk marked
// Single through the single create-or-update call, never the bulk one:
// these are the batches of bulksync serve, which is the backend behind the
// bulk endpoint. The rule is the other kinds' look-before-write: the row's
// suggestion is looked up (in the platform's snapshot, read once per batch,
// on the first attempt; afresh on later ones), created when absent,
// updated when accepted, visible or metadata differ, else unchanged. The
// chunk's Extra fields (platform_org, department_mode) go with every write.
func (w *Worker) applySingleSuggestion(ctx context.Context, c *chunkInfo, row jobs.ChunkRow) (jobs.Outcome, error) {
	var d suggestionRow
	out, ok := decodeRow(row, &d)
	if !ok {
		return out, nil
	}
	var extra map[string]any
	if len(c.Extra) > 0 {
		if err := json.Unmarshal(c.Extra, &extra); err != nil {
			return invalidPayload(out, err), nil
		}
	}
	snap, err := w.caches.suggestions.get(ctx, platformKey{c.run, d.PlatformKey}, func() (*suggestionSnapshot, error) {
		return readSuggestions(ctx, retried(w, w.suggestionPages(d.PlatformKey)))
	})
	if err != nil {
		// Rows then look themselves up; ctx's end meets the row's own calls.
		snap = nil
	}
	attempt := 0
	write := func(ctx context.Context) error {
		body := d.item()
		maps.Copy(body, extra)
		body["platform_key"] = d.PlatformKey
		_, _, err := w.api.UpsertSuggestion(ctx, body)
		return err
	}
	u := &upsert[dmapi.Suggestion]{
		what: "suggestion",
		find: func(ctx context.Context) (*dmapi.Suggestion, error) {
			attempt++
			if attempt == 1 && snap != nil {
				return snap.byKey[d.key()], nil
			}
			return w.findSuggestion(ctx, &d)
		},
		diff: func(cur *dmapi.Suggestion, _ func() (*applied.Record, error)) (fieldDiff, error) {
			return d.diff(cur), nil
		},
		create: write,
		update: func(ctx context.Context, _ *dmapi.Suggestion, _ fieldDiff) error { return write(ctx) },
	}
	attempts, err := u.run(ctx, w, w.target(c, row), c.DryRun, &out)
	return finish(ctx, out, attempts, err)
}

// findSuggestion looks a row's suggestion up on its platform, searching
// the list by program key (the list has no filter by user).
func (w *Worker) findSuggestion(ctx context.Context, d *suggestionRow) (*dmapi.Suggestion, error) {
	key := d.key()
	var found *dmapi.Suggestion
	err := dmapi.Each(ctx, 0, func(ctx context.Context, page int) (dmapi.Page[dmapi.Suggestion], error) {
		return w.api.ListSuggestions(ctx, dmapi.SuggestionQuery{PlatformKey: d.PlatformKey, Query: d.ProgramKey, Page: page, PageSize: listPageSize})
	}, func(sg *dmapi.Suggestion) bool {
		if (suggestionKey{sg.ProgramKey, "#" + strconv.FormatInt(sg.UserID, 10)}) == key || (sg.Username != "" && (suggestionKey{sg.ProgramKey, "@" + sg.Username}) == key) {
			found = sg
		}
		return found == nil
	})
	return found, err
}
