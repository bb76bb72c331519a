package sandbox

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		rate          float64
		requests      int
		wantThrottled int64
		wantAfter     string // Retry-After of the first 429
	}{
		{name: "NoLimit", requests: 20},
		{name: "WithinOneSecondsWorth", rate: 10, requests: 10},
		{name: "Beyond", rate: 10, requests: 14, wantThrottled: 4, wantAfter: "1"},
		{name: "SlowRate", rate: 0.2, requests: 2, wantThrottled: 1, wantAfter: "5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{RateLimit: tt.rate})
			var first *result
			for range tt.requests {
				res := b.call(t, http.MethodGet, programLicensesPath, nil)
				if res.status == http.StatusTooManyRequests && first == nil {
					first = &res
				}
			}
			st := b.srv.Stats()
			require.Equal(t, tt.wantThrottled, st.Throttled)
			require.Equal(t, int64(tt.requests), st.Requests, "429s are requests too")
			if tt.wantThrottled == 0 {
				require.Nil(t, first)
				return
			}
			require.NotNil(t, first)
			require.Equal(t, tt.wantAfter, first.header.Get("Retry-After"))
			require.Contains(t, first.body["detail"], "Request was throttled. Expected available in "+tt.wantAfter+" second")
		})
	}
}

func TestRateLimitRefills(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{RateLimit: 20})
	for range 20 {
		requireStatus(t, http.StatusOK, b.call(t, http.MethodGet, programLicensesPath, nil))
	}
	requireStatus(t, http.StatusTooManyRequests, b.call(t, http.MethodGet, programLicensesPath, nil))
	time.Sleep(120 * time.Millisecond) // two requests' worth
	requireStatus(t, http.StatusOK, b.call(t, http.MethodGet, programLicensesPath, nil))
	// The inspection paths are never throttled.
	for range 5 {
		requireStatus(t, http.StatusOK, b.callWith(t, http.MethodGet, statsPath, nil, nil))
	}
}
