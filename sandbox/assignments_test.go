package sandbox

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGroupAssignments(t *testing.T) {
	t.Parallel()

	setupAssign := func(t *testing.T) *testBundle {
		t.Helper()
		b := setup(t, Config{})
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"create/", programLicense("p1")))
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, userLicensesPath+"create/", map[string]any{"platform_key": "acme", "name": "Seats"}))
		return b
	}
	const programPath = programLicensesPath + "assignment/group/"
	const userPath = userLicensesPath + "assignment/group/"

	t.Run("UpsertProgram", func(t *testing.T) {
		t.Parallel()
		b := setupAssign(t)
		res := b.call(t, http.MethodPost, programPath, map[string]any{"license_id": 1, "group_id": 7, "metadata": map[string]any{"a": 1}})
		requireStatus(t, http.StatusOK, res)
		created, modified := res.body["created"].(string), res.body["modified"].(string)
		require.Equal(t, jsonOf(t, `{
			"id": 1, "group_id": 7, "group_name": "Group 7", "active": true, "fulfilled": false, "redirect_to": "",
			"metadata": {"a": 1}, "license_id": 1, "license_name": "Data program",
			"created": "`+created+`", "modified": "`+modified+`", "program_key": "program-v1:acme+data+2024",
			"program_name": "program-v1:acme+data+2024", "user_count": 0, "assigned_count": 0}`), res.body)

		// Same (license, group): updated in place; license_id may come in the query.
		res = b.call(t, http.MethodPost, programPath+"?license_id=1", map[string]any{"group_id": 7, "active": false})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, float64(1), res.body["id"])
		require.Equal(t, false, res.body["active"])
		require.Equal(t, map[string]any{"a": float64(1)}, res.body["metadata"])

		st := b.srv.Stats()
		require.Equal(t, 1, st.ProgramGroupAssignments)
		require.Equal(t, int64(1), st.Updates)
	})

	t.Run("UpsertUserLicense", func(t *testing.T) {
		t.Parallel()
		b := setupAssign(t)
		res := b.call(t, http.MethodPost, userPath, map[string]any{"license_id": 1, "group_id": "3", "fulfilled": true})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, jsonOf(t, `{
			"id": 1, "group_id": 3, "group_name": "Group 3", "active": true, "fulfilled": true, "redirect_to": "",
			"metadata": {}, "license_id": 1, "license_name": "Seats", "platform_key": "acme"}`), res.body)
		require.Equal(t, 1, b.srv.Stats().UserGroupAssignments)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		b := setupAssign(t)
		tests := []struct {
			name   string
			body   map[string]any
			status int
			want   string
		}{
			{"Missing", map[string]any{}, 400, `{"license_id": ["This field is required."], "group_id": ["This field is required."]}`},
			{"BadGroup", map[string]any{"license_id": 1, "group_id": "x"}, 400, `{"group_id": ["A valid integer is required."]}`},
			{"UnknownLicense", map[string]any{"license_id": 9, "group_id": 1}, 404, `{"detail": "License not found."}`},
			{"OtherPlatform", map[string]any{"license_id": 1, "group_id": 1, "platform_key": "other"}, 404, `{"detail": "License not found."}`},
			{"UnknownGroup", map[string]any{"license_id": 1, "group_id": 1001}, 404, `{"detail": "Group not found."}`},
		}
		for _, tt := range tests {
			res := b.call(t, http.MethodPost, programPath, tt.body)
			requireStatus(t, tt.status, res)
			require.Equal(t, jsonOf(t, tt.want), res.body, tt.name)
		}
	})

	t.Run("ListAndDelete", func(t *testing.T) {
		t.Parallel()
		b := setupAssign(t)
		for g := 1; g <= 5; g++ {
			requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programPath, map[string]any{"license_id": 1, "group_id": g, "active": g%2 == 1}))
		}
		res := b.call(t, http.MethodGet, programPath+"?license_id=1&page_size=2", nil)
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, float64(5), res.body["count"])
		require.NotNil(t, res.body["next_page"])
		require.Equal(t, float64(1), res.body["results"].([]any)[0].(map[string]any)["group_id"])

		res = b.call(t, http.MethodGet, programPath+"?license_id=1&group_id=4", nil)
		require.Equal(t, float64(1), res.body["count"])
		res = b.call(t, http.MethodGet, programPath+"?license_id=1&active=false", nil)
		require.Equal(t, float64(2), res.body["count"])

		res = b.call(t, http.MethodGet, programPath, nil)
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, jsonOf(t, `{"license_id": ["This field is required."]}`), res.body)
		requireStatus(t, http.StatusNotFound, b.call(t, http.MethodGet, programPath+"?license_id=5", nil))

		res = b.call(t, http.MethodDelete, programPath+"?assignment_id=2&license_id=1&remove_user_assignments=true", nil)
		requireStatus(t, http.StatusOK, res)
		require.Empty(t, res.raw, "a delete answers no body")
		res = b.call(t, http.MethodDelete, programPath+"?assignment_id=2&license_id=1", nil)
		requireStatus(t, http.StatusNotFound, res)
		require.Equal(t, jsonOf(t, `{"detail": "Assignment not found."}`), res.body)
		requireStatus(t, http.StatusNotFound, b.call(t, http.MethodDelete, userPath+"?assignment_id=3&license_id=1", nil))
		res = b.call(t, http.MethodDelete, programPath+"?assignment_id=3", nil)
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, jsonOf(t, `{"license_id": ["This field is required."]}`), res.body)
		res = b.call(t, http.MethodDelete, programPath+"?assignment_id=3&license_id=1&remove_user_assignments=perhaps", nil)
		requireStatus(t, http.StatusBadRequest, res)

		st := b.srv.Stats()
		require.Equal(t, 4, st.ProgramGroupAssignments)
		require.Equal(t, int64(1), st.Deletes)
		res = b.call(t, http.MethodGet, programPath+"?license_id=1", nil)
		require.Equal(t, float64(4), res.body["count"])
	})
}

func TestUserAssignments(t *testing.T) {
	t.Parallel()
	const programPath = programLicensesPath + "assignment/"
	const userPath = userLicensesPath + "assignment/"

	b := setup(t, Config{Fixtures: &Fixtures{
		Users:  []FixtureUser{{ID: 1, Email: "ada@example.com", Username: "ada", Name: "Ada L"}, {ID: 2, Email: "bob@example.com"}},
		Groups: []int{1},
	}})
	requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"create/", programLicense("p1")))
	requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, userLicensesPath+"create/", map[string]any{"platform_key": "acme"}))

	res := b.call(t, http.MethodPost, programPath, map[string]any{"license_id": 1, "email": "ADA@example.com", "direct": false})
	requireStatus(t, http.StatusOK, res)
	created, modified := res.body["created"].(string), res.body["modified"].(string)
	require.Equal(t, jsonOf(t, `{
		"id": 1, "user_id": 1, "username": "ada", "email": "ada@example.com", "active": true, "fulfilled": false,
		"redirect_to": "", "metadata": {}, "license_id": 1, "license_name": "Data program",
		"name": "Ada L", "direct": false, "created": "`+created+`", "modified": "`+modified+`",
		"program_key": "program-v1:acme+data+2024"}`), res.body)

	// By user_id and by username the key is the same user.
	requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programPath, map[string]any{"license_id": 1, "user_id": 1}))
	requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programPath, map[string]any{"license_id": 1, "username": "ada"}))
	requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programPath, map[string]any{"license_id": 1, "user_id": 2}))

	res = b.call(t, http.MethodPost, userPath, map[string]any{"license_id": 1, "user_id": "2"})
	requireStatus(t, http.StatusOK, res)
	require.Equal(t, "user2", res.body["username"])
	require.NotContains(t, res.body, "direct")

	for _, tt := range []struct {
		path   string
		body   map[string]any
		status int
		want   string
	}{
		{programPath, map[string]any{"license_id": 1}, 400, `{"non_field_errors": ["Either user_id or email is required."]}`},
		{userPath, map[string]any{"license_id": 1, "username": "ada"}, 400, `{"non_field_errors": ["Either user_id or email is required."]}`},
		{programPath, map[string]any{"license_id": 1, "user_id": 3}, 404, `{"detail": "User not found."}`},
		{programPath, map[string]any{"license_id": 1, "email": "eve@example.com"}, 404, `{"detail": "User not found."}`},
		{userPath, map[string]any{"license_id": 2, "user_id": 1}, 404, `{"detail": "License not found."}`},
	} {
		res := b.call(t, http.MethodPost, tt.path, tt.body)
		requireStatus(t, tt.status, res)
		require.Equal(t, jsonOf(t, tt.want), res.body, "%v", tt.body)
	}

	res = b.call(t, http.MethodGet, programLicensesPath+"?external_id=p1", nil)
	require.Equal(t, float64(2), res.body["results"].([]any)[0].(map[string]any)["usage_count"])

	res = b.call(t, http.MethodGet, programPath+"?license_id=1&email=bob@example.com", nil)
	requireStatus(t, http.StatusOK, res)
	require.Equal(t, float64(1), res.body["count"])
	res = b.call(t, http.MethodGet, programPath+"?license_id=1&user_id=1&sort=-id", nil)
	require.Equal(t, float64(1), res.body["count"])
	// User-license lists ignore the program-only filters.
	res = b.call(t, http.MethodGet, userPath+"?license_id=1&user_id=1", nil)
	require.Equal(t, float64(1), res.body["count"])

	requireStatus(t, http.StatusOK, b.call(t, http.MethodDelete, programPath+"?assignment_id=1&license_id=1", nil))
	requireStatus(t, http.StatusNotFound, b.call(t, http.MethodDelete, programPath+"?assignment_id=1&license_id=1", nil))
	st := b.srv.Stats()
	require.Equal(t, 1, st.ProgramUserAssignments)
	require.Equal(t, 1, st.UserUserAssignments)
	require.Equal(t, int64(1), st.Deletes)
}
