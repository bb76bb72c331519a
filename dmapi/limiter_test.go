package dmapi_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

// fakeLimiter counts waits and records the Retry-After of each 429.
type fakeLimiter struct {
	mu        sync.Mutex
	waits     int
	throttled []time.Duration
	err       error // Wait's error
}

func (l *fakeLimiter) Wait(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waits++
	return l.err
}

func (l *fakeLimiter) Throttled(_ context.Context, retryAfter time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.throttled = append(l.throttled, retryAfter)
	return nil
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		failStatus    string
		waitErr       error
		wantWaits     int
		wantThrottled []time.Duration
		wantStatus    int
	}{
		{name: "WaitsBeforeEachRequest", wantWaits: 1},
		{name: "HearsOf429AndItsRetryAfter", failStatus: "429", wantWaits: 1, wantThrottled: []time.Duration{time.Second}, wantStatus: 429},
		{name: "IgnoresOther5xx", failStatus: "503", wantWaits: 1, wantStatus: 503},
		{name: "LimiterErrorSendsNothing", waitErr: errors.New("redis down"), wantWaits: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := sandbox.Config{Token: testToken}
			if tc.failStatus != "" {
				fs, err := sandbox.ParseFailStatus(tc.failStatus)
				require.NoError(t, err)
				cfg.FailRate, cfg.FailStatus = 1, fs
			}
			srv := sandbox.New(cfg)
			ts := httptest.NewServer(srv)
			defer ts.Close()
			lim := &fakeLimiter{err: tc.waitErr}
			c, err := dmapi.New(dmapi.Config{BaseURL: ts.URL, Token: testToken, Limiter: lim})
			require.NoError(t, err)
			_, err = c.ListLicenses(context.Background(), dmapi.UserLicense, dmapi.ListOptions{PlatformKey: "acme"})
			require.Equal(t, tc.wantWaits, lim.waits)
			require.Equal(t, tc.wantThrottled, lim.throttled)
			require.Equal(t, tc.wantStatus, dmapi.StatusOf(err))
			if tc.waitErr != nil {
				require.ErrorIs(t, err, tc.waitErr)
				require.Equal(t, dmapi.Retryable, dmapi.ClassOf(err))
				require.Zero(t, srv.Stats().Requests, "nothing sent")
			}
		})
	}
}
