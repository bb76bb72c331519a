package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/bulksync/bulksync/ratelimit"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisDB is this package's database on the test Redis; every test also
// has a key prefix of its own.
const redisDB = 15

// testBundle is a Redis client and a key prefix no other test uses.
type testBundle struct {
	rdb    redis.UniversalClient
	prefix string
}

// setup returns the real Redis ($BULKSYNC_TEST_REDIS, else
// 127.0.0.1:6379), or an in-process one (miniredis, as an embedded import
// uses) when inProcess is set.
func setup(t *testing.T, inProcess bool) *testBundle {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tb := &testBundle{prefix: "bulksync-test-" + hex.EncodeToString(b) + ":"}
	if inProcess {
		mr := miniredis.RunT(t)
		tb.rdb = redis.NewClient(&redis.Options{Addr: mr.Addr()})
	} else {
		addr := os.Getenv("BULKSYNC_TEST_REDIS")
		if addr == "" {
			addr = "127.0.0.1:6379"
		}
		tb.rdb = redis.NewClient(&redis.Options{Addr: addr, DB: redisDB})
		require.NoError(t, tb.rdb.Ping(context.Background()).Err(), "redis at %s (start it: redis-server --daemonize yes --port 6379)", addr)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, pattern := range []string{tb.prefix + "*", "rate:" + tb.prefix + "*"} {
			iter := tb.rdb.Scan(ctx, 0, pattern, 100).Iterator()
			for iter.Next(ctx) {
				tb.rdb.Del(ctx, iter.Val())
			}
		}
		_ = tb.rdb.Close()
	})
	return tb
}

func (tb *testBundle) limiter(t *testing.T, host string, cfg ratelimit.Config) *ratelimit.Limiter {
	t.Helper()
	cfg.Prefix = tb.prefix
	l, err := ratelimit.New(tb.rdb, host, cfg)
	require.NoError(t, err)
	return l
}

// waitAll calls Wait n times on each limiter, from 4 goroutines each, and
// returns how long it took.
func waitAll(t *testing.T, n int, lims ...*ratelimit.Limiter) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, l := range lims {
		for g := range 4 {
			wg.Go(func() {
				for i := g; i < n; i += 4 {
					require.NoError(t, l.Wait(ctx))
				}
			})
		}
	}
	wg.Wait()
	return time.Since(start)
}

func TestSharedBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		inProcess bool
	}{
		{"Redis", false},
		{"InProcessRedis", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, tc.inProcess)
			cfg := ratelimit.Config{Rate: 50, Burst: 1}
			// Two processes of one fleet: 40 requests at 50/s take 0.8 s
			// together, where each alone would let its 20 go in 0.4 s.
			a, b := tb.limiter(t, "api.example", cfg), tb.limiter(t, "api.example", cfg)
			took := waitAll(t, 20, a, b)
			require.GreaterOrEqual(t, took, 700*time.Millisecond)
			require.Less(t, took, 3*time.Second)
			// Another host has a budget of its own.
			other := tb.limiter(t, "other.example", cfg)
			require.Less(t, waitAll(t, 5, other), 300*time.Millisecond)
		})
	}
}

func TestAdaptiveRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		inProcess bool
	}{
		{"Redis", false},
		{"InProcessRedis", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, tc.inProcess)
			ctx := context.Background()
			cfg := ratelimit.Config{Rate: 100, Decrease: 0.5, Increase: 0.5, MinRate: 20, Cooldown: 300 * time.Millisecond}
			a, b := tb.limiter(t, "api.example", cfg), tb.limiter(t, "api.example", cfg)
			r, err := b.Rate(ctx)
			require.NoError(t, err)
			require.InDelta(t, 100, r, 0.001, "starts at the ceiling")

			// A 429 in one process halves the rate every process sees; the
			// 429s of the same overshoot count once.
			require.NoError(t, a.Throttled(ctx, time.Second))
			require.NoError(t, b.Throttled(ctx, time.Second))
			r, err = b.Rate(ctx)
			require.NoError(t, err)
			require.InDelta(t, 50, r, 5)

			// Past the cooldown, 429s decrease it again, not below MinRate.
			for range 3 {
				time.Sleep(350 * time.Millisecond)
				require.NoError(t, a.Throttled(ctx, 0))
			}
			r, err = b.Rate(ctx)
			require.NoError(t, err)
			require.InDelta(t, 20, r, 10)

			// Then it climbs back by 50/s, up to the ceiling.
			time.Sleep(600 * time.Millisecond)
			r2, err := b.Rate(ctx)
			require.NoError(t, err)
			require.Greater(t, r2, r+20)
			require.Eventually(t, func() bool {
				r, err := b.Rate(ctx)
				return err == nil && r == 100
			}, 5*time.Second, 50*time.Millisecond)
		})
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	tb := setup(t, false)
	l := tb.limiter(t, "api.example", ratelimit.Config{Rate: 0.5, Burst: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.NoError(t, l.Wait(ctx), "the burst goes at once")
	require.ErrorIs(t, l.Wait(ctx), context.DeadlineExceeded, "the next is 2 s away")
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	l, err := ratelimit.New(rdb, "api.example", ratelimit.Config{Rate: 10})
	require.NoError(t, err)
	require.ErrorContains(t, l.Wait(context.Background()), "rate limiter")
	require.ErrorContains(t, l.Throttled(context.Background(), 0), "rate limiter")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		host string
		cfg  ratelimit.Config
		want string
	}{
		{"NoRate", "h", ratelimit.Config{}, "Rate must be a positive number"},
		{"NegativeRate", "h", ratelimit.Config{Rate: -1}, "Rate must be a positive number"},
		{"NegativeBurst", "h", ratelimit.Config{Rate: 1, Burst: -1}, "Burst cannot be negative"},
		{"DecreaseNotBelowOne", "h", ratelimit.Config{Rate: 1, Decrease: 1}, "Decrease must be in (0, 1)"},
		{"MinRateAboveRate", "h", ratelimit.Config{Rate: 1, MinRate: 2}, "MinRate must be between 0 and Rate"},
		{"NoHost", "", ratelimit.Config{Rate: 1}, "host is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ratelimit.New(nil, tc.host, tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
