package sandbox

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const allocatePath = "/acme/lease_/api/account/acct-1/user-license/group/"

// uipathToken gets a client-credentials token.
func (b *testBundle) uipathToken(t *testing.T, form url.Values) result {
	t.Helper()
	return b.callWith(t, http.MethodPost, "/identity_/connect/token", form.Encode(), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"},
	})
}

func validTokenForm() url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {DefaultUiPathClientID},
		"client_secret": {DefaultUiPathClientSecret},
		"scope":         {"PM.License.Read PM.License.Write"},
	}
}

func (b *testBundle) allocate(t *testing.T, token, path string, body any) result {
	t.Helper()
	return b.callWith(t, http.MethodPut, path, body, http.Header{"Authorization": {"Bearer " + token}})
}

func TestUiPathToken(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})

	res := b.uipathToken(t, validTokenForm())
	requireStatus(t, http.StatusOK, res)
	require.NotEmpty(t, res.body["access_token"])
	require.Equal(t, float64(3600), res.body["expires_in"])
	require.Equal(t, "Bearer", res.body["token_type"])
	require.Equal(t, "PM.License.Read PM.License.Write", res.body["scope"])

	for name, tt := range map[string]struct {
		change func(url.Values)
		want   string
	}{
		"WrongSecret": {func(f url.Values) { f.Set("client_secret", "x") }, "invalid_client"},
		"WrongClient": {func(f url.Values) { f.Set("client_id", "x") }, "invalid_client"},
		"NoScope":     {func(f url.Values) { f.Set("scope", "PM.License.Read") }, "invalid_scope"},
		"Grant":       {func(f url.Values) { f.Set("grant_type", "password") }, "unsupported_grant_type"},
	} {
		form := validTokenForm()
		tt.change(form)
		res := b.uipathToken(t, form)
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, map[string]any{"error": tt.want}, res.body, name)
	}
	res = b.call(t, http.MethodPost, "/identity_/connect/token", map[string]any{"grant_type": "client_credentials"})
	requireStatus(t, http.StatusBadRequest, res)
	require.Equal(t, map[string]any{"error": "invalid_request"}, res.body)
}

func TestUiPathAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{UiPath: UiPathConfig{Username: "ops", Password: "pw"}})

	for _, path := range []string{"/api/account/authenticate", "/acme/default/api/account/authenticate"} {
		res := b.callWith(t, http.MethodPost, path, map[string]any{
			"TenancyName": "default", "UsernameOrEmailAddress": "ops", "Password": "pw",
		}, nil)
		requireStatus(t, http.StatusOK, res)
		token := res.body["result"].(string)
		require.NotEmpty(t, token)
		delete(res.body, "result")
		require.Equal(t, jsonOf(t, `{"targetUrl": null, "success": true, "error": null, "unAuthorizedRequest": false, "__abp": true}`), res.body)
		requireStatus(t, http.StatusOK, b.allocate(t, token, allocatePath+"g1", map[string]any{"userBundleCodes": []string{"IDU"}}))
	}

	res := b.callWith(t, http.MethodPost, "/api/account/authenticate", map[string]any{"UsernameOrEmailAddress": "ops", "Password": "no"}, nil)
	requireStatus(t, http.StatusBadRequest, res)
	require.Equal(t, false, res.body["success"])
	require.Nil(t, res.body["result"])
	require.Equal(t, "Login failed!", res.body["error"].(map[string]any)["message"])
}

func TestUiPathAllocate(t *testing.T) {
	t.Parallel()

	t.Run("AllocateReplaceAndQuantities", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{UiPath: UiPathConfig{Quantities: map[string]int{"RPADEVPRONU": 2, "IDU": 1}}})
		token := b.uipathToken(t, validTokenForm()).body["access_token"].(string)

		res := b.allocate(t, token, allocatePath+"group-01", map[string]any{
			"userBundleCodes": []string{"RPADEVPRONU", "IDU", "IDU"}, "useExternalLicense": false,
		})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, jsonOf(t, `{"groupId": "group-01", "organizationId": "acct-1", "useExternalLicense": false,
			"userBundleCodes": ["RPADEVPRONU", "IDU"]}`), res.body)

		// IDU is used up by group-01.
		res = b.allocate(t, token, allocatePath+"group-02", map[string]any{"userBundleCodes": []string{"IDU"}})
		requireStatus(t, http.StatusConflict, res)
		require.Equal(t, "The license allocation is not allowed because it exceeds the account license quantities", res.body["message"])

		// Replacing group-01's allocation frees IDU; the older path works too.
		res = b.allocate(t, token, "/lease_/api/account/acct-1/user-license/group/group-01", map[string]any{"userBundleCodes": []string{"RPADEVPRONU"}, "useExternalLicense": true})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, true, res.body["useExternalLicense"])
		requireStatus(t, http.StatusOK, b.allocate(t, token, allocatePath+"group-02", map[string]any{"userBundleCodes": []string{"IDU", "RPADEVPRONU"}}))
		requireStatus(t, http.StatusConflict, b.allocate(t, token, allocatePath+"group-03", map[string]any{"userBundleCodes": []string{"RPADEVPRONU"}}))
		// Quantities are per account.
		requireStatus(t, http.StatusOK, b.allocate(t, token, "/acme/lease_/api/account/acct-2/user-license/group/group-03", map[string]any{"userBundleCodes": []string{"IDU"}}))

		st := b.srv.Stats()
		require.Equal(t, 3, st.UiPathGroupAllocations)
		require.Equal(t, int64(3), st.Creates)
		require.Equal(t, int64(1), st.Updates)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		token := b.uipathToken(t, validTokenForm()).body["access_token"].(string)
		for _, tt := range []struct {
			name   string
			path   string
			body   any
			status int
			want   string
		}{
			{"NoLicense", "/acme/lease_/api/account/nolicense-1/user-license/group/g", map[string]any{"userBundleCodes": []string{}}, 404, "No account license is allocated for the indicated organization"},
			{"MissingCodes", allocatePath + "g", map[string]any{"useExternalLicense": true}, 400, "userBundleCodes is required."},
			{"UnknownCode", allocatePath + "g", map[string]any{"userBundleCodes": []string{"NOPE"}}, 400, `Unknown user bundle code "NOPE".`},
			{"BadJSON", allocatePath + "g", `{"userBundleCodes": "IDU"}`, 400, ""},
		} {
			res := b.allocate(t, token, tt.path, tt.body)
			requireStatus(t, tt.status, res)
			if tt.want != "" {
				require.Equal(t, tt.want, res.body["message"], tt.name)
			}
		}
		requireStatus(t, http.StatusMethodNotAllowed, b.callWith(t, http.MethodPost, allocatePath+"g", map[string]any{}, http.Header{"Authorization": {"Bearer " + token}}))
	})

	t.Run("ConfiguredAccounts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{UiPath: UiPathConfig{Accounts: []string{"acct-1"}}})
		token := b.uipathToken(t, validTokenForm()).body["access_token"].(string)
		requireStatus(t, http.StatusOK, b.allocate(t, token, allocatePath+"g", map[string]any{"userBundleCodes": []string{"ATTUU"}}))
		requireStatus(t, http.StatusNotFound, b.allocate(t, token, "/lease_/api/account/acct-2/user-license/group/g", map[string]any{"userBundleCodes": []string{"ATTUU"}}))
	})

	t.Run("BearerRequired", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{UiPath: UiPathConfig{TokenTTL: 20 * time.Millisecond}})
		body := map[string]any{"userBundleCodes": []string{"IDU"}}
		res := b.callWith(t, http.MethodPut, allocatePath+"g", body, http.Header{"Authorization": {"Api-Token " + testToken}})
		requireStatus(t, http.StatusUnauthorized, res)
		require.Equal(t, map[string]any{"message": "Unauthorized"}, res.body)
		requireStatus(t, http.StatusUnauthorized, b.allocate(t, "made-up", allocatePath+"g", body))

		tokenRes := b.uipathToken(t, validTokenForm())
		require.Equal(t, float64(0), tokenRes.body["expires_in"])
		token := tokenRes.body["access_token"].(string)
		requireStatus(t, http.StatusOK, b.allocate(t, token, allocatePath+"g", body))
		time.Sleep(30 * time.Millisecond)
		res = b.allocate(t, token, allocatePath+"g", body)
		requireStatus(t, http.StatusUnauthorized, res)
		require.True(t, strings.Contains(res.header.Get("WWW-Authenticate"), "expired"))
	})
}
