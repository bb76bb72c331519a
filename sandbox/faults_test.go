package sandbox

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseFailStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    FailStatus
		wantErr bool
	}{
		{in: "503", want: FailStatus{Code: 503}},
		{in: "429", want: FailStatus{Code: 429}},
		{in: "500", want: FailStatus{Code: 500}},
		{in: "reset", want: FailStatus{Reset: true}},
		{in: "200", wantErr: true},
		{in: "302", wantErr: true},
		{in: "600", wantErr: true},
		{in: "", wantErr: true},
		{in: "RESET", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFailStatus(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.in, got.String())
		})
	}
	require.Equal(t, "503", FailStatus{}.String())
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"Valid", Config{Token: "t"}, ""},
		{"NoToken", Config{}, "Token is required"},
		{"NegativeLatency", Config{Token: "t", Latency: -1}, "Latency cannot be negative"},
		{"NegativeRateLimit", Config{Token: "t", RateLimit: -1}, "RateLimit -1 is not a rate: want 0 (no limit) or a positive number of requests per second"},
		{"FailRate", Config{Token: "t", FailRate: 1.5}, "FailRate 1.5 is outside [0, 1]"},
		{"FailAfterWrite", Config{Token: "t", FailAfterWrite: -0.1}, "FailAfterWrite -0.1 is outside [0, 1]"},
		{"FailStatus", Config{Token: "t", FailStatus: FailStatus{Code: 200}}, "FailStatus: code 200 is not a 4xx or 5xx status"},
		{"FailStatusBoth", Config{Token: "t", FailStatus: FailStatus{Code: 503, Reset: true}}, "FailStatus: code 503 and reset are exclusive"},
		{"TokenTTL", Config{Token: "t", UiPath: UiPathConfig{TokenTTL: -time.Second}}, "UiPath.TokenTTL cannot be negative"},
		{"Quantity", Config{Token: "t", UiPath: UiPathConfig{Quantities: map[string]int{"IDU": -1}}}, `UiPath.Quantities["IDU"] cannot be negative`},
		{"Fixtures", Config{Token: "t", Fixtures: &Fixtures{Groups: []int{0}}}, "Fixtures: groups[0]: id 0 is not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				require.NotPanics(t, func() { New(tt.cfg) })
				return
			}
			require.EqualError(t, err, tt.want)
			require.PanicsWithValue(t, "sandbox: invalid config: "+tt.want, func() { New(tt.cfg) })
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	create := programLicensesPath + "create/"

	t.Run("FailBefore503", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{FailRate: 1})
		res := b.call(t, http.MethodPost, create, programLicense("x"))
		requireStatus(t, http.StatusServiceUnavailable, res)
		require.Equal(t, jsonOf(t, `{"detail": "Service temporarily unavailable"}`), res.body)
		st := b.srv.Stats()
		require.Zero(t, st.ProgramLicenses)
		require.Zero(t, st.Creates)
		require.Equal(t, int64(1), st.Faults)
		require.Equal(t, int64(1), st.Requests)
	})

	t.Run("FailBeforeAuth", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{FailRate: 1})
		res := b.callWith(t, http.MethodGet, programLicensesPath, nil, nil)
		requireStatus(t, http.StatusServiceUnavailable, res)
	})

	t.Run("Throttled429", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{FailRate: 1, FailStatus: FailStatus{Code: 429}})
		res := b.call(t, http.MethodGet, programLicensesPath, nil)
		requireStatus(t, http.StatusTooManyRequests, res)
		require.Equal(t, "1", res.header.Get("Retry-After"))
		require.Equal(t, jsonOf(t, `{"detail": "Request was throttled. Expected available in 1 second."}`), res.body)
	})

	t.Run("OtherCode", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{FailRate: 1, FailStatus: FailStatus{Code: 502}})
		res := b.call(t, http.MethodGet, programLicensesPath, nil)
		requireStatus(t, http.StatusBadGateway, res)
		require.Equal(t, jsonOf(t, `{"detail": "Bad Gateway"}`), res.body)
	})

	t.Run("Reset", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{FailRate: 1, FailStatus: FailStatus{Reset: true}})
		_, err := b.send(t, http.MethodPost, create, programLicense("x"), http.Header{"Authorization": {"Api-Token " + testToken}})
		require.Error(t, err)
		require.Zero(t, b.srv.Stats().ProgramLicenses)
	})

	t.Run("ResetWithoutHijacker", func(t *testing.T) {
		t.Parallel()
		srv := New(Config{Token: testToken, FailRate: 1, FailStatus: FailStatus{Reset: true}})
		req := httptest.NewRequest(http.MethodGet, programLicensesPath, nil)
		require.PanicsWithValue(t, http.ErrAbortHandler, func() { srv.ServeHTTP(httptest.NewRecorder(), req) })
	})

	t.Run("FailAfterWrite", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{FailAfterWrite: 1})
		res := b.call(t, http.MethodPost, create, programLicense("ext-1"))
		requireStatus(t, http.StatusServiceUnavailable, res)
		// The write took effect: a retry finds the license.
		res = b.call(t, http.MethodGet, programLicensesPath+"?external_id=ext-1", nil)
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, float64(1), res.body["count"])
		res = b.call(t, http.MethodPost, create, programLicense("ext-1"))
		requireStatus(t, http.StatusBadRequest, res)
		st := b.srv.Stats()
		require.Equal(t, int64(1), st.Creates)
		require.Equal(t, int64(1), st.Faults)
	})

	t.Run("FailAfterWriteReset", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{FailAfterWrite: 1, FailStatus: FailStatus{Reset: true}})
		_, err := b.send(t, http.MethodPost, create, programLicense("ext-1"), http.Header{"Authorization": {"Api-Token " + testToken}})
		require.Error(t, err)
		require.Equal(t, 1, b.srv.Stats().ProgramLicenses)
	})

	t.Run("FailAfterWriteSparesFailedWrites", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{FailAfterWrite: 1})
		res := b.call(t, http.MethodPost, create, map[string]any{})
		requireStatus(t, http.StatusBadRequest, res)
		requireStatus(t, http.StatusOK, b.call(t, http.MethodGet, programLicensesPath, nil))
		require.Zero(t, b.srv.Stats().Faults)
	})

	t.Run("RateIsSeeded", func(t *testing.T) {
		t.Parallel()
		run := func() []int {
			b := setup(t, Config{FailRate: 0.5, Seed: 42})
			var statuses []int
			for range 40 {
				statuses = append(statuses, b.call(t, http.MethodGet, programLicensesPath, nil).status)
			}
			return statuses
		}
		first := run()
		require.Equal(t, first, run())
		require.Contains(t, first, http.StatusOK)
		require.Contains(t, first, http.StatusServiceUnavailable)
	})

	t.Run("Latency", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{Latency: 100 * time.Millisecond})
		start := time.Now()
		requireStatus(t, http.StatusOK, b.call(t, http.MethodGet, programLicensesPath, nil))
		require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)

		start = time.Now()
		requireStatus(t, http.StatusOK, b.call(t, http.MethodGet, statsPath, nil))
		require.Less(t, time.Since(start), 100*time.Millisecond)
	})

	t.Run("LatencyHonoursContext", func(t *testing.T) {
		t.Parallel()
		srv := New(Config{Token: testToken, Latency: time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, programLicensesPath, nil))
		require.Equal(t, int64(1), srv.Stats().Requests)
		require.Empty(t, rec.Body.String())
	})
}

func TestFaultsApplyToEveryAPIPath(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{FailRate: 1})
	for _, path := range []string{issuersPath, suggestionsPath + "bulk/", "/identity_/connect/token", allocatePath + "g", "/nowhere"} {
		res := b.call(t, http.MethodPost, path, map[string]any{})
		requireStatus(t, http.StatusServiceUnavailable, res)
	}
	st := b.srv.Stats()
	require.Equal(t, int64(5), st.Faults)
	require.Equal(t, int64(5), st.Requests)
	require.Equal(t, int64(1), st.ByEndpoint["POST /{org}/lease_/api/account/{accountId}/user-license/group/{groupId}"])
}
