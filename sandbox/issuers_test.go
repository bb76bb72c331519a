package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

const issuersPath = "/api/credentials/orgs/acme/users/7/issuers/"

// issuerBody is a valid issuer create or update body.
func issuerBody(entityID string) map[string]any {
	return map[string]any{"entityId": entityID, "iconImage": "https://x/" + entityID + ".png"}
}

func TestIssuers(t *testing.T) {
	t.Parallel()

	t.Run("Create", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		body := issuerBody("abc123")
		body["allowed_template_tags"] = []string{"a"}
		body["name"] = "Example University"
		body["email"] = "x@example.com"
		body["url"] = "https://example.com"
		res := b.call(t, http.MethodPost, issuersPath+"?q=string", body)
		requireStatus(t, http.StatusOK, res)
		// name and url are the server's; email is not answered.
		require.Equal(t, jsonOf(t, `{"status": {"success": true, "description": "Created"}, "result": {
			"name": "acme", "org": "acme", "entityId": "abc123", "signatories": {}, "url": "",
			"iconImage": "https://x/abc123.png", "allowed_template_tags": ["a"]}}`), res.body)
		stored, found := b.srv.Issuer("abc123")
		require.True(t, found)
		require.Equal(t, "Example University", *stored.Name)
		require.Equal(t, "x@example.com", *stored.Email)
		require.Equal(t, "https://example.com", *stored.URL)

		// The path's user may be a username.
		res = b.call(t, http.MethodPost, "/api/credentials/orgs/acme/users/user3/issuers/", issuerBody("e2"))
		requireStatus(t, http.StatusOK, res)
		require.Nil(t, res.body["result"].(map[string]any)["allowed_template_tags"])
		stored, _ = b.srv.Issuer("e2")
		require.Nil(t, stored.Email, "never sent")
		require.Equal(t, 2, b.srv.Stats().Issuers)
	})

	t.Run("CreateErrors", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, issuersPath, issuerBody("abc123")))
		tests := []struct {
			name   string
			path   string
			body   map[string]any
			status int
			want   string
		}{
			{"Duplicate", issuersPath, issuerBody("abc123"), 400, `{"entityId": ["issuer with this entityId already exists."]}`},
			{"DocstringBody", issuersPath, map[string]any{"name": "n", "email": "e@x"}, 400,
				`{"entityId": ["This field is required."], "iconImage": ["This field is required."]}`},
			{"BlankEntityID", issuersPath, map[string]any{"entityId": " ", "iconImage": "i"}, 400, `{"entityId": ["This field may not be blank."]}`},
			{"TagsNotList", issuersPath, map[string]any{"entityId": "t", "iconImage": "i", "allowed_template_tags": "a"}, 400,
				`{"allowed_template_tags": ["Expected a list of items but got type \"str\"."]}`},
			{"TagsNotStrings", issuersPath, map[string]any{"entityId": "t", "iconImage": "i", "allowed_template_tags": []int{1}}, 400,
				`{"allowed_template_tags": ["Not a valid string."]}`},
			{"UndefinedUser", "/api/credentials/orgs/acme/users/undefined/issuers/", issuerBody("u"), 404, `{"detail": "Not found."}`},
			{"UnknownUserID", "/api/credentials/orgs/acme/users/0/issuers/", issuerBody("u"), 404, `{"detail": "Not found."}`},
		}
		for _, tt := range tests {
			res := b.call(t, http.MethodPost, tt.path, tt.body)
			requireStatus(t, tt.status, res)
			require.Equal(t, jsonOf(t, tt.want), res.body, tt.name)
		}
		require.Equal(t, 1, b.srv.Stats().Issuers)
	})

	t.Run("GetUpdateDelete", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, issuersPath, issuerBody("e1")))

		res := b.call(t, http.MethodGet, issuersPath+"e1", nil)
		requireStatus(t, http.StatusOK, res)
		require.JSONEq(t, `[{"name": "acme", "org": "acme", "entityId": "e1", "signatories": {}, "url": "",
			"iconImage": "https://x/e1.png", "allowed_template_tags": null}]`, string(res.raw))
		requireStatus(t, http.StatusNotFound, b.call(t, http.MethodGet, "/api/credentials/orgs/other/users/7/issuers/e1", nil))
		requireStatus(t, http.StatusNotFound, b.call(t, http.MethodGet, "/api/credentials/orgs/acme/users/undefined/issuers/e1", nil))

		body := map[string]any{"entityId": "e1", "iconImage": "new.png", "email": "a@x", "allowed_template_tags": []string{"t"}}
		res = b.call(t, http.MethodPut, issuersPath+"e1", body)
		requireStatus(t, http.StatusOK, res)
		var answer []map[string]any
		require.NoError(t, json.Unmarshal(res.raw, &answer))
		require.Len(t, answer, 1)
		require.Equal(t, "new.png", answer[0]["iconImage"])
		require.NotContains(t, answer[0], "email")
		stored, _ := b.srv.Issuer("e1")
		require.Equal(t, "a@x", *stored.Email)

		for _, tt := range []struct {
			body   map[string]any
			status int
			want   string
		}{
			{map[string]any{"entityId": "e2", "iconImage": "i"}, 400, `{"entityId": ["entityId cannot be changed."]}`},
			{map[string]any{"name": "x"}, 400, `{"entityId": ["This field is required."], "iconImage": ["This field is required."]}`},
		} {
			res = b.call(t, http.MethodPut, issuersPath+"e1", tt.body)
			requireStatus(t, tt.status, res)
			require.Equal(t, jsonOf(t, tt.want), res.body)
		}
		requireStatus(t, http.StatusNotFound, b.call(t, http.MethodPut, issuersPath+"nope", issuerBody("nope")))

		res = b.call(t, http.MethodDelete, issuersPath+"e1", nil)
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, jsonOf(t, `{"status": {"success": true, "description": "Deleted"}}`), res.body)
		res = b.call(t, http.MethodDelete, issuersPath+"e1", nil)
		requireStatus(t, http.StatusNotFound, res)
		require.Equal(t, jsonOf(t, `{"detail": "Issuer not found."}`), res.body)

		st := b.srv.Stats()
		require.Zero(t, st.Issuers)
		require.Equal(t, int64(1), st.Updates)
		require.Equal(t, int64(1), st.Deletes)
		require.Equal(t, int64(2), st.ByEndpoint["DELETE /api/credentials/orgs/{org}/users/{user}/issuers/{entity_id}"])
	})

	t.Run("SchemaForms", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{IssuerSchemaForms: true})
		want := jsonOf(t, `{"name": "acme", "org": "acme", "entityId": "e1", "signatories": {}, "url": "",
			"iconImage": "https://x/e1.png", "allowed_template_tags": null}`)
		res := b.call(t, http.MethodPost, issuersPath, issuerBody("e1"))
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, want, res.body)
		res = b.call(t, http.MethodGet, issuersPath+"e1", nil)
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, want, res.body)
		res = b.call(t, http.MethodPut, issuersPath+"e1", issuerBody("e1"))
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, want, res.body)
		res = b.call(t, http.MethodDelete, issuersPath+"e1", nil)
		requireStatus(t, http.StatusNoContent, res)
		require.Empty(t, res.raw)
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		for i := 1; i <= 5; i++ {
			requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, issuersPath, issuerBody(fmt.Sprintf("e%d", i))))
		}
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, "/api/credentials/orgs/other/users/7/issuers/", issuerBody("e9")))

		res := b.call(t, http.MethodGet, issuersPath+"?limit=2&offset=2", nil)
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, map[string]any{"success": true, "description": "Ok"}, res.body["status"])
		result := res.body["result"].(map[string]any)
		require.Equal(t, float64(5), result["count"])
		require.Equal(t, float64(3), result["num_pages"])
		require.Equal(t, float64(2), result["page_number"])
		require.Equal(t, float64(1000), result["max_page_size"])
		data := result["data"].([]any)
		require.Len(t, data, 2)
		require.Equal(t, "e3", data[0].(map[string]any)["entityId"])
		next, err := url.Parse(result["next"].(string))
		require.NoError(t, err)
		require.Equal(t, url.Values{"limit": {"2"}, "offset": {"4"}}, next.Query())
		prev, err := url.Parse(result["previous"].(string))
		require.NoError(t, err)
		require.Equal(t, url.Values{"limit": {"2"}, "offset": {"0"}}, prev.Query())

		// q searches the issuers' names, which are the org's.
		for q, count := range map[string]float64{"ACM": 5, "other": 0} {
			res = b.call(t, http.MethodGet, issuersPath+"?q="+q, nil)
			result = res.body["result"].(map[string]any)
			require.Equal(t, count, result["count"], q)
			require.Nil(t, result["next"])
			require.Nil(t, result["previous"])
		}

		res = b.call(t, http.MethodGet, issuersPath+"?offset=10", nil)
		result = res.body["result"].(map[string]any)
		require.Empty(t, result["data"])
		requireStatus(t, http.StatusNotFound, b.call(t, http.MethodGet, "/api/credentials/orgs/acme/users/undefined/issuers/", nil))
	})
}
