package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sandboxAddrRE finds the listening address in the sandbox's log.
var sandboxAddrRE = regexp.MustCompile(`msg="sandbox listening" addr=(\S+)`)

// startSandboxCmd runs `bulksync sandbox` with args on a free port until the
// test ends and returns its base URL and its log.
func startSandboxCmd(t *testing.T, args ...string) (string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	done := make(chan error, 1)
	go func() {
		done <- runSandbox(ctx, append([]string{"--addr", "127.0.0.1:0", "--token", "tok"}, args...), io.Discard, func(string) string { return "" }, log)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return sandboxAddrRE.MatchString(logs.String()) }, 10*time.Second, 5*time.Millisecond)
	return "http://" + sandboxAddrRE.FindStringSubmatch(logs.String())[1], logs
}

// sandboxCall sends a request to the sandbox and returns its status and body.
func sandboxCall(t *testing.T, method, u, auth, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

func TestSandboxCommandFlags(t *testing.T) {
	t.Parallel()
	const form = "application/x-www-form-urlencoded"
	token := func(id, secret string) string {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {"PM.License.Write"}}.Encode()
	}
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, api, logs string)
	}{
		{"DefaultUiPathCredentialsArePrinted", nil, func(t *testing.T, api, logs string) {
			require.Contains(t, logs, "client_id=sandbox-client client_secret=sandbox-secret username=admin password=sandbox-password")
			status, _ := sandboxCall(t, "POST", api+"/identity_/connect/token", "", form, token("sandbox-client", "sandbox-secret"))
			require.Equal(t, http.StatusOK, status)
			status, _ = sandboxCall(t, "GET", api+"/api/catalog/licenses/program/", "Api-Token tok", "", "")
			require.Equal(t, http.StatusOK, status)
		}},
		{"SetUiPathCredentialsAreNotPrinted", []string{
			"--uipath-client-id", "cid", "--uipath-client-secret", "csecret-77", "--uipath-username", "bob", "--uipath-password", "pw-99",
		}, func(t *testing.T, api, logs string) {
			require.Contains(t, logs, "client_id=cid client_secret=(set) username=bob password=(set)")
			require.NotContains(t, logs, "csecret-77")
			require.NotContains(t, logs, "pw-99")
			status, _ := sandboxCall(t, "POST", api+"/identity_/connect/token", "", form, token("cid", "csecret-77"))
			require.Equal(t, http.StatusOK, status)
			status, _ = sandboxCall(t, "POST", api+"/api/account/authenticate", "", "application/json",
				`{"UsernameOrEmailAddress": "bob", "Password": "pw-99"}`)
			require.Equal(t, http.StatusOK, status)
		}},
		{"AuthScheme", []string{"--auth-scheme", "Bearer"}, func(t *testing.T, api, _ string) {
			status, _ := sandboxCall(t, "GET", api+"/api/catalog/licenses/program/", "Bearer tok", "", "")
			require.Equal(t, http.StatusOK, status)
			status, _ = sandboxCall(t, "GET", api+"/api/catalog/licenses/program/", "Api-Token tok", "", "")
			require.Equal(t, http.StatusUnauthorized, status)
		}},
		{"Outage", []string{"--outage-for", "1h"}, func(t *testing.T, api, logs string) {
			require.Contains(t, logs, "outage_for=1h0m0s")
			status, _ := sandboxCall(t, "GET", api+"/api/catalog/licenses/program/", "Api-Token tok", "", "")
			require.Equal(t, http.StatusServiceUnavailable, status)
			status, body := sandboxCall(t, "GET", api+"/_sandbox/stats", "", "", "")
			require.Equal(t, http.StatusOK, status)
			var st struct {
				OutageAnswers int `json:"outage_answers"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &st))
			require.Equal(t, 1, st.OutageAnswers)
		}},
		{"IgnoreListFilters", []string{"--ignore-list-filters"}, func(t *testing.T, api, _ string) {
			for _, ext := range []string{"a", "b"} {
				status, body := sandboxCall(t, "POST", api+"/api/catalog/licenses/user/create/", "Api-Token tok", "application/json",
					`{"platform_key": "acme", "external_id": "`+ext+`"}`)
				require.Equal(t, http.StatusOK, status, body)
			}
			_, body := sandboxCall(t, "GET", api+"/api/catalog/licenses/user/?external_id=a", "Api-Token tok", "", "")
			require.Contains(t, body, `"count":2`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api, logs := startSandboxCmd(t, tt.args...)
			tt.check(t, api, logs.String())
		})
	}
}

func TestSandboxCommandBadAuthScheme(t *testing.T) {
	t.Parallel()
	err := runSandbox(t.Context(), []string{"--token", "t", "--auth-scheme", "Basic"}, io.Discard, func(string) string { return "" },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	var usage usageError
	require.ErrorAs(t, err, &usage)
	require.ErrorContains(t, err, "AuthScheme")
}
