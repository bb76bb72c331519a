package dmapi_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

// TestBreaker: after Failures transient failures in a row the client sends
// nothing for Cooldown, then one probe; an answer closes the breaker.
func TestBreaker(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	api, err := dmapi.New(dmapi.Config{BaseURL: b.url, Token: testToken, Breaker: dmapi.BreakerConfig{Failures: 3, Cooldown: 200 * time.Millisecond}})
	require.NoError(t, err)
	ctx := t.Context()
	const path = "/api/catalog/licenses/program/"
	find := func() error {
		_, err := api.FindLicense(ctx, dmapi.ProgramLicense, "acme", "x")
		return err
	}

	// A 4xx answer is not an outage: it never opens the breaker.
	bad, err := dmapi.New(dmapi.Config{BaseURL: b.url, Token: "wrong", Breaker: dmapi.BreakerConfig{Failures: 1}})
	require.NoError(t, err)
	for range 3 {
		_, err := bad.FindLicense(ctx, dmapi.ProgramLicense, "acme", "x")
		require.Equal(t, http.StatusUnauthorized, dmapi.StatusOf(err))
	}

	b.srv.StartOutage(time.Hour)
	for range 3 {
		require.Equal(t, http.StatusServiceUnavailable, dmapi.StatusOf(find()))
	}
	sent := b.count(http.MethodGet, path)
	for range 10 {
		err := find()
		require.ErrorIs(t, err, dmapi.ErrUnavailable)
		require.Equal(t, dmapi.Retryable, dmapi.ClassOf(err))
	}
	require.Equal(t, sent, b.count(http.MethodGet, path), "nothing is sent while the breaker is open")

	time.Sleep(250 * time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, dmapi.StatusOf(find()), "the probe meets the outage")
	require.ErrorIs(t, find(), dmapi.ErrUnavailable, "and the breaker opens again")

	b.srv.StartOutage(0)
	time.Sleep(250 * time.Millisecond)
	require.NoError(t, find(), "the probe's answer closes the breaker")
	require.NoError(t, find())
}

func TestAuthScheme(t *testing.T) {
	t.Parallel()
	tests := []struct {
		server, client string
		wantStatus     int
	}{
		{"Api-Token", "", 0},
		{"Api-Token", "Api-Token", 0},
		{"Token", "Token", 0},
		{"Api-Key", "Api-Key", 0},
		{"Bearer", "Bearer", 0},
		{"Bearer", "", http.StatusUnauthorized},
		{"Api-Token", "Token", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.server+"/"+tt.client, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.Config{AuthScheme: tt.server})
			api, err := dmapi.New(dmapi.Config{BaseURL: b.url, Token: testToken, AuthScheme: tt.client})
			require.NoError(t, err)
			_, err = api.FindLicense(t.Context(), dmapi.ProgramLicense, "acme", "x")
			require.Equal(t, tt.wantStatus, dmapi.StatusOf(err), "%v", err)
		})
	}
	_, err := dmapi.New(dmapi.Config{BaseURL: "http://127.0.0.1:1", AuthScheme: "Basic"})
	require.ErrorContains(t, err, "AuthScheme")
}

func TestFindLicenseIgnoredFilter(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{IgnoreListFilters: true})
	ctx := t.Context()
	for _, ext := range []string{"a", "b"} {
		_, err := b.api.CreateLicense(ctx, dmapi.ProgramLicense, map[string]any{
			"platform_key": "acme", "program_key": "p", "name": ext, "count": 1, "started": "2024-01-01T00:00:00Z", "external_id": ext,
		})
		require.NoError(t, err)
	}
	// A license the unfiltered answer holds is found all the same.
	l, err := b.api.FindLicense(ctx, dmapi.ProgramLicense, "acme", "a")
	require.NoError(t, err)
	require.Equal(t, "a", *l.ExternalID)
	// One it lacks cannot be told absent.
	l, err = b.api.FindLicense(ctx, dmapi.ProgramLicense, "acme", "missing")
	require.Nil(t, l)
	require.True(t, errors.Is(err, dmapi.ErrLookupUnsupported), "%v", err)
	require.Equal(t, dmapi.Fatal, dmapi.ClassOf(err))
}
