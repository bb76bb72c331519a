package dmapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

const licenseToken = "license-test-token"

// newLicenseClient serves a sandbox under prefix (the gateway form of the
// base URL, like https://api.iblai.app/dm) and returns a client for it.
func newLicenseClient(t *testing.T, prefix string, cfg sandbox.Config) (*dmapi.Client, *sandbox.Server) {
	t.Helper()
	cfg.Token = licenseToken
	sb := sandbox.New(cfg)
	var h http.Handler = sb
	if prefix != "" {
		h = http.StripPrefix(prefix, sb)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := dmapi.New(dmapi.Config{BaseURL: srv.URL + prefix + "/", Token: licenseToken})
	require.NoError(t, err)
	return c, sb
}

func TestLicenseUpsertCalls(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "/dm"} {
		t.Run("Prefix"+strings.TrimPrefix(prefix, "/"), func(t *testing.T) {
			t.Parallel()
			c, sb := newLicenseClient(t, prefix, sandbox.Config{})
			ctx := context.Background()
			l, err := c.FindLicense(ctx, dmapi.ProgramLicense, "acme", "ext-1")
			require.NoError(t, err)
			require.Nil(t, l)

			created, err := c.CreateLicense(ctx, dmapi.ProgramLicense, map[string]any{
				"platform_key": "acme", "program_key": "p1", "name": "Seats", "count": 5,
				"started": "2024-01-01T00:00:00Z", "external_id": "ext-1", "metadata": map[string]any{"a": 1},
			})
			require.NoError(t, err)
			require.Equal(t, "ext-1", *created.ExternalID)
			require.EqualValues(t, 5, *created.Count)
			require.Equal(t, "p1", created.ProgramKey)

			l, err = c.FindLicense(ctx, dmapi.ProgramLicense, "acme", "ext-1")
			require.NoError(t, err)
			require.Equal(t, created.ID, l.ID)
			require.True(t, l.Started.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)))
			require.JSONEq(t, `{"a":1}`, string(l.Metadata))

			_, err = c.CreateLicense(ctx, dmapi.ProgramLicense, map[string]any{
				"platform_key": "acme", "program_key": "p1", "name": "Seats", "count": 5,
				"started": "2024-01-01T00:00:00Z", "external_id": "ext-1",
			})
			require.Equal(t, dmapi.Permanent, dmapi.ClassOf(err))
			require.Equal(t, 400, dmapi.StatusOf(err))
			require.Contains(t, err.Error(), "external_id: license with this external id already exists.")

			upd, err := c.UpdateLicense(ctx, dmapi.ProgramLicense, map[string]any{"external_id": "ext-1", "count": 7})
			require.NoError(t, err)
			require.EqualValues(t, 7, *upd.Count)

			_, err = c.UpdateLicense(ctx, dmapi.ProgramLicense, map[string]any{"external_id": "nope", "count": 7})
			require.Equal(t, 404, dmapi.StatusOf(err))
			require.Equal(t, dmapi.Permanent, dmapi.ClassOf(err))
			require.Equal(t, 2, sb.Stats().History)
		})
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	c, _ := newLicenseClient(t, "", sandbox.Config{})
	ctx := context.Background()
	for i := range 5 {
		_, err := c.CreateLicense(ctx, dmapi.UserLicense, map[string]any{"platform_key": "acme", "external_id": "u" + string(rune('a'+i))})
		require.NoError(t, err)
	}
	p, err := c.ListLicenses(ctx, dmapi.UserLicense, dmapi.ListOptions{PlatformKey: "acme", Page: 1, PageSize: 2})
	require.NoError(t, err)
	require.Equal(t, 5, p.Count)
	require.Len(t, p.Results, 2)
	require.True(t, p.HasNext())
	p, err = c.ListLicenses(ctx, dmapi.UserLicense, dmapi.ListOptions{PlatformKey: "acme", Page: 3, PageSize: 2})
	require.NoError(t, err)
	require.Len(t, p.Results, 1)
	require.False(t, p.HasNext())
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		header string
		body   string
		class  dmapi.Class
		msg    string
		after  time.Duration
	}{
		{"BadRequest", 400, "", `{"count": ["A valid integer is required."], "name": ["This field is required."]}`, dmapi.Permanent, "count: A valid integer is required.; name: This field is required.", 0},
		{"NonField", 400, "", `{"non_field_errors": ["Either license_id or external_id is required."]}`, dmapi.Permanent, "Either license_id or external_id is required.", 0},
		{"Unauthorized", 401, "", `{"detail": "Invalid token."}`, dmapi.Fatal, "Invalid token.", 0},
		{"Forbidden", 403, "", `{"detail": "You do not have permission to perform this action."}`, dmapi.Fatal, "You do not have permission", 0},
		{"NotFound", 404, "", `{"detail": "License not found."}`, dmapi.Permanent, "License not found.", 0},
		{"Timeout", 408, "", ``, dmapi.Retryable, "", 0},
		{"Throttled", 429, "3", `{"detail": "Request was throttled."}`, dmapi.Retryable, "throttled", 3 * time.Second},
		{"ServerError", 500, "", `<html>boom</html>`, dmapi.Retryable, "<html>boom</html>", 0},
		{"BadGateway", 502, "", ``, dmapi.Retryable, "", 0},
		{"Unavailable", 503, "", `{"detail": "Service temporarily unavailable"}`, dmapi.Retryable, "unavailable", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.Equal(t, "Api-Token secret-xyz", r.Header.Get("Authorization"))
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			c, err := dmapi.New(dmapi.Config{BaseURL: srv.URL, Token: "secret-xyz"})
			require.NoError(t, err)
			_, err = c.ListLicenses(context.Background(), dmapi.ProgramLicense, dmapi.ListOptions{})
			require.Equal(t, tc.class, dmapi.ClassOf(err))
			require.Equal(t, tc.status, dmapi.StatusOf(err))
			require.Contains(t, err.Error(), tc.msg)
			require.NotContains(t, err.Error(), "secret-xyz")
			var apiErr *dmapi.Error
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tc.after, apiErr.RetryAfter)
		})
	}
}

func TestNetworkErrorsAreRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := dmapi.New(dmapi.Config{BaseURL: url, Token: "secret-xyz", Timeout: time.Second})
	require.NoError(t, err)
	_, err = c.FindLicense(context.Background(), dmapi.UserLicense, "acme", "x")
	require.Equal(t, dmapi.Retryable, dmapi.ClassOf(err))
	require.Zero(t, dmapi.StatusOf(err))
	require.NotContains(t, err.Error(), "secret-xyz")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, cfg := range []dmapi.Config{
		{},
		{BaseURL: "ftp://x"},
		{BaseURL: "not a url"},
		{BaseURL: "http://x", AuthScheme: "Basic"},
	} {
		_, err := dmapi.New(cfg)
		require.Error(t, err, "%+v", cfg)
	}
}
