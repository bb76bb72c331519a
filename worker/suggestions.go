package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// suggestionRow is a row of the program-suggestions kind. UserID is a user
// id or a username.
type suggestionRow struct {
	PlatformKey string          `json:"platform_key"`
	ProgramKey  string          `json:"program_key"`
	UserID      string          `json:"user_id"`
	Accepted    *bool           `json:"accepted"`
	Visible     *bool           `json:"visible"`
	Metadata    json.RawMessage `json:"metadata"`
}

// userID returns the row's user as the API wants it: a number for an id,
// a string for a username.
func (d *suggestionRow) userID() any {
	if n, err := strconv.ParseInt(d.UserID, 10, 64); err == nil && n > 0 {
		return n
	}
	return d.UserID
}

// key is the row's suggestion key in a snapshot.
func (d *suggestionRow) key() suggestionKey {
	if n, ok := d.userID().(int64); ok {
		return suggestionKey{program: d.ProgramKey, user: "#" + strconv.FormatInt(n, 10)}
	}
	return suggestionKey{program: d.ProgramKey, user: "@" + d.UserID}
}

// item is the row as a bulk suggestion_data item.
func (d *suggestionRow) item() map[string]any {
	it := map[string]any{"program_key": d.ProgramKey, "user_id": d.userID()}
	if d.Accepted != nil {
		it["accepted"] = *d.Accepted
	}
	if d.Visible != nil {
		it["visible"] = *d.Visible
	}
	if d.Metadata != nil {
		it["metadata"] = d.Metadata
	}
	return it
}

func (d *suggestionRow) diff(cur *dmapi.Suggestion) fieldDiff {
	var f fieldDiff
	f.boolean("accepted", d.Accepted, cur.Accepted)
	f.boolean("visible", d.Visible, cur.Visible)
	f.object("metadata", d.Metadata, cur.Metadata)
	return f
}

// bulkCodes returns the bulk answer's error codes that name the row: those
// whose part after the first colon is the row's user_id or program_key,
// such as "user_not_found:42".
func (d *suggestionRow) bulkCodes(codes []string) []string {
	var mine []string
	for _, code := range codes {
		if _, v, ok := strings.Cut(code, ":"); ok && (v == d.UserID || v == d.ProgramKey) {
			mine = append(mine, code)
		}
	}
	return mine
}

// suggestionKey names a program suggestion of a platform: the program and
// the user, as "#<id>" or "@<username>".
type suggestionKey struct{ program, user string }

// suggestionSnapshot is a platform's program suggestions, read whole.
type suggestionSnapshot struct {
	byKey map[suggestionKey]*dmapi.Suggestion
}

// readSuggestions reads a platform's program suggestions through list. It
// returns nil, nil when the platform has more than maxSnapshot.
func readSuggestions(ctx context.Context, list func(ctx context.Context, page int) (dmapi.Page[dmapi.Suggestion], error)) (*suggestionSnapshot, error) {
	s := &suggestionSnapshot{byKey: map[suggestionKey]*dmapi.Suggestion{}}
	err := dmapi.Each(ctx, maxSnapshot, list, func(sg *dmapi.Suggestion) bool {
		s.byKey[suggestionKey{sg.ProgramKey, "#" + strconv.FormatInt(sg.UserID, 10)}] = sg
		if sg.Username != "" {
			s.byKey[suggestionKey{sg.ProgramKey, "@" + sg.Username}] = sg
		}
		return true
	})
	switch {
	case errors.Is(err, dmapi.ErrTooMany):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return s, nil
}

func (w *Worker) suggestionPages(platform string) func(ctx context.Context, page int) (dmapi.Page[dmapi.Suggestion], error) {
	return func(ctx context.Context, page int) (dmapi.Page[dmapi.Suggestion], error) {
		return w.api.ListSuggestions(ctx, dmapi.SuggestionQuery{PlatformKey: platform, Page: page, PageSize: listPageSize})
	}
}

// suggestionItem is a program-suggestions row on its way through a chunk.
type suggestionItem struct {
	data    suggestionRow
	out     jobs.Outcome
	looked  bool      // the row was looked up before the bulk call
	existed bool      // the look-up found a suggestion for the row's key
	changed fieldDiff // the fields that differ from it
}

// applySuggestions applies a chunk of program-suggestions rows through the
// bulk endpoint, one call per platform (a bulk call must not mix
// platforms). Before the call, the platform's suggestions (read once per
// batch) leave out the rows that already match: they are unchanged. When
// the answer counts fewer successes than rows sent, those rows are replayed
// one by one through the single create-or-update call, so that each gets
// its own outcome. A chunk marked Single (bulksync serve's batches) goes
// through the single call alone: see applySingleSuggestion.
func (w *Worker) applySuggestions(ctx context.Context, c *chunkInfo, rows []jobs.ChunkRow, record recordFunc) error {
	if c.Single {
		return perRow(w.applySingleSuggestion)(ctx, c, rows, record)
	}
	var platforms []string
	byPlatform := map[string][]*suggestionItem{}
	for _, row := range rows {
		it := &suggestionItem{}
		out, ok := decodeRow(row, &it.data)
		if !ok {
			if err := record(out); err != nil {
				return err
			}
			continue
		}
		it.out = out
		p := it.data.PlatformKey
		if _, seen := byPlatform[p]; !seen {
			platforms = append(platforms, p)
		}
		byPlatform[p] = append(byPlatform[p], it)
	}
	for _, p := range platforms {
		if err := w.applySuggestionGroup(ctx, c, p, byPlatform[p], record); err != nil {
			return err
		}
	}
	return nil
}

// applySuggestionGroup applies the rows of one platform.
func (w *Worker) applySuggestionGroup(ctx context.Context, c *chunkInfo, platform string, items []*suggestionItem, record recordFunc) error {
	snap, err := w.caches.suggestions.get(ctx, platformKey{c.run, platform}, func() (*suggestionSnapshot, error) {
		return readSuggestions(ctx, retried(w, w.suggestionPages(platform)))
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errUnavailable) {
			return err
		}
		// Without the look-up a write cannot be told from a no-op.
		outs := make([]jobs.Outcome, len(items))
		for i, it := range items {
			outs[i] = failure(it.out, err)
			outs[i].Attempts = 1
		}
		return record(outs...)
	}
	var done []jobs.Outcome
	var send []*suggestionItem
	for _, it := range items {
		it.out.Attempts, it.looked = 1, snap != nil
		if snap != nil {
			if cur := snap.byKey[it.data.key()]; cur != nil {
				it.existed, it.changed = true, it.data.diff(cur)
				if len(it.changed) == 0 {
					it.out.Status, it.out.Action = jobs.StatusOK, jobs.ActionUnchanged
					done = append(done, it.out)
					continue
				}
			}
		}
		if c.DryRun {
			it.out.Status = jobs.StatusOK
			switch {
			case snap == nil:
				it.out.Action, it.out.Message = jobs.ActionApply, "not looked up: the platform has too many suggestions to read"
			case it.existed:
				it.out.Action, it.out.Message = jobs.ActionUpdate, it.changed.wouldUpdate()
			default:
				it.out.Action = jobs.ActionCreate
			}
			done = append(done, it.out)
			continue
		}
		send = append(send, it)
	}
	if len(done) > 0 {
		if err := record(done...); err != nil {
			return err
		}
	}
	if len(send) == 0 {
		return nil
	}
	return w.sendSuggestions(ctx, platform, send, record)
}

// sendSuggestions sends items in one bulk call, retried on transient
// faults. A retry first reads the platform's suggestions afresh and sends
// only the items that still differ, so that a call whose answer was lost
// is not repeated.
func (w *Worker) sendSuggestions(ctx context.Context, platform string, items []*suggestionItem, record recordFunc) error {
	pending := items
	var landed []*suggestionItem // written by a call whose answer was lost
	var res dmapi.BulkResponse
	lost := false
	attempts, err := w.retry(ctx, func() error {
		if lost {
			fresh, err := readSuggestions(ctx, w.suggestionPages(platform))
			if err != nil {
				return err
			}
			if fresh != nil {
				var still []*suggestionItem
				for _, it := range pending {
					if cur := fresh.byKey[it.data.key()]; cur != nil && len(it.data.diff(cur)) == 0 {
						landed = append(landed, it)
					} else {
						still = append(still, it)
					}
				}
				pending = still
			}
			lost = false
		}
		if len(pending) == 0 {
			return nil
		}
		req := dmapi.BulkRequest{PlatformKey: platform, SuggestionData: make([]map[string]any, len(pending))}
		for i, it := range pending {
			req.SuggestionData[i] = it.data.item()
		}
		var err error
		if res, err = w.api.BulkSuggestions(ctx, req); err != nil {
			lost = dmapi.ClassOf(err) == dmapi.Retryable
			return err
		}
		return nil
	})
	outs := make([]jobs.Outcome, 0, len(items))
	for _, it := range landed {
		it.out.Status, it.out.Action, it.out.Attempts = jobs.StatusOK, jobs.ActionApplied, attempts
		outs = append(outs, it.out)
	}
	var replay []*suggestionItem
	switch {
	case err == nil && res.Successes >= len(pending):
		for _, it := range pending {
			it.out.Status, it.out.Action, it.out.Attempts = jobs.StatusOK, jobs.ActionApplied, attempts
			outs = append(outs, it.out)
		}
	case errors.Is(err, errUnavailable):
		// The rows are applied when the chunk comes back.
	case err == nil, ctx.Err() == nil && dmapi.ClassOf(err) == dmapi.Permanent:
		// Some items failed, and the answer does not say which; or the
		// request as a whole was refused. Each row on its own says.
		replay = pending
	case ctx.Err() == nil:
		// Refused credentials or retries exhausted: every row failed alike.
		for _, it := range pending {
			out := failure(it.out, err)
			out.Attempts = attempts
			outs = append(outs, out)
		}
	}
	if len(outs) > 0 {
		if err := record(outs...); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, errUnavailable) {
		return err
	}
	return w.replaySuggestions(ctx, platform, replay, attempts, res.ErrorCodes, record)
}

// replaySuggestions sends items one by one, in order, through the single
// create-or-update call and records each outcome. A row is created when
// the API answers 201 or when its suggestion did not exist before the bulk
// call (which may have created it: the replay's 200 then changes nothing),
// else updated. bulkAttempts is added to each row's attempts; a failed
// row's message ends with the bulk answer's error codes that name it.
func (w *Worker) replaySuggestions(ctx context.Context, platform string, items []*suggestionItem, bulkAttempts int, codes []string, record recordFunc) error {
	for _, it := range items {
		body := it.data.item()
		body["platform_key"] = platform
		var created bool
		attempts, err := w.retry(ctx, func() error {
			_, c, err := w.api.UpsertSuggestion(ctx, body)
			created = c
			return err
		})
		out, ferr := finish(ctx, it.out, bulkAttempts+attempts, err)
		if ferr != nil {
			return ferr
		}
		switch {
		case err != nil:
			if mine := it.data.bulkCodes(codes); len(mine) > 0 {
				out.Message += "; the bulk call reported " + strings.Join(mine, ", ")
			}
		case created || (it.looked && !it.existed):
			out.Action = jobs.ActionCreated
		default:
			out.Action = jobs.ActionUpdated
			if len(it.changed) > 0 {
				out.Message = it.changed.updated()
			}
		}
		if err := record(out); err != nil {
			return err
		}
	}
	return nil
}
