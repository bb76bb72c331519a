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

func TestIssuers(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	ctx := t.Context()
	const org, user = "acme/east side", "ops@example.com"

	created, err := b.api.CreateIssuer(ctx, org, user, map[string]any{
		"entityId": "iss-1", "name": "Acme University", "iconImage": "https://acme.test/logo.png",
		"allowed_template_tags": []string{"a", "b"},
	})
	require.NoError(t, err)
	want := &dmapi.Issuer{
		Name: "Acme University", Org: org, EntityID: "iss-1", Signatories: []byte("{}"),
		IconImage: "https://acme.test/logo.png", AllowedTemplateTags: []string{"a", "b"},
	}
	require.Equal(t, want, created)
	req := b.last(t)
	require.Equal(t, "/api/credentials/orgs/acme%2Feast%20side/users/ops@example.com/issuers/", req.rawPath)
	require.Empty(t, req.query)

	_, err = b.api.CreateIssuer(ctx, org, user, map[string]any{"name": "Acme Labs"})
	require.NoError(t, err)

	got, err := b.api.GetIssuer(ctx, org, user, "iss-1")
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, "/api/credentials/orgs/acme%2Feast%20side/users/ops@example.com/issuers/iss-1", b.last(t).rawPath)

	updated, err := b.api.UpdateIssuer(ctx, org, user, "iss-1", map[string]any{"url": "https://acme.test"})
	require.NoError(t, err)
	want.URL = "https://acme.test"
	require.Equal(t, want, updated)
	require.Equal(t, http.MethodPut, b.last(t).method)

	for _, tt := range []struct {
		name      string
		q         dmapi.IssuerQuery
		wantNames []string
		wantCount int
		wantNext  bool
	}{
		{"All", dmapi.IssuerQuery{}, []string{"Acme University", "Acme Labs"}, 2, false},
		{"Search", dmapi.IssuerQuery{Q: "labs"}, []string{"Acme Labs"}, 1, false},
		{"Paged", dmapi.IssuerQuery{Limit: 1}, []string{"Acme University"}, 2, true},
		{"Offset", dmapi.IssuerQuery{Limit: 1, Offset: 1}, []string{"Acme Labs"}, 2, false},
	} {
		p, err := b.api.ListIssuers(ctx, org, user, tt.q)
		require.NoError(t, err, tt.name)
		var names []string
		for _, is := range p.Data {
			names = append(names, is.Name)
		}
		require.Equal(t, tt.wantNames, names, tt.name)
		require.Equal(t, tt.wantCount, p.Count, tt.name)
		require.Equal(t, tt.wantNext, p.Next != "", tt.name)
		require.Equal(t, 1000, p.MaxPageSize, tt.name)
	}

	// Another org does not see the issuer.
	other, err := b.api.GetIssuer(ctx, "other", user, "iss-1")
	require.NoError(t, err)
	require.Nil(t, other)

	require.NoError(t, b.api.DeleteIssuer(ctx, org, user, "iss-1"))
	requireStatus(t, b.api.DeleteIssuer(ctx, org, user, "iss-1"), http.StatusNotFound, dmapi.Permanent)
	gone, err := b.api.GetIssuer(ctx, org, user, "iss-1")
	require.NoError(t, err)
	require.Nil(t, gone)
	_, err = b.api.UpdateIssuer(ctx, org, user, "iss-1", map[string]any{"url": "x"})
	requireStatus(t, err, http.StatusNotFound, dmapi.Permanent)
}

func TestIssuerArgumentsRequired(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	ctx := t.Context()
	for name, err := range map[string]error{
		"DeleteNoEntity": b.api.DeleteIssuer(ctx, "acme", "ops", ""),
		"DeleteNoOrg":    b.api.DeleteIssuer(ctx, "", "ops", "iss-1"),
		"GetNoUser":      func() error { _, err := b.api.GetIssuer(ctx, "acme", "", "iss-1"); return err }(),
		"ListNoOrg":      func() error { _, err := b.api.ListIssuers(ctx, "", "ops", dmapi.IssuerQuery{}); return err }(),
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

	t.Run("ListShapes", func(t *testing.T) {
		t.Parallel()
		for _, answer := range []string{
			`{"status": ` + status + `, "result": {"count": 1, "next": null, "previous": null, "data": [` + issuer + `], "num_pages": 1, "page_number": 1, "max_page_size": 1000}}`,
			`{"count": 1, "next": null, "previous": null, "data": [` + issuer + `]}`,
			`[` + issuer + `]`,
		} {
			p, err := fixedAnswer(t, http.StatusOK, answer).ListIssuers(t.Context(), "acme", "ops", dmapi.IssuerQuery{})
			require.NoError(t, err, answer)
			require.Equal(t, 1, p.Count, answer)
			require.Equal(t, []dmapi.Issuer{*want}, p.Data, answer)
		}
	})

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
