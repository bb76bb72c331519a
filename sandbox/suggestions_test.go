package sandbox

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	suggestionsPath      = "/api/catalog/suggestions/program/manage/"
	groupSuggestionsPath = suggestionsPath + "group/"
)

func TestSuggestions(t *testing.T) {
	t.Parallel()

	t.Run("UpsertListDelete", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		body := map[string]any{"platform_key": "acme", "program_key": "prog-1", "user_id": 5, "metadata": map[string]any{"k": "v"}}
		res := b.call(t, http.MethodPost, suggestionsPath, body)
		requireStatus(t, http.StatusCreated, res)
		created, modified := res.body["created"].(string), res.body["modified"].(string)
		require.Equal(t, jsonOf(t, `{
			"id": 1, "user_id": 5, "username": "user5", "name": "User 5", "platform_key": "acme",
			"accepted": false, "visible": true, "created": "`+created+`", "modified": "`+modified+`",
			"metadata": {"k": "v"}, "program_key": "prog-1", "program_name": "prog-1"}`), res.body)

		// The same (platform, program, user) updates; platform_key may be a query parameter.
		res = b.call(t, http.MethodPost, suggestionsPath+"?platform_key=acme", map[string]any{"program_key": "prog-1", "user_id": "user5", "accepted": true})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, float64(1), res.body["id"])
		require.Equal(t, true, res.body["accepted"])

		requireStatus(t, http.StatusCreated, b.call(t, http.MethodPost, suggestionsPath, map[string]any{"platform_key": "acme", "program_key": "prog-2", "user_id": 5}))
		requireStatus(t, http.StatusCreated, b.call(t, http.MethodPost, suggestionsPath, map[string]any{"platform_key": "other", "program_key": "prog-1", "user_id": 5}))

		res = b.call(t, http.MethodGet, suggestionsPath+"?platform_key=acme", nil)
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, float64(2), res.body["count"])
		require.Equal(t, float64(2), res.body["results"].([]any)[0].(map[string]any)["id"]) // -id
		res = b.call(t, http.MethodGet, suggestionsPath+"?platform_key=acme&query=PROG-2", nil)
		require.Equal(t, float64(1), res.body["count"])
		res = b.call(t, http.MethodGet, suggestionsPath, nil)
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, jsonOf(t, `{"platform_key": ["This field is required."]}`), res.body)

		res = b.call(t, http.MethodDelete, suggestionsPath+"?suggestion_id=1", nil)
		requireStatus(t, http.StatusOK, res)
		require.Empty(t, res.raw, "a delete answers no body")
		res = b.call(t, http.MethodDelete, suggestionsPath+"?suggestion_id=1", nil)
		requireStatus(t, http.StatusNotFound, res)
		require.Equal(t, jsonOf(t, `{"detail": "Suggestion does not exist."}`), res.body)
		requireStatus(t, http.StatusNotFound, b.call(t, http.MethodDelete, suggestionsPath+"?suggestion_id=2&platform_key=other", nil))

		st := b.srv.Stats()
		require.Equal(t, 2, st.ProgramSuggestions)
		require.Equal(t, int64(3), st.Creates)
		require.Equal(t, int64(1), st.Updates)
		require.Equal(t, int64(1), st.Deletes)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{Fixtures: &Fixtures{Users: []FixtureUser{{ID: 1}}, Programs: []string{"prog-1"}}})
		for _, tt := range []struct {
			body any
			want string
		}{
			{map[string]any{}, `{"platform_key": ["This field is required."], "program_key": ["This field is required."], "user_id": ["This field is required."]}`},
			{map[string]any{"platform_key": "acme", "program_key": "prog-1", "user_id": 2}, `{"user_id": ["User not found."]}`},
			{map[string]any{"platform_key": "acme", "program_key": "prog-9", "user_id": 1}, `{"program_key": ["Program not found."]}`},
			{map[string]any{"platform_key": "acme", "program_key": "prog-1", "user_id": 1, "visible": "sometimes"}, `{"visible": ["Must be a valid boolean."]}`},
		} {
			res := b.call(t, http.MethodPost, suggestionsPath, tt.body)
			requireStatus(t, http.StatusBadRequest, res)
			require.Equal(t, jsonOf(t, tt.want), res.body)
		}
		requireStatus(t, http.StatusBadRequest, b.call(t, http.MethodDelete, suggestionsPath, nil))
	})
}

func TestBulkSuggestions(t *testing.T) {
	t.Parallel()
	const path = suggestionsPath + "bulk/"

	t.Run("MixedItems", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{Fixtures: &Fixtures{Users: []FixtureUser{{ID: 1}, {ID: 2}}, Programs: []string{"p1", "p2"}}})
		res := b.call(t, http.MethodPost, path, map[string]any{
			"platform_key": "acme",
			"suggestion_data": []any{
				map[string]any{"program_key": "p1", "user_id": 1},
				map[string]any{"program_key": "p2", "user_id": "2", "accepted": true, "metadata": map[string]any{}},
				map[string]any{"program_key": "p1", "user_id": 1, "visible": false}, // upserts the first
				map[string]any{"user_id": 1},
				map[string]any{"program_key": "p1", "user_id": 9},
				map[string]any{"program_key": "p9", "user_id": 1},
				map[string]any{"program_key": "p1", "user_id": 1, "accepted": "x", "metadata": 1},
				"not an object",
				map[string]any{"program_key": "p1", "user_id": 2, "platform_key": "acme"},
			},
		})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, jsonOf(t, `{"successes": 4, "error_codes": [
			"missing_field:program_key", "user_not_found:9", "program_not_found:p9",
			"invalid_field:accepted", "invalid_field:metadata", "invalid_item"]}`), res.body)
		st := b.srv.Stats()
		require.Equal(t, 3, st.ProgramSuggestions)
		require.Equal(t, int64(3), st.Creates)
		require.Equal(t, int64(1), st.Updates)

		res = b.call(t, http.MethodGet, suggestionsPath+"?platform_key=acme&sort=id", nil)
		first := res.body["results"].([]any)[0].(map[string]any)
		require.Equal(t, false, first["visible"])
	})

	t.Run("RequestErrors", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		for _, tt := range []struct {
			body any
			want string
		}{
			{map[string]any{}, `{"platform_key": ["This field is required."], "suggestion_data": ["This field is required."]}`},
			{map[string]any{"platform_key": "a", "suggestion_data": map[string]any{}}, `{"suggestion_data": ["Expected a list of items but got type \"dict\"."]}`},
			{map[string]any{"platform_key": "a", "suggestion_data": []any{
				map[string]any{"program_key": "p1", "user_id": 1},
				map[string]any{"program_key": "p1", "user_id": 2, "platform_key": "b"},
			}}, `{"suggestion_data": ["All items must belong to platform_key."]}`},
		} {
			res := b.call(t, http.MethodPost, path, tt.body)
			requireStatus(t, http.StatusBadRequest, res)
			require.Equal(t, jsonOf(t, tt.want), res.body)
		}
		res := b.call(t, http.MethodPost, path, map[string]any{"platform_key": "a", "suggestion_data": []any{}})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, jsonOf(t, `{"successes": 0, "error_codes": []}`), res.body)
		require.Zero(t, b.srv.Stats().ProgramSuggestions)
	})

	t.Run("FailAfterWrite", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{FailAfterWrite: 1})
		res := b.call(t, http.MethodPost, path, map[string]any{"platform_key": "a", "suggestion_data": []any{map[string]any{"program_key": "p", "user_id": 1}}})
		requireStatus(t, http.StatusServiceUnavailable, res)
		require.Equal(t, 1, b.srv.Stats().ProgramSuggestions)
		// A bulk that wrote nothing answers normally.
		res = b.call(t, http.MethodPost, path, map[string]any{"platform_key": "a", "suggestion_data": []any{map[string]any{"user_id": 1}}})
		requireStatus(t, http.StatusOK, res)
	})
}

func TestGroupSuggestions(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})

	res := b.call(t, http.MethodPost, groupSuggestionsPath, map[string]any{"platform_key": "acme", "program_key": "p1", "group_id": 4})
	requireStatus(t, http.StatusOK, res)
	created, modified := res.body["created"].(string), res.body["modified"].(string)
	require.Equal(t, jsonOf(t, `{
		"id": 1, "group_id": 4, "group_name": "Group 4", "platform_key": "acme", "accepted": false, "visible": true,
		"created": "`+created+`", "modified": "`+modified+`", "metadata": {}, "program_key": "p1",
		"program_name": "p1", "user_count": 0}`), res.body)
	res = b.call(t, http.MethodPost, groupSuggestionsPath, map[string]any{"platform_key": "acme", "program_key": "p1", "group_id": "4", "visible": false})
	requireStatus(t, http.StatusOK, res)
	require.Equal(t, float64(1), res.body["id"])
	for g := 5; g <= 7; g++ {
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, groupSuggestionsPath, map[string]any{"platform_key": "acme", "program_key": "p2", "group_id": g}))
	}

	res = b.call(t, http.MethodGet, groupSuggestionsPath+"?platform_key=acme&page_size=3", nil)
	requireStatus(t, http.StatusOK, res)
	require.Equal(t, float64(4), res.body["count"])
	require.NotNil(t, res.body["next_page"])
	require.Nil(t, res.body["previous_page"])
	require.NotContains(t, res.body, "next")
	require.Equal(t, float64(1), res.body["results"].([]any)[0].(map[string]any)["id"]) // sort=id
	res = b.call(t, http.MethodGet, groupSuggestionsPath+"?platform_key=acme&query=group+6", nil)
	require.Equal(t, float64(1), res.body["count"])
	requireStatus(t, http.StatusBadRequest, b.call(t, http.MethodGet, groupSuggestionsPath, nil))

	for _, tt := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"platform_key": "acme", "program_key": "p1"}, `{"group_id": ["This field is required."]}`},
		{map[string]any{"platform_key": "acme", "program_key": "p1", "group_id": 5000}, `{"group_id": ["Group not found."]}`},
	} {
		res := b.call(t, http.MethodPost, groupSuggestionsPath, tt.body)
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, jsonOf(t, tt.want), res.body)
	}

	res = b.call(t, http.MethodDelete, groupSuggestionsPath+"?suggestion_id=1", nil)
	requireStatus(t, http.StatusBadRequest, res)
	require.Equal(t, jsonOf(t, `{"platform_key": ["This field is required."]}`), res.body)
	requireStatus(t, http.StatusNotFound, b.call(t, http.MethodDelete, groupSuggestionsPath+"?suggestion_id=1&platform_key=other", nil))
	requireStatus(t, http.StatusOK, b.call(t, http.MethodDelete, groupSuggestionsPath+"?suggestion_id=1&platform_key=acme", nil))
	requireStatus(t, http.StatusNotFound, b.call(t, http.MethodDelete, groupSuggestionsPath+"?suggestion_id=1&platform_key=acme", nil))
	require.Equal(t, 3, b.srv.Stats().GroupSuggestions)
	require.Zero(t, b.srv.Stats().ProgramSuggestions)
}
