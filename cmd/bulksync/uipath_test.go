package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOpenUiPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		env      map[string]string
		embedded bool   // the Data Manager is the in-process sandbox
		want     string // the UiPath URL; "" for not configured
		wantErr  string
	}{
		{name: "EmbeddedSandbox", embedded: true, want: "sandbox"},
		{name: "EmbeddedWithURL", embedded: true, env: map[string]string{
			"UIPATH_URL": "https://uipath.example", "UIPATH_CLIENT_ID": "id", "UIPATH_CLIENT_SECRET": "s",
		}, want: "https://uipath.example"},
		{name: "NotConfigured", env: map[string]string{"BULKSYNC_API_URL": "https://dm.example", "BULKSYNC_API_TOKEN": "t"}},
		{name: "ClientCredentials", env: map[string]string{
			"BULKSYNC_API_URL": "https://dm.example", "BULKSYNC_API_TOKEN": "t",
			"UIPATH_URL": "https://uipath.example", "UIPATH_ORG": "acme", "UIPATH_CLIENT_ID": "id", "UIPATH_CLIENT_SECRET": "s", "UIPATH_SCOPE": "PM.License.Write PM.User",
		}, want: "https://uipath.example"},
		{name: "ROPC", env: map[string]string{
			"BULKSYNC_API_URL": "https://dm.example", "BULKSYNC_API_TOKEN": "t",
			"UIPATH_URL": "https://uipath.example", "UIPATH_USERNAME": "admin", "UIPATH_PASSWORD": "pw", "UIPATH_TENANT": "Default",
		}, want: "https://uipath.example"},
		{name: "MissingSecret", env: map[string]string{
			"BULKSYNC_API_URL": "https://dm.example", "BULKSYNC_API_TOKEN": "t",
			"UIPATH_URL": "https://uipath.example", "UIPATH_CLIENT_ID": "id",
		}, wantErr: "ClientSecret"},
		{name: "NotAURL", env: map[string]string{
			"BULKSYNC_API_URL": "https://dm.example", "BULKSYNC_API_TOKEN": "t",
			"UIPATH_URL": "ftp://uipath.example", "UIPATH_CLIENT_ID": "id", "UIPATH_CLIENT_SECRET": "s",
		}, wantErr: "not an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string { return tc.env[k] }
			rt := &runtime{}
			defer rt.close()
			require.NoError(t, openAPI(rt, getenv, tc.embedded, apiFlags{}, slog.New(slog.NewTextHandler(io.Discard, nil))))
			err := openUiPath(rt, getenv, apiFlags{})
			if tc.wantErr != "" {
				var ue usageError
				require.True(t, errors.As(err, &ue), "%v", err)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			switch tc.want {
			case "":
				require.Nil(t, rt.uipath)
			case "sandbox":
				require.Equal(t, rt.apiURL, rt.uipathURL)
				a, err := rt.uipath.AllocateGroup(context.Background(), "acct-1", "g1", []string{"IDU"}, false)
				require.NoError(t, err, "the embedded client holds the sandbox's credentials")
				require.Equal(t, []string{"IDU"}, a.UserBundleCodes)
			default:
				require.NotNil(t, rt.uipath)
				require.Equal(t, tc.want, rt.uipathURL)
			}
		})
	}
}
