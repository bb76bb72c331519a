package dmapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

// TestIssuers runs the issuer calls against the sandbox in both answer
// forms: the docstrings' (wrapped create, one-element arrays for GET and
// PUT, a status body for DELETE) and the schema's (bare objects, DELETE
// 204).
func TestIssuers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		cfg  sandbox.Config
	}{
		{"DocstringForms", sandbox.Config{}},
		{"SchemaForms", sandbox.Config{IssuerSchemaForms: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			ctx := t.Context()
			// The path's user is a sandbox fixture user, by username.
			const org, user = "acme/east side", "user7"

			created, err := b.api.CreateIssuer(ctx, org, user, map[string]any{
				"entityId": "iss-1", "iconImage": "https://acme.test/logo.png",
				"name": "Acme University", "url": "https://acme.test", "email": "ops@acme.test",
				"allowed_template_tags": []string{"a", "b"},
			})
			require.NoError(t, err)
			// name and url are read-only: the answer holds the server's
			// values (the org key and ""), not the ones sent.
			want := &dmapi.Issuer{
				Name: org, Org: org, EntityID: "iss-1", Signatories: []byte("{}"),
				IconImage: "https://acme.test/logo.png", AllowedTemplateTags: []string{"a", "b"},
			}
			require.Equal(t, want, created)
			req := b.last(t)
			require.Equal(t, "/api/credentials/orgs/acme%2Feast%20side/users/user7/issuers/", req.rawPath)
			require.Empty(t, req.query)

			_, err = b.api.CreateIssuer(ctx, org, "7", map[string]any{"entityId": "iss-2", "iconImage": "https://acme.test/labs.png"})
			require.NoError(t, err, "the path's user may be a user id")

			got, err := b.api.GetIssuer(ctx, org, user, "iss-1")
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.Equal(t, "/api/credentials/orgs/acme%2Feast%20side/users/user7/issuers/iss-1", b.last(t).rawPath)

			updated, err := b.api.UpdateIssuer(ctx, org, user, "iss-1", map[string]any{
				"entityId": "iss-1", "iconImage": "https://acme.test/new.png", "url": "https://acme.test/new",
			})
			require.NoError(t, err)
			want.IconImage = "https://acme.test/new.png"
			require.Equal(t, want, updated)
			require.Equal(t, http.MethodPut, b.last(t).method)

			// Another org does not see the issuer.
			other, err := b.api.GetIssuer(ctx, "other", user, "iss-1")
			require.NoError(t, err)
			require.Nil(t, other)

			require.NoError(t, b.api.DeleteIssuer(ctx, org, user, "iss-1"))
			requireStatus(t, b.api.DeleteIssuer(ctx, org, user, "iss-1"), http.StatusNotFound, dmapi.Permanent)
			gone, err := b.api.GetIssuer(ctx, org, user, "iss-1")
			require.NoError(t, err)
			require.Nil(t, gone)
			_, err = b.api.UpdateIssuer(ctx, org, user, "iss-1", map[string]any{"entityId": "iss-1", "iconImage": "x"})
			requireStatus(t, err, http.StatusNotFound, dmapi.Permanent)
		})
	}
}

// TestIssuerRequestsRefused checks that refused issuer requests are
// permanent errors: an unknown user in the path, a body without the
// schema's required fields, a duplicate entityId.
func TestIssuerRequestsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	ctx := t.Context()
	valid := map[string]any{"entityId": "iss-1", "iconImage": "i.png"}
	_, err := b.api.CreateIssuer(ctx, "acme", "user1", valid)
	require.NoError(t, err)

	for _, tt := range []struct {
		name   string
		user   string
		body   map[string]any
		status int
	}{
		{"UnknownUsername", "ops@example.com", map[string]any{"entityId": "iss-2", "iconImage": "i.png"}, http.StatusNotFound},
		{"UnknownUserID", "100001", map[string]any{"entityId": "iss-2", "iconImage": "i.png"}, http.StatusNotFound},
		{"DocstringBody", "user1", map[string]any{"name": "Acme Labs", "email": "labs@acme.test"}, http.StatusBadRequest},
		{"NoIconImage", "user1", map[string]any{"entityId": "iss-2"}, http.StatusBadRequest},
		{"Duplicate", "user1", valid, http.StatusBadRequest},
	} {
		_, err := b.api.CreateIssuer(ctx, "acme", tt.user, tt.body)
		requireStatus(t, err, tt.status, dmapi.Permanent)
	}
}

func TestIssuerArgumentsRequired(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	ctx := t.Context()
	for name, err := range map[string]error{
		"DeleteNoEntity": b.api.DeleteIssuer(ctx, "acme", "ops", ""),
		"DeleteNoOrg":    b.api.DeleteIssuer(ctx, "", "ops", "iss-1"),
		"GetNoUser":      func() error { _, err := b.api.GetIssuer(ctx, "acme", "", "iss-1"); return err }(),
	} {
		require.Error(t, err, name)
		require.Equal(t, dmapi.Permanent, dmapi.ClassOf(err), name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(t, b.requests)
}

// TestIssuerAnswerShapes checks that every documented answer shape decodes:
// wrapped in {"status", "result"} or bare, an object or an array of one.
func TestIssuerAnswerShapes(t *testing.T) {
	t.Parallel()
	const issuer = `{"name": "Acme", "org": "acme", "entityId": "iss-1", "signatories": [], "url": "", "iconImage": "i.png", "allowed_template_tags": null}`
	const status = `{"success": true, "description": "Ok"}`
	want := &dmapi.Issuer{Name: "Acme", Org: "acme", EntityID: "iss-1", Signatories: []byte("[]"), IconImage: "i.png"}

	for _, tt := range []struct {
		name   string
		answer string
		want   *dmapi.Issuer // nil: GetIssuer finds nothing and UpdateIssuer fails
	}{
		{"BareObject", issuer, want},
		{"BareArray", "[" + issuer + "]", want},
		{"WrappedObject", `{"status": ` + status + `, "result": ` + issuer + `}`, want},
		{"WrappedArray", `{"status": ` + status + `, "result": [` + issuer + `]}`, want},
		{"EmptyArray", `[]`, nil},
		{"WrappedEmpty", `{"status": ` + status + `, "result": []}`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := fixedAnswer(t, http.StatusOK, tt.answer)
			got, err := api.GetIssuer(t.Context(), "acme", "ops", "iss-1")
			require.NoError(t, err)
			require.Equal(t, tt.want, got)

			got, err = api.UpdateIssuer(t.Context(), "acme", "ops", "iss-1", map[string]any{"iconImage": "i.png"})
			if tt.want == nil {
				require.ErrorContains(t, err, "the answer holds no issuer")
				require.Equal(t, dmapi.Retryable, dmapi.ClassOf(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("DeleteStatuses", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, fixedAnswer(t, http.StatusOK, `{"status": {"success": true, "description": "Deleted"}}`).DeleteIssuer(t.Context(), "acme", "ops", "iss-1"))
		require.NoError(t, fixedAnswer(t, http.StatusNoContent, "").DeleteIssuer(t.Context(), "acme", "ops", "iss-1"))
	})

	t.Run("Unreadable", func(t *testing.T) {
		t.Parallel()
		_, err := fixedAnswer(t, http.StatusOK, `{"entityId": 5}`).GetIssuer(t.Context(), "acme", "ops", "iss-1")
		require.ErrorContains(t, err, "decode answer")
		require.Equal(t, dmapi.Retryable, dmapi.ClassOf(err))
	})
}

// fixedAnswer returns a client of a server that answers every request with
// status and body.
func fixedAnswer(t *testing.T, status int, body string) *dmapi.Client {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = strings.NewReader(body).WriteTo(w)
	}))
	t.Cleanup(ts.Close)
	api, err := dmapi.New(dmapi.Config{BaseURL: ts.URL, Token: testToken})
	require.NoError(t, err)
	return api
}
