package dmapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

func TestCredentialsRefusedIsFatal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		err  *dmapi.Error
		want dmapi.Class
	}{
		{"Refused", &dmapi.Error{Op: "get token", Status: http.StatusBadRequest, CredentialsRefused: true}, dmapi.Fatal},
		{"NotRefused", &dmapi.Error{Op: "get token", Status: http.StatusBadRequest}, dmapi.Permanent},
		{"Unavailable", &dmapi.Error{Op: "get token", Status: http.StatusServiceUnavailable}, dmapi.Retryable},
	} {
		require.Equal(t, tt.want, tt.err.Class(), tt.name)
		require.Equal(t, tt.want, dmapi.ClassOf(fmt.Errorf("wrapped: %w", tt.err)), tt.name)
	}
}

func TestWrongTokenIsFatal(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	ctx := t.Context()
	const wrong = "wrong-token-fedcba9876543210"
	api, err := dmapi.New(dmapi.Config{BaseURL: b.url, Token: wrong})
	require.NoError(t, err)
	for name, err := range map[string]error{
		"Assignments": func() error { _, err := api.FindGroupAssignment(ctx, dmapi.ProgramLicense, 1, 1, "acme"); return err }(),
		"Suggestions": func() error {
			_, _, err := api.UpsertSuggestion(ctx, map[string]any{"platform_key": "acme"})
			return err
		}(),
		"Issuers": func() error { _, err := api.GetIssuer(ctx, "acme", "ops", "iss-1"); return err }(),
	} {
		requireStatus(t, err, http.StatusUnauthorized, dmapi.Fatal)
		require.NotContains(t, err.Error(), wrong, name)
		require.ErrorContains(t, err, "Invalid token.", name)
	}
}
