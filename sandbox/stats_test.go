package sandbox

import (
	"encoding/json"
	"maps"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStats(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})

	requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"create/", programLicense("a")))
	requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"update/", map[string]any{"license_id": 1}))
	requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, userLicensesPath+"create/", map[string]any{"platform_key": "p"}))
	requireStatus(t, http.StatusOK, b.call(t, http.MethodGet, programLicensesPath, nil))
	requireStatus(t, http.StatusUnauthorized, b.callWith(t, http.MethodGet, programLicensesPath, nil, nil))
	requireStatus(t, http.StatusNotFound, b.call(t, http.MethodGet, "/nowhere", nil))

	// The stats endpoint needs no token and is not counted.
	res := b.callWith(t, http.MethodGet, statsPath, nil, nil)
	requireStatus(t, http.StatusOK, res)
	require.NotContains(t, string(res.raw), testToken)
	var got Stats
	require.NoError(t, json.Unmarshal(res.raw, &got))
	want := Stats{
		ProgramLicenses: 1,
		UserLicenses:    1,
		History:         3,
		Creates:         2,
		Updates:         1,
		Requests:        6,
		ByEndpoint: map[string]int64{
			"POST /api/catalog/licenses/program/create/": 1,
			"POST /api/catalog/licenses/program/update/": 1,
			"POST /api/catalog/licenses/user/create/":    1,
			"GET /api/catalog/licenses/program/":         2,
		},
	}
	// Every endpoint is listed; those not called count 0.
	require.Len(t, got.ByEndpoint, 35)
	maps.DeleteFunc(got.ByEndpoint, func(_ string, n int64) bool { return n == 0 })
	require.Equal(t, want, got)
	direct := b.srv.Stats()
	maps.DeleteFunc(direct.ByEndpoint, func(_ string, n int64) bool { return n == 0 })
	require.Equal(t, want, direct)

	// Every documented key is present.
	var keys map[string]any
	require.NoError(t, json.Unmarshal(res.raw, &keys))
	for _, k := range []string{
		"program_licenses", "user_licenses", "program_group_assignments", "user_group_assignments",
		"program_user_assignments", "user_user_assignments", "program_suggestions", "group_suggestions",
		"issuers", "uipath_group_allocations", "history", "creates", "updates", "deletes", "requests",
		"faults", "outage_answers", "throttled", "by_endpoint",
	} {
		require.Contains(t, keys, k)
	}

	res = b.call(t, http.MethodPost, statsPath, nil)
	requireStatus(t, http.StatusMethodNotAllowed, res)
}

func TestStatsIgnoresFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{FailRate: 1})
	requireStatus(t, http.StatusServiceUnavailable, b.call(t, http.MethodGet, programLicensesPath, nil))
	res := b.callWith(t, http.MethodGet, statsPath, nil, nil)
	requireStatus(t, http.StatusOK, res)
	require.Equal(t, float64(1), res.body["faults"])
	require.Equal(t, float64(1), res.body["requests"])
}
