package dmapi_test

import (
	"net/http"
	"testing"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

func TestSuggestions(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	ctx := t.Context()

	for _, tt := range []struct {
		name        string
		body        map[string]any
		wantCreated bool
		wantVisible bool
	}{
		{"Creates", map[string]any{"platform_key": "acme", "program_key": "p1", "user_id": 5}, true, true},
		{"Updates", map[string]any{"platform_key": "acme", "program_key": "p1", "user_id": "user5", "visible": false}, false, false},
		{"CreatesAnother", map[string]any{"platform_key": "acme", "program_key": "p2", "user_id": 5}, true, true},
	} {
		s, created, err := b.api.UpsertSuggestion(ctx, tt.body)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.wantCreated, created, tt.name)
		require.Equal(t, tt.wantVisible, s.Visible, tt.name)
		require.Equal(t, int64(5), s.UserID, tt.name)
		require.Equal(t, "user5", s.Username, tt.name)
		require.Equal(t, tt.body["program_key"], s.ProgramKey, tt.name)
		require.NotNil(t, s.Created, tt.name)
		require.Equal(t, "platform_key=acme", b.last(t).query, tt.name)
	}

	_, _, err := b.api.UpsertSuggestion(ctx, map[string]any{"platform_key": "acme", "program_key": "p1"})
	requireStatus(t, err, http.StatusBadRequest, dmapi.Permanent)
	require.ErrorContains(t, err, "user_id: This field is required.")

	p, err := b.api.ListSuggestions(ctx, dmapi.SuggestionQuery{PlatformKey: "acme", PageSize: 1})
	require.NoError(t, err)
	require.Equal(t, 2, p.Count)
	require.True(t, p.HasNext())
	require.Equal(t, "p2", p.Results[0].ProgramKey) // newest first

	p, err = b.api.ListSuggestions(ctx, dmapi.SuggestionQuery{PlatformKey: "acme", Query: "p1"})
	require.NoError(t, err)
	require.Len(t, p.Results, 1)
	id := p.Results[0].ID

	require.NoError(t, b.api.DeleteSuggestion(ctx, id, "acme"))
	require.Equal(t, "platform_key=acme&suggestion_id=1", b.last(t).query)
	requireStatus(t, b.api.DeleteSuggestion(ctx, id, "acme"), http.StatusNotFound, dmapi.Permanent)
}

func TestBulkSuggestions(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	ctx := t.Context()

	for _, tt := range []struct {
		name string
		req  dmapi.BulkRequest
		want dmapi.BulkResponse
	}{
		{
			name: "AllGood",
			req: dmapi.BulkRequest{PlatformKey: "acme", SuggestionData: []map[string]any{
				{"program_key": "p1", "user_id": 1}, {"program_key": "p1", "user_id": "user2", "visible": false},
			}},
			want: dmapi.BulkResponse{Successes: 2, ErrorCodes: []string{}},
		},
		{
			name: "SomeBad",
			req: dmapi.BulkRequest{PlatformKey: "acme", PlatformOrg: "acme", DepartmentMode: true, SuggestionData: []map[string]any{
				{"program_key": "p1", "user_id": 1}, {"program_key": "p1", "user_id": "nobody"}, {"user_id": 3},
			}},
			want: dmapi.BulkResponse{Successes: 1, ErrorCodes: []string{"user_not_found:nobody", "missing_field:program_key"}},
		},
	} {
		res, err := b.api.BulkSuggestions(ctx, tt.req)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.want, res, tt.name)
	}
	require.JSONEq(t, `{"platform_key": "acme", "platform_org": "acme", "department_mode": true, "suggestion_data": [
		{"program_key": "p1", "user_id": 1}, {"program_key": "p1", "user_id": "nobody"}, {"user_id": 3}]}`, string(b.last(t).body))
	require.Equal(t, 2, b.srv.Stats().ProgramSuggestions)

	_, err := b.api.BulkSuggestions(ctx, dmapi.BulkRequest{PlatformKey: "acme", SuggestionData: []map[string]any{
		{"program_key": "p1", "user_id": 1, "platform_key": "other"},
	}})
	requireStatus(t, err, http.StatusBadRequest, dmapi.Permanent)
	require.ErrorContains(t, err, "All items must belong to platform_key.")
}

func TestGroupSuggestions(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	ctx := t.Context()

	const n = 510 // more than one page of the scan
	for g := 1; g <= n; g++ {
		s, err := b.api.UpsertGroupSuggestion(ctx, map[string]any{"platform_key": "acme", "program_key": "p1", "group_id": g})
		require.NoError(t, err)
		require.Equal(t, int64(g), s.GroupID)
	}
	require.Equal(t, "platform_key=acme", b.last(t).query)
	updated, err := b.api.UpsertGroupSuggestion(ctx, map[string]any{"platform_key": "acme", "program_key": "p1", "group_id": n, "accepted": true})
	require.NoError(t, err)
	require.True(t, updated.Accepted)
	require.Equal(t, "Group 510", updated.GroupName)

	p, err := b.api.ListGroupSuggestions(ctx, dmapi.GroupSuggestionQuery{PlatformKey: "acme", PageSize: 10})
	require.NoError(t, err)
	require.Equal(t, n, p.Count)
	require.NotEmpty(t, p.NextPage) // this list's envelope says next_page
	require.Empty(t, p.Next)
	require.True(t, p.HasNext())

	const listPath = "/api/catalog/suggestions/program/manage/group/"
	for _, tt := range []struct {
		name      string
		program   string
		group     int64
		wantFound bool
		wantGets  int // list requests made
	}{
		{"FirstPage", "p1", 1, true, 1},
		{"SecondPage", "p1", n, true, 2},
		{"OtherProgram", "p2", 1, false, 2},
		{"NoSuchGroup", "p1", n + 1, false, 2},
	} {
		before := b.count(http.MethodGet, listPath)
		s, err := b.api.FindGroupSuggestion(ctx, "acme", tt.program, tt.group)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.wantGets, b.count(http.MethodGet, listPath)-before, tt.name)
		if !tt.wantFound {
			require.Nil(t, s, tt.name)
			continue
		}
		require.Equal(t, tt.group, s.GroupID, tt.name)
	}

	require.NoError(t, b.api.DeleteGroupSuggestion(ctx, updated.ID, "acme"))
	require.Equal(t, "platform_key=acme&suggestion_id=510", b.last(t).query)
	requireStatus(t, b.api.DeleteGroupSuggestion(ctx, updated.ID, "acme"), http.StatusNotFound, dmapi.Permanent)
	gone, err := b.api.FindGroupSuggestion(ctx, "acme", "p1", n)
	require.NoError(t, err)
	require.Nil(t, gone)
}
