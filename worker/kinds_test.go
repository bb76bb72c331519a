package worker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/bulksync/bulksync/uipath"
	"github.com/bulksync/bulksync/worker"
	"github.com/stretchr/testify/require"
)

// row is one chunk row's data: the kind's column names, as the importers
// emit them.
type row = map[string]any

// enqueueRows creates a batch of kind holding rows and enqueues them in
// chunks of chunkSize, as ingest does. Row i is on line i+2.
func (b *bundle) enqueueRows(t *testing.T, kind string, rows []row, chunkSize int, dryRun bool) string {
	t.Helper()
	ctx := context.Background()
	id := make([]byte, 10)
	_, _ = rand.Read(id)
	meta := jobs.Meta{
		ID: hex.EncodeToString(id), Kind: kind, Format: "json", DryRun: dryRun, Created: time.Now(),
		Total: len(rows), Chunks: (len(rows) + chunkSize - 1) / chunkSize,
	}
	created, err := b.env.Store.Create(ctx, meta)
	require.NoError(t, err)
	require.True(t, created)
	for chunk, start := 0, 0; start < len(rows); chunk, start = chunk+1, start+chunkSize {
		p := jobs.ChunkPayload{BatchID: meta.ID, Kind: kind, Chunk: chunk, DryRun: dryRun}
		for i := start; i < min(start+chunkSize, len(rows)); i++ {
			data, err := json.Marshal(rows[i])
			require.NoError(t, err)
			p.Rows = append(p.Rows, jobs.ChunkRow{Row: i + 1, Line: i + 2, Key: fmt.Sprintf("row-%d", i+1), Data: data})
		}
		require.NoError(t, b.env.Store.AddChunks(ctx, meta.ID, p))
		_, err = b.q.Enqueue(jobs.NewChunkTask(p, b.env.Queue))
		require.NoError(t, err)
	}
	require.NoError(t, b.env.Store.Start(ctx, meta.ID, (len(rows)+chunkSize-1)/chunkSize))
	return meta.ID
}

// runRows applies rows as one batch and returns its summary and the
// outcome of each row, in order.
func (b *bundle) runRows(t *testing.T, kind string, rows []row, chunkSize int, dryRun bool) (jobs.Meta, []jobs.Outcome) {
	t.Helper()
	meta := b.wait(t, b.enqueueRows(t, kind, rows, chunkSize, dryRun))
	_, byLine := b.ledger(t, meta.ID)
	outs := make([]jobs.Outcome, len(rows))
	for i := range rows {
		outs[i] = byLine[i+2]
	}
	return meta, outs
}

// uipathClient is a UiPath client of the bundle's sandbox.
func (b *bundle) uipathClient(t *testing.T, secret string) *uipath.Client {
	t.Helper()
	c, err := uipath.New(uipath.Config{BaseURL: b.env.APIURL, ClientID: sandbox.DefaultUiPathClientID, ClientSecret: secret})
	require.NoError(t, err)
	return c
}

// seedLicense makes sure a license with external_id extID exists on
// platform acme and returns its id. It outlasts injected faults.
func seedLicense(t *testing.T, api *dmapi.Client, kind dmapi.LicenseKind, extID string) int64 {
	t.Helper()
	ctx := context.Background()
	body := map[string]any{"platform_key": "acme", "name": extID, "count": 10, "started": "2024-01-01T00:00:00Z", "external_id": extID}
	if kind == dmapi.ProgramLicense {
		body["program_key"] = "program-v1:acme+seed+2024"
	}
	for range 100 {
		if l, err := api.FindLicense(ctx, kind, "acme", extID); err == nil && l != nil {
			return l.ID
		}
		_, _ = api.CreateLicense(ctx, kind, body)
	}
	t.Fatalf("cannot seed %s license %s", kind, extID)
	return 0
}

// writes are the sandbox's write counters.
type writes struct{ creates, updates, deletes int64 }

func writesOf(st sandbox.Stats) writes { return writes{st.Creates, st.Updates, st.Deletes} }

func (w writes) minus(o writes) writes {
	return writes{w.creates - o.creates, w.updates - o.updates, w.deletes - o.deletes}
}

// phase is one batch of a kind's life in TestKinds.
type phase struct {
	name    string
	rows    []row
	dryRun  bool
	actions []string // each row's action; every row succeeds
	delta   writes   // what the batch wrote in the sandbox
	held    int      // records of the kind the sandbox holds after it
}

// seeds are the records a kind's phases refer to.
type seeds struct{ programLicense, userLicense int64 }

const (
	created   = jobs.ActionCreated
	updated   = jobs.ActionUpdated
	deleted   = jobs.ActionDeleted
	applied   = jobs.ActionApplied
	unchanged = jobs.ActionUnchanged
)

// assignmentPhases are the phases of an assignment kind whose license is
// lic (id licID), to groups or, with users, to users.
func assignmentPhases(lic string, licID int64, users bool) []phase {
	// r is a row naming the license by external_id (with byID, by
	// license_id) and subject n: group n, or user n (user 2 by email); n 0
	// names none (the row has an assignment_id).
	r := func(action string, n int, byID bool, fields row) row {
		out := row{"action": action, "platform_key": "acme"}
		if byID {
			out["license_id"] = licID
		} else {
			out["license_external_id"] = lic
		}
		switch {
		case n == 0:
		case !users:
			out["group_id"] = n
		case n == 2:
			out["email"] = "user2@example.com"
		default:
			out["user_id"] = n
		}
		maps.Copy(out, fields)
		return out
	}
	apply := []row{
		r("assign", 1, false, row{"active": true, "metadata": row{"cohort": "a"}}),
		r("assign", 2, true, row{"fulfilled": true}),
		r("assign", 3, false, nil),
		r("remove", 4, false, nil),
	}
	change := []row{
		r("assign", 1, false, row{"active": false, "metadata": row{"cohort": "a"}}),
		r("remove", 0, true, row{"assignment_id": 2}),
		r("remove", 3, false, nil),
	}
	return []phase{
		{name: "Apply", rows: apply, actions: []string{created, created, created, unchanged}, delta: writes{3, 0, 0}, held: 3},
		{name: "Rerun", rows: apply, actions: []string{unchanged, unchanged, unchanged, unchanged}, held: 3},
		{name: "Change", rows: change, actions: []string{updated, deleted, deleted}, delta: writes{0, 1, 2}, held: 1},
		{name: "RerunChange", rows: change, actions: []string{unchanged, unchanged, unchanged}, held: 1},
		{name: "DryRun", dryRun: true, rows: []row{
			r("assign", 1, false, row{"active": true}),
			r("assign", 9, false, nil),
			r("remove", 1, false, nil),
			r("remove", 0, true, row{"assignment_id": 2}),
			r("remove", 3, false, nil),
		}, actions: []string{jobs.ActionUpdate, jobs.ActionCreate, jobs.ActionDelete, unchanged, unchanged}, held: 1},
	}
}

func TestKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind   string
		held   func(sandbox.Stats) int
		phases func(seeds) []phase
	}{
		{
			kind:   "program-group-assignments",
			held:   func(st sandbox.Stats) int { return st.ProgramGroupAssignments },
			phases: func(s seeds) []phase { return assignmentPhases("lic-program", s.programLicense, false) },
		},
		{
			kind:   "user-group-assignments",
			held:   func(st sandbox.Stats) int { return st.UserGroupAssignments },
			phases: func(s seeds) []phase { return assignmentPhases("lic-user", s.userLicense, false) },
		},
		{
			kind:   "program-user-assignments",
			held:   func(st sandbox.Stats) int { return st.ProgramUserAssignments },
			phases: func(s seeds) []phase { return assignmentPhases("lic-program", s.programLicense, true) },
		},
		{
			kind:   "user-user-assignments",
			held:   func(st sandbox.Stats) int { return st.UserUserAssignments },
			phases: func(s seeds) []phase { return assignmentPhases("lic-user", s.userLicense, true) },
		},
		{
			kind: "program-suggestions",
			held: func(st sandbox.Stats) int { return st.ProgramSuggestions },
			phases: func(seeds) []phase {
				apply := []row{
					{"platform_key": "acme", "program_key": "p1", "user_id": "1", "accepted": false, "visible": true, "metadata": row{"src": "hr"}},
					{"platform_key": "acme", "program_key": "p1", "user_id": "user2"},
					{"platform_key": "globex", "program_key": "p1", "user_id": "1"},
					{"platform_key": "acme", "program_key": "p2", "user_id": "3", "accepted": true},
				}
				change := []row{
					{"platform_key": "acme", "program_key": "p1", "user_id": "1", "accepted": true, "metadata": row{"src": "hr"}},
					{"platform_key": "globex", "program_key": "p1", "user_id": "1"},
				}
				return []phase{
					{name: "Apply", rows: apply, actions: []string{applied, applied, applied, applied}, delta: writes{4, 0, 0}, held: 4},
					{name: "Rerun", rows: apply, actions: []string{unchanged, unchanged, unchanged, unchanged}, held: 4},
					{name: "Change", rows: change, actions: []string{applied, unchanged}, delta: writes{0, 1, 0}, held: 4},
					{name: "RerunChange", rows: change, actions: []string{unchanged, unchanged}, held: 4},
					{name: "DryRun", dryRun: true, rows: []row{
						{"platform_key": "acme", "program_key": "p1", "user_id": "1", "accepted": false},
						{"platform_key": "acme", "program_key": "p9", "user_id": "5"},
						{"platform_key": "acme", "program_key": "p2", "user_id": "user3", "accepted": true},
					}, actions: []string{jobs.ActionUpdate, jobs.ActionCreate, unchanged}, held: 4},
				}
			},
		},
		{
			kind: "group-suggestions",
			held: func(st sandbox.Stats) int { return st.GroupSuggestions },
			phases: func(seeds) []phase {
				gs := func(action, program string, group int, fields row) row {
					r := row{"action": action, "platform_key": "acme", "program_key": program, "group_id": group}
					maps.Copy(r, fields)
					return r
				}
				apply := []row{
					gs("create", "p1", 1, row{"accepted": false, "metadata": row{"x": 1}}),
					gs("create", "p1", 2, row{"visible": false}),
					gs("create", "p2", 1, nil),
					gs("delete", "p3", 1, nil),
				}
				change := []row{
					gs("create", "p1", 1, row{"accepted": true, "metadata": row{"x": 1}}),
					{"action": "delete", "platform_key": "acme", "suggestion_id": 2},
					gs("delete", "p2", 1, nil),
				}
				return []phase{
					{name: "Apply", rows: apply, actions: []string{created, created, created, unchanged}, delta: writes{3, 0, 0}, held: 3},
					{name: "Rerun", rows: apply, actions: []string{unchanged, unchanged, unchanged, unchanged}, held: 3},
					{name: "Change", rows: change, actions: []string{updated, deleted, deleted}, delta: writes{0, 1, 2}, held: 1},
					{name: "RerunChange", rows: change, actions: []string{unchanged, unchanged, unchanged}, held: 1},
					{name: "DryRun", dryRun: true, rows: []row{
						gs("create", "p1", 1, row{"accepted": false}),
						gs("create", "p5", 5, nil),
						{"action": "delete", "platform_key": "acme", "suggestion_id": 1},
						{"action": "delete", "platform_key": "acme", "suggestion_id": 2},
					}, actions: []string{jobs.ActionUpdate, jobs.ActionCreate, jobs.ActionDelete, unchanged}, held: 1},
				}
			},
		},
		{
			kind: "issuers",
			held: func(st sandbox.Stats) int { return st.Issuers },
			phases: func(seeds) []phase {
				is := func(action string, fields row) row {
					r := row{"action": action, "org": "acme", "user_id": "user17", "iconImage": "https://acme.example/icon.png"}
					maps.Copy(r, fields)
					return r
				}
				apply := []row{
					is("create", row{"entityId": "iss-1", "name": "Acme Academy", "iconImage": "https://acme.example/icon.png", "url": "https://acme.example"}),
					is("create", row{"entityId": "iss-2", "iconImage": "https://acme.example/2.png", "allowed_template_tags": []string{"a", "b"}}),
					is("create", row{"entityId": "iss-3", "name": "Named Issuer", "email": "named@acme.example"}),
					is("delete", row{"entityId": "iss-9"}),
				}
				change := []row{
					is("update", row{"entityId": "iss-1", "name": "Acme Academy II"}),
					is("create", row{"entityId": "iss-3", "name": "Named Issuer", "email": "new@acme.example"}),
					is("delete", row{"entityId": "iss-2"}),
				}
				return []phase{
					{name: "Apply", rows: apply, actions: []string{created, created, created, unchanged}, delta: writes{3, 0, 0}, held: 3},
					{name: "Rerun", rows: apply, actions: []string{unchanged, unchanged, unchanged, unchanged}, held: 3},
					{name: "Change", rows: change, actions: []string{updated, updated, deleted}, delta: writes{0, 2, 1}, held: 2},
					{name: "RerunChange", rows: change, actions: []string{unchanged, unchanged, unchanged}, held: 2},
					{name: "DryRun", dryRun: true, rows: []row{
						is("update", row{"entityId": "iss-1", "url": "https://other.example"}),
						is("create", row{"entityId": "iss-7", "iconImage": "https://acme.example/7.png"}),
						is("delete", row{"entityId": "iss-1"}),
						is("delete", row{"entityId": "iss-2"}),
					}, actions: []string{jobs.ActionUpdate, jobs.ActionCreate, jobs.ActionDelete, unchanged}, held: 2},
				}
			},
		},
		{
			kind: "uipath-group-licenses",
			held: func(st sandbox.Stats) int { return st.UiPathGroupAllocations },
			phases: func(seeds) []phase {
				apply := []row{
					{"account_id": "acct-1", "group_id": "g1", "user_bundle_codes": []string{"RPADEVPRONU", "IDU"}, "use_external_license": false},
					{"account_id": "acct-1", "group_id": "g2", "user_bundle_codes": []string{"CTZDEVCU"}},
				}
				return []phase{
					{name: "Apply", rows: apply, actions: []string{applied, applied}, delta: writes{2, 0, 0}, held: 2},
					// UiPath has no read call: a re-run repeats the PUT, which
					// replaces each allocation with itself.
					{name: "Rerun", rows: apply, actions: []string{applied, applied}, delta: writes{0, 2, 0}, held: 2},
					{name: "DryRun", dryRun: true, rows: apply, actions: []string{jobs.ActionApply, jobs.ActionApply}, held: 2},
				}
			},
		},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.Config{})
			b.startWorker(t, b.env.API, worker.Config{UiPath: b.uipathClient(t, sandbox.DefaultUiPathClientSecret)})
			s := seeds{
				programLicense: seedLicense(t, b.env.API, dmapi.ProgramLicense, "lic-program"),
				userLicense:    seedLicense(t, b.env.API, dmapi.UserLicense, "lic-user"),
			}
			for _, ph := range tc.phases(s) {
				before := b.env.Sandbox.Stats()
				meta, outs := b.runRows(t, tc.kind, ph.rows, 100, ph.dryRun)
				require.Equal(t, len(ph.rows), meta.Successes, "%s: %+v", ph.name, outs)
				actions := make([]string, len(outs))
				for i, o := range outs {
					actions[i] = o.Action
				}
				require.Equal(t, ph.actions, actions, "%s: %+v", ph.name, outs)
				after := b.env.Sandbox.Stats()
				require.Equal(t, ph.delta, writesOf(after).minus(writesOf(before)), ph.name)
				require.Equal(t, ph.held, tc.held(after), ph.name)
			}
		})
	}
}

// failing is a row expected to fail.
type failing struct {
	code     string
	status   int
	attempts int
}

func TestKindsPermanentErrors(t *testing.T) {
	t.Parallel()
	ok := failing{}
	for _, tc := range []struct {
		name     string
		sandbox  sandbox.Config
		noUiPath bool
		kind     string
		rows     []row
		want     []failing
	}{
		{
			name: "UnknownGroup",
			kind: "program-group-assignments",
			rows: []row{{"action": "assign", "platform_key": "acme", "license_external_id": "lic-program", "group_id": 5000}},
			want: []failing{{"not_found", 404, 1}},
		},
		{
			name: "UnknownUser",
			kind: "program-user-assignments",
			rows: []row{{"action": "assign", "platform_key": "acme", "license_external_id": "lic-program", "user_id": 999999}},
			want: []failing{{"not_found", 404, 1}},
		},
		{
			name: "UnknownLicense",
			kind: "user-user-assignments",
			rows: []row{
				{"action": "assign", "platform_key": "acme", "license_external_id": "no-such-license", "user_id": 1},
				{"action": "remove", "platform_key": "acme", "license_external_id": "no-such-license", "user_id": 1},
			},
			want: []failing{{"not_found", 0, 1}, {"not_found", 0, 1}},
		},
		{
			name: "UnknownIssuerUpdate",
			kind: "issuers",
			rows: []row{{"action": "update", "org": "acme", "user_id": "17", "entityId": "ghost", "iconImage": "https://acme.example/g.png", "name": "Ghost"}},
			want: []failing{{"not_found", 0, 1}},
		},
		{
			name:    "GroupSuggestionUnknownGroup",
			sandbox: sandbox.Config{Fixtures: &sandbox.Fixtures{Groups: []int{1}, Users: []sandbox.FixtureUser{{ID: 1}}}},
			kind:    "group-suggestions",
			rows: []row{
				{"action": "create", "platform_key": "acme", "program_key": "p1", "group_id": 1},
				{"action": "create", "platform_key": "acme", "program_key": "p1", "group_id": 77},
			},
			want: []failing{ok, {"rejected", 400, 1}},
		},
		{
			name:    "UiPathQuantityExceeded",
			sandbox: sandbox.Config{UiPath: sandbox.UiPathConfig{Quantities: map[string]int{"IDU": 1}}},
			kind:    "uipath-group-licenses",
			rows: []row{
				{"account_id": "acct-1", "group_id": "g1", "user_bundle_codes": []string{"IDU"}},
				{"account_id": "acct-1", "group_id": "g2", "user_bundle_codes": []string{"IDU"}},
			},
			want: []failing{ok, {"conflict", 409, 1}},
		},
		{
			name: "UiPathNoAccountLicense",
			kind: "uipath-group-licenses",
			rows: []row{{"account_id": "nolicense-1", "group_id": "g1", "user_bundle_codes": []string{"IDU"}}},
			want: []failing{{"not_found", 404, 1}},
		},
		{
			name: "UiPathUnknownBundle",
			kind: "uipath-group-licenses",
			rows: []row{{"account_id": "acct-1", "group_id": "g1", "user_bundle_codes": []string{"NOPE"}}},
			want: []failing{{"rejected", 400, 1}},
		},
		{
			name:     "UiPathNotConfigured",
			noUiPath: true,
			kind:     "uipath-group-licenses",
			rows:     []row{{"account_id": "acct-1", "group_id": "g1", "user_bundle_codes": []string{"IDU"}}},
			want:     []failing{{"not_configured", 0, 0}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.sandbox)
			cfg := worker.Config{}
			if !tc.noUiPath {
				cfg.UiPath = b.uipathClient(t, sandbox.DefaultUiPathClientSecret)
			}
			b.startWorker(t, b.env.API, cfg)
			seedLicense(t, b.env.API, dmapi.ProgramLicense, "lic-program")
			meta, outs := b.runRows(t, tc.kind, tc.rows, 100, false)
			require.Equal(t, jobs.StateDone, meta.State)
			for i, want := range tc.want {
				o := outs[i]
				if want == ok {
					require.Equal(t, jobs.StatusOK, o.Status, "row %d: %+v", i, o)
					continue
				}
				require.Equal(t, jobs.StatusFailed, o.Status, "row %d: %+v", i, o)
				require.Equal(t, want, failing{o.ErrorCode, o.HTTPStatus, o.Attempts}, "row %d: %+v", i, o)
				require.NotEmpty(t, o.Message)
			}
		})
	}
}

// faultRows makes n rows of kind that create n records. Assignment rows
// name the license lic-program or lic-user.
func faultRows(kind string, n int) []row {
	lic := "lic-user"
	if strings.HasPrefix(kind, "program-") {
		lic = "lic-program"
	}
	rows := make([]row, n)
	for i := range rows {
		switch kind {
		case "program-group-assignments", "user-group-assignments":
			rows[i] = row{"action": "assign", "platform_key": "acme", "license_external_id": lic, "group_id": i + 1, "metadata": row{"n": i}}
		case "program-user-assignments", "user-user-assignments":
			rows[i] = row{"action": "assign", "platform_key": "acme", "license_external_id": lic, "user_id": i + 1, "active": true}
		case "program-suggestions":
			rows[i] = row{"platform_key": "acme", "program_key": "p1", "user_id": fmt.Sprint(i + 1), "accepted": i%2 == 0, "metadata": row{"n": i}}
		case "group-suggestions":
			rows[i] = row{"action": "create", "platform_key": "acme", "program_key": "p1", "group_id": i + 1, "visible": true}
		case "issuers":
			rows[i] = row{"action": "create", "org": "acme", "user_id": "user17", "entityId": fmt.Sprintf("iss-%d", i), "iconImage": "https://acme.example/i.png"}
		case "uipath-group-licenses":
			rows[i] = row{"account_id": "acct-1", "group_id": fmt.Sprintf("g%d", i), "user_bundle_codes": []string{"IDU"}}
		}
	}
	return rows
}

// TestKindsFaults injects faults before and after writes: every row ends
// ok, each record is created once, and no write is repeated (but UiPath's
// replacing PUT, which is repeated after a lost answer).
func TestKindsFaults(t *testing.T) {
	t.Parallel()
	const n = 40
	for _, kind := range []string{
		"program-group-assignments", "user-group-assignments", "program-user-assignments", "user-user-assignments",
		"program-suggestions", "group-suggestions", "issuers", "uipath-group-licenses",
	} {
		for _, fault := range []struct {
			name string
			cfg  sandbox.Config
		}{
			{"FailRate", sandbox.Config{FailRate: 0.3, Seed: 3}},
			{"FailAfterWrite", sandbox.Config{FailAfterWrite: 0.3, Seed: 5}},
		} {
			t.Run(kind+"/"+fault.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, fault.cfg)
				b.startWorker(t, b.env.API, worker.Config{UiPath: b.uipathClient(t, sandbox.DefaultUiPathClientSecret)})
				seedLicense(t, b.env.API, dmapi.ProgramLicense, "lic-program")
				seedLicense(t, b.env.API, dmapi.UserLicense, "lic-user")
				before := b.env.Sandbox.Stats()
				meta, outs := b.runRows(t, kind, faultRows(kind, n), 5, false)
				require.Equal(t, n, meta.Successes, "%+v", outs)
				want := created
				if kind == "program-suggestions" || kind == "uipath-group-licenses" {
					want = applied
				}
				for _, o := range outs {
					require.Equal(t, want, o.Action, "%+v", o)
				}
				after := b.env.Sandbox.Stats()
				require.Positive(t, after.Faults-before.Faults, "%+v %+v", before, after)
				delta := writesOf(after).minus(writesOf(before))
				require.EqualValues(t, n, delta.creates, "each record is created once")
				require.Zero(t, delta.deletes)
				if kind != "uipath-group-licenses" {
					require.Zero(t, delta.updates, "a write whose answer was lost is found, not repeated")
				}
				held := map[string]int{
					"program-group-assignments": after.ProgramGroupAssignments,
					"user-group-assignments":    after.UserGroupAssignments,
					"program-user-assignments":  after.ProgramUserAssignments,
					"user-user-assignments":     after.UserUserAssignments,
					"program-suggestions":       after.ProgramSuggestions,
					"group-suggestions":         after.GroupSuggestions,
					"issuers":                   after.Issuers,
					"uipath-group-licenses":     after.UiPathGroupAllocations,
				}[kind]
				require.Equal(t, n, held)
			})
		}
	}
}

// TestSuggestionsBulkReplay sends rows some of which name unknown users:
// the bulk call counts fewer successes than rows, so the platform's rows
// are replayed one by one and each gets its own outcome.
func TestSuggestionsBulkReplay(t *testing.T) {
	t.Parallel()
	users := make([]sandbox.FixtureUser, 10)
	for i := range users {
		users[i] = sandbox.FixtureUser{ID: i + 1}
	}
	b := setup(t, sandbox.Config{Fixtures: &sandbox.Fixtures{Users: users}})
	b.startWorker(t, b.env.API, worker.Config{})
	rows := []row{
		{"platform_key": "acme", "program_key": "p1", "user_id": "1", "accepted": true},
		{"platform_key": "acme", "program_key": "p1", "user_id": "999"},
		{"platform_key": "globex", "program_key": "p1", "user_id": "1"},
		{"platform_key": "acme", "program_key": "p1", "user_id": "user2"},
		{"platform_key": "acme", "program_key": "p1", "user_id": "ghost"},
		{"platform_key": "globex", "program_key": "p2", "user_id": "3"},
	}
	bulk := "POST /api/catalog/suggestions/program/manage/bulk/"
	single := "POST /api/catalog/suggestions/program/manage/"

	meta, outs := b.runRows(t, "program-suggestions", rows, 100, false)
	require.Equal(t, 4, meta.Successes)
	want := []struct{ action, code, message string }{
		{created, "", ""},
		{jobs.ActionSkipped, "rejected", "the bulk call reported user_not_found:999"},
		{applied, "", ""},
		{created, "", ""},
		{jobs.ActionSkipped, "rejected", "the bulk call reported user_not_found:ghost"},
		{applied, "", ""},
	}
	for i, w := range want {
		require.Equal(t, w.action, outs[i].Action, "row %d: %+v", i, outs[i])
		require.Equal(t, w.code, outs[i].ErrorCode, "row %d", i)
		require.Contains(t, outs[i].Message, w.message, "row %d", i)
	}
	require.Contains(t, outs[1].Message, "user_id", "the single call's own error comes first")
	st := b.env.Sandbox.Stats()
	require.EqualValues(t, 2, st.ByEndpoint[bulk], "one bulk call per platform")
	require.EqualValues(t, 4, st.ByEndpoint[single], "the acme rows are replayed; globex's are not")
	require.Equal(t, 4, st.ProgramSuggestions)
	require.EqualValues(t, 4, st.Creates)
	require.EqualValues(t, 2, st.Updates, "the replay re-sends the two acme rows the bulk call wrote, changing nothing")

	// Again: the rows that exist are left out; the unknown users fail alike.
	meta, outs = b.runRows(t, "program-suggestions", rows, 100, false)
	require.Equal(t, 4, meta.Successes)
	for _, i := range []int{0, 2, 3, 5} {
		require.Equal(t, unchanged, outs[i].Action, "row %d", i)
	}
	require.Equal(t, "rejected", outs[1].ErrorCode)
	st2 := b.env.Sandbox.Stats()
	require.Equal(t, writesOf(st), writesOf(st2), "no change in the sandbox")
}

func TestUiPathCredentialsRefusedHaltsBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	b.startWorker(t, b.env.API, worker.Config{UiPath: b.uipathClient(t, "wrong-secret")})
	rows := faultRows("uipath-group-licenses", 5)
	meta, outs := b.runRows(t, "uipath-group-licenses", rows, 1, false)
	require.Equal(t, jobs.StateHalted, meta.State)
	require.Contains(t, meta.HaltReason, "UIPATH_CLIENT_SECRET")
	require.Zero(t, meta.Successes)
	failed := 0
	for _, o := range outs {
		if o.Status == jobs.StatusFailed {
			failed++
			require.Equal(t, "unauthorized", o.ErrorCode)
			require.Equal(t, 1, o.Attempts, "refused credentials are not retried")
		}
	}
	require.Positive(t, failed)
	require.Zero(t, b.env.Sandbox.Stats().UiPathGroupAllocations)
}

// TestTestdataTwice imports each sample file of these kinds through the
// importers, twice: every row succeeds, and the second import writes
// nothing (but UiPath's replacing PUTs, which UiPath cannot be asked
// about).
func TestTestdataTwice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		kind importers.Kind
	}{
		{"program-group-assignments.csv", importers.ProgramGroupAssignments},
		{"user-group-assignments.csv", importers.UserGroupAssignments},
		{"program-user-assignments.csv", importers.ProgramUserAssignments},
		{"user-user-assignments.csv", importers.UserUserAssignments},
		{"program-suggestions.csv", importers.ProgramSuggestions},
		{"program-suggestions-bulk.json", importers.ProgramSuggestions},
		{"group-suggestions.csv", importers.GroupSuggestions},
		{"issuers.csv", importers.Issuers},
		{"issuers.json", importers.Issuers},
		{"uipath-group-licenses.csv", importers.UiPathGroupLicenses},
		{"uipath-group-licenses.ndjson", importers.UiPathGroupLicenses},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.Config{})
			b.startWorker(t, b.env.API, worker.Config{UiPath: b.uipathClient(t, sandbox.DefaultUiPathClientSecret)})
			for _, licenses := range []string{"program-licenses.csv", "user-licenses.csv"} {
				meta := b.wait(t, b.importFile(t, readTestdata(t, licenses), ingest.Options{}).ID)
				require.Zero(t, meta.Failed, licenses)
			}
			opts := ingest.Options{Reader: importers.Options{Kind: tc.kind}}
			content := readTestdata(t, tc.file)

			first := b.wait(t, b.importFile(t, content, opts).ID)
			require.Equal(t, first.Total, first.Successes, "%+v", first)
			before := b.env.Sandbox.Stats()
			opts.NewBatch = true
			second := b.wait(t, b.importFile(t, content, opts).ID)
			require.Equal(t, second.Total, second.Successes)
			delta := writesOf(b.env.Sandbox.Stats()).minus(writesOf(before))
			_, rows := b.ledger(t, second.ID)
			if tc.kind == importers.UiPathGroupLicenses {
				require.Equal(t, writes{0, int64(second.Total), 0}, delta)
				return
			}
			require.Equal(t, writes{}, delta, "the second import changes nothing")
			for _, o := range rows {
				require.Equal(t, unchanged, o.Action, "line %d", o.Line)
			}
		})
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	require.NoError(t, err)
	return string(b)
}
