package sandbox

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOutage(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		cfg    Config
		status int
	}{
		{"NoneScheduled", Config{}, http.StatusOK},
		{"FromStart", Config{OutageFor: time.Hour}, http.StatusServiceUnavailable},
		{"NotYet", Config{OutageAfter: time.Hour, OutageFor: time.Hour}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			res := b.call(t, http.MethodPost, programLicensesPath+"create/", programLicense("x"))
			requireStatus(t, tt.status, res)
			if tt.status == http.StatusServiceUnavailable {
				require.Equal(t, jsonOf(t, `{"detail": "Service temporarily unavailable"}`), res.body)
				require.Empty(t, res.header.Get("Retry-After"))
				require.Zero(t, b.srv.Stats().ProgramLicenses, "nothing took effect")
			}
		})
	}

	t.Run("StartedByRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		res := b.callWith(t, http.MethodPost, inspectPrefix+"outage?for=90s", nil, nil)
		requireStatus(t, http.StatusOK, res)
		from, err := time.Parse(time.RFC3339Nano, res.body["from"].(string))
		require.NoError(t, err)
		until, err := time.Parse(time.RFC3339Nano, res.body["until"].(string))
		require.NoError(t, err)
		require.Equal(t, 90*time.Second, until.Sub(from))

		for _, path := range []string{programLicensesPath, issuersPath, "/identity_/connect/token", "/nowhere"} {
			requireStatus(t, http.StatusServiceUnavailable, b.call(t, http.MethodGet, path, nil))
		}
		// The inspection paths still answer.
		requireStatus(t, http.StatusOK, b.callWith(t, http.MethodGet, statsPath, nil, nil))
		st := b.srv.Stats()
		require.Equal(t, int64(4), st.OutageAnswers)
		require.Equal(t, int64(4), st.Requests)
		require.Zero(t, st.Faults)

		requireStatus(t, http.StatusOK, b.callWith(t, http.MethodPost, inspectPrefix+"outage?for=0s", nil, nil))
		requireStatus(t, http.StatusOK, b.call(t, http.MethodGet, programLicensesPath, nil))

		for _, q := range []string{"", "?for=soon", "?for=-1s"} {
			res := b.callWith(t, http.MethodPost, inspectPrefix+"outage"+q, nil, nil)
			requireStatus(t, http.StatusBadRequest, res)
			require.Contains(t, res.body, "for")
		}
		requireStatus(t, http.StatusMethodNotAllowed, b.callWith(t, http.MethodGet, inspectPrefix+"outage", nil, nil))
	})
}

func TestAuthScheme(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"", AuthSchemeAPIToken, AuthSchemeToken, AuthSchemeAPIKey, "bearer"} {
		t.Run("Scheme"+scheme, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{AuthScheme: scheme})
			want := canonicalAuthScheme(scheme)
			if scheme == "" {
				want = AuthSchemeAPIToken
			}
			sent := scheme
			if sent == "" {
				sent = want
			}
			requireStatus(t, http.StatusOK, b.callWith(t, http.MethodGet, programLicensesPath, nil, http.Header{"Authorization": {sent + " " + testToken}}))
			for _, other := range []string{AuthSchemeAPIToken, AuthSchemeToken, AuthSchemeAPIKey, AuthSchemeBearer} {
				if other == want {
					continue
				}
				res := b.callWith(t, http.MethodGet, programLicensesPath, nil, http.Header{"Authorization": {other + " " + testToken}})
				requireStatus(t, http.StatusUnauthorized, res)
				require.Equal(t, want, res.header.Get("WWW-Authenticate"))
			}
		})
	}
	require.ErrorContains(t, Config{Token: "t", AuthScheme: "Basic"}.Validate(), "AuthScheme")
}

func TestIgnoreListFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ignore bool
		count  float64
	}{
		{"Filtered", false, 1},
		{"Ignored", true, 3}, // every license of the platform
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{IgnoreListFilters: tt.ignore})
			for _, ext := range []string{"a", "b", "c"} {
				requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"create/", programLicense(ext)))
			}
			other := programLicense("d")
			other["platform_key"] = "other"
			requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"create/", other))
			res := b.call(t, http.MethodGet, programLicensesPath+"?external_id=b&platform_key=acme", nil)
			requireStatus(t, http.StatusOK, res)
			require.Equal(t, tt.count, res.body["count"])
		})
	}
}

func TestVerboseAssignmentCounts(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"create/", programLicense("a")))
	for user, body := range map[int]map[string]any{
		1: {"fulfilled": true},
		2: {"fulfilled": false},
		3: {"active": false},
	} {
		body["license_id"], body["user_id"] = 1, user
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"assignment/", body))
	}
	res := b.call(t, http.MethodGet, programLicensesPath+"?verbose=true", nil)
	requireStatus(t, http.StatusOK, res)
	got := res.body["results"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"total": 3.0, "active": 1.0, "pending": 1.0}, got["assignments"])
	require.Equal(t, 3.0, got["usage_count"])

	res = b.call(t, http.MethodGet, programLicensesPath, nil)
	require.NotContains(t, res.body["results"].([]any)[0], "assignments")
}

func TestInspectStored(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	body := programLicense("p1")
	body["enrollment_config"] = map[string]any{"auto": true}
	body["transaction_id"] = "tx-1"
	requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"create/", body))
	requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, issuersPath, map[string]any{
		"entityId": "e1", "iconImage": "i", "email": "a@x", "name": "N",
	}))

	res := b.callWith(t, http.MethodGet, inspectPrefix+"licenses/program?external_id=p1", nil, nil)
	requireStatus(t, http.StatusOK, res)
	require.Equal(t, map[string]any{"auto": true}, res.body["enrollment_config"])
	require.Equal(t, "tx-1", res.body["transaction_id"])
	require.Equal(t, "program-v1:acme+data+2024", res.body["program_key"])
	require.Equal(t, int64(2), b.srv.Stats().Requests, "inspection is not counted")

	tests := []struct {
		name   string
		path   string
		status int
		want   string
	}{
		{"LicenseOtherKind", "licenses/user?external_id=p1", 404, `{"detail": "License not found."}`},
		{"LicenseUnknownKind", "licenses/course?external_id=p1", 404, `{"detail": "Not found."}`},
		{"LicenseNoExternalID", "licenses/program", 400, `{"external_id": ["This field is required."]}`},
		{"Issuer", "issuers/e1", 200, `{"org": "acme", "entityId": "e1", "iconImage": "i", "allowed_template_tags": null,
			"name": "N", "url": null, "email": "a@x"}`},
		{"IssuerUnknown", "issuers/e2", 404, `{"detail": "Issuer not found."}`},
		{"Unknown", "nothing", 404, `{"detail": "Not found."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := b.callWith(t, http.MethodGet, inspectPrefix+tt.path, nil, nil)
			requireStatus(t, tt.status, res)
			if tt.want != "" {
				require.Equal(t, jsonOf(t, tt.want), res.body)
			}
		})
	}

}
