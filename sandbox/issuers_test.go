package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

const issuersPath = "/api/credentials/orgs/acme/users/7/issuers/"

func TestIssuers(t *testing.T) {
	t.Parallel()

	t.Run("CreateBothForms", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		res := b.call(t, http.MethodPost, issuersPath+"?q=string", map[string]any{
			"entityId": "abc123", "iconImage": "https://x/logo.png", "allowed_template_tags": []string{"a"},
		})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, jsonOf(t, `{"status": {"success": true, "description": "Created"}, "result": {
			"name": "abc123", "org": "acme", "entityId": "abc123", "signatories": {}, "url": "",
			"iconImage": "https://x/logo.png", "email": "", "allowed_template_tags": ["a"]}}`), res.body)

		res = b.call(t, http.MethodPost, "/api/credentials/orgs/acme/users/admin/issuers/", map[string]any{
			"name": "Example University", "email": "x@example.com", "url": "https://example.com",
		})
		requireStatus(t, http.StatusOK, res)
		result := res.body["result"].(map[string]any)
		require.Equal(t, "Example University", result["name"])
		require.Equal(t, "issuer-2", result["entityId"])
		require.Nil(t, result["allowed_template_tags"])

		res = b.call(t, http.MethodPost, issuersPath, map[string]any{"entityId": "abc123", "iconImage": "i"})
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, jsonOf(t, `{"entityId": ["issuer with this entityId already exists."]}`), res.body)
		res = b.call(t, http.MethodPost, issuersPath, map[string]any{"iconImage": "i"})
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, jsonOf(t, `{"name": ["This field is required."]}`), res.body)
		res = b.call(t, http.MethodPost, issuersPath, map[string]any{"name": "n", "allowed_template_tags": "a"})
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, jsonOf(t, `{"allowed_template_tags": ["Expected a list of items but got type \"str\"."]}`), res.body)
		res = b.call(t, http.MethodPost, issuersPath, map[string]any{"name": "n", "allowed_template_tags": []int{1}})
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, 2, b.srv.Stats().Issuers)
	})

	t.Run("GetUpdateDelete", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, issuersPath, map[string]any{"entityId": "e1", "name": "One"}))

		res := b.call(t, http.MethodGet, issuersPath+"e1", nil)
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, "One", res.body["name"])
		requireStatus(t, http.StatusNotFound, b.call(t, http.MethodGet, "/api/credentials/orgs/other/users/7/issuers/e1", nil))

		res = b.call(t, http.MethodPut, issuersPath+"e1", map[string]any{"entityId": "e1", "iconImage": "new.png", "allowed_template_tags": nil})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, "new.png", res.body["iconImage"])
		require.Equal(t, "One", res.body["name"])
		res = b.call(t, http.MethodPut, issuersPath+"e1", map[string]any{"entityId": "e2"})
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, jsonOf(t, `{"entityId": ["entityId cannot be changed."]}`), res.body)
		requireStatus(t, http.StatusNotFound, b.call(t, http.MethodPut, issuersPath+"nope", map[string]any{"name": "x"}))

		res = b.call(t, http.MethodDelete, issuersPath+"e1", nil)
		requireStatus(t, http.StatusNoContent, res)
		require.Empty(t, res.raw)
		res = b.call(t, http.MethodDelete, issuersPath+"e1", nil)
		requireStatus(t, http.StatusNotFound, res)
		require.Equal(t, jsonOf(t, `{"detail": "Issuer not found."}`), res.body)

		st := b.srv.Stats()
		require.Zero(t, st.Issuers)
		require.Equal(t, int64(1), st.Updates)
		require.Equal(t, int64(1), st.Deletes)
		require.Equal(t, int64(2), st.ByEndpoint["DELETE /api/credentials/orgs/{org}/users/{user}/issuers/{entity_id}"])
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		for i := 1; i <= 5; i++ {
			requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, issuersPath, map[string]any{"name": fmt.Sprintf("Issuer %d", i)}))
		}
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, "/api/credentials/orgs/other/users/7/issuers/", map[string]any{"name": "Issuer 9"}))

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
		require.Equal(t, "Issuer 3", data[0].(map[string]any)["name"])
		next, err := url.Parse(result["next"].(string))
		require.NoError(t, err)
		require.Equal(t, url.Values{"limit": {"2"}, "offset": {"4"}}, next.Query())
		prev, err := url.Parse(result["previous"].(string))
		require.NoError(t, err)
		require.Equal(t, url.Values{"limit": {"2"}, "offset": {"0"}}, prev.Query())

		res = b.call(t, http.MethodGet, issuersPath+"?q=issuer+4", nil)
		result = res.body["result"].(map[string]any)
		require.Equal(t, float64(1), result["count"])
		require.Nil(t, result["next"])
		require.Nil(t, result["previous"])

		res = b.call(t, http.MethodGet, issuersPath+"?offset=10", nil)
		result = res.body["result"].(map[string]any)
		require.Empty(t, result["data"])
	})
}
