// Package ratelimit is the API request budget that every bulksync worker
// process shares through Redis: one rate per API host, whatever the number
// of processes and machines.
//
// The pacing itself is github.com/go-redis/redis_rate (GCRA, one Redis
// script call per request). Above it sits an adaptive rate, also kept in
// Redis: every 429 answer multiplies the shared rate by Config.Decrease
// (at most once per Config.Cooldown, so that the 429s many workers get
// from one overshoot count once), and the rate climbs back by
// Config.Increase × Rate per second up to Rate. The fleet so settles just
// under what the API allows, even when Rate is set above it.
//
// A [Limiter] is a dmapi.Limiter:
//
//	lim, err := ratelimit.New(rdb, "base.manager.iblai.app", ratelimit.Config{Rate: 300})
//	api, err := dmapi.New(dmapi.Config{BaseURL: url, Token: token, Limiter: lim})
package ratelimit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Config configures a [Limiter]. Zero fields but Rate take the defaults.
type Config struct {
	// Rate is the most requests per second to the API host, summed over
	// every process that shares the budget: the ceiling the shared rate
	// climbs back to. Required.
	Rate float64
	// Burst is how many requests may go at once after a quiet spell.
	// Defaults to a tenth of a second's worth of Rate, at least 1.
	Burst int
	// Decrease multiplies the shared rate on a 429. Defaults to 0.85.
	Decrease float64
	// Increase is how fast the shared rate climbs back after a decrease,
	// as a fraction of Rate per second. Defaults to 0.05 (from 85% back to
	// Rate in 3 s).
	Increase float64
	// MinRate is the floor of the shared rate. Defaults to Rate/50.
	MinRate float64
	// Cooldown is the least time between two decreases. Defaults to 1 s.
	Cooldown time.Duration
	// Refresh is how long a process paces itself on the shared rate it
	// last read before reading it again. Defaults to 250 ms.
	Refresh time.Duration
	// Prefix starts the limiter's Redis keys. Defaults to "bulksync:".
	Prefix string
}

func (c Config) withDefaults() Config {
	c.Burst = cmp.Or(c.Burst, max(1, int(c.Rate/10)))
	c.Decrease = cmp.Or(c.Decrease, 0.85)
	c.Increase = cmp.Or(c.Increase, 0.05)
	c.MinRate = cmp.Or(c.MinRate, c.Rate/50)
	c.Cooldown = cmp.Or(c.Cooldown, time.Second)
	c.Refresh = cmp.Or(c.Refresh, 250*time.Millisecond)
	c.Prefix = cmp.Or(c.Prefix, "bulksync:")
	return c
}

func (c Config) validate() error {
	switch {
	case !(c.Rate > 0) || math.IsInf(c.Rate, 1):
		return errors.New("ratelimit: Rate must be a positive number")
	case c.Burst < 0:
		return errors.New("ratelimit: Burst cannot be negative")
	case c.Decrease < 0 || c.Decrease >= 1:
		return errors.New("ratelimit: Decrease must be in (0, 1)")
	case c.Increase < 0:
		return errors.New("ratelimit: Increase cannot be negative")
	case c.MinRate < 0 || c.MinRate > c.Rate:
		return errors.New("ratelimit: MinRate must be between 0 and Rate")
	case c.Cooldown < 0 || c.Refresh < 0:
		return errors.New("ratelimit: Cooldown and Refresh cannot be negative")
	}
	return nil
}

// Limiter paces requests to one API host on a rate shared through Redis.
// It implements dmapi.Limiter and is safe for concurrent use.
type Limiter struct {
	cfg     Config
	rdb     redis.UniversalClient
	gcra    *redis_rate.Limiter
	key     string // the GCRA state (redis_rate adds its own "rate:" prefix)
	rateKey string // the adaptive rate: a hash of rate, at, cut

	mu      sync.Mutex
	rate    float64   // the shared rate as last read
	readAt  time.Time // when it was read
	waiting atomic.Int64
}

// New returns the limiter of the API host host (such as
// "base.manager.iblai.app") on rdb. Every process that passes the same
// host and Prefix shares one budget.
func New(rdb redis.UniversalClient, host string, cfg Config) (*Limiter, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if host == "" {
		return nil, errors.New("ratelimit: host is required")
	}
	cfg = cfg.withDefaults()
	key := cfg.Prefix + "ratelimit:" + host
	return &Limiter{cfg: cfg, rdb: rdb, gcra: redis_rate.NewLimiter(rdb), key: key, rateKey: key + ":rate"}, nil
}

// ratePeriod is the period of the GCRA limit: redis_rate counts whole
// requests per period, so a long one keeps fractional rates (4.35/s is
// 435 per 100 s).
const ratePeriod = 100 * time.Second

// Wait blocks until one request may be sent, or ctx ends. It returns the
// error of a Redis call that failed.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		r, err := l.current(ctx)
		if err != nil {
			return err
		}
		lim := redis_rate.Limit{Rate: max(1, int(math.Round(r*ratePeriod.Seconds()))), Period: ratePeriod, Burst: l.cfg.Burst}
		res, err := l.gcra.Allow(ctx, l.key, lim)
		if err != nil {
			return fmt.Errorf("rate limiter: %w", err)
		}
		if res.Allowed > 0 {
			return nil
		}
		// Every waiter is told the same next free slot: spread the ones of
		// this process over as many slots, so that they do not all ask
		// Redis again at once.
		n := l.waiting.Add(1)
		d := res.RetryAfter + rand.N(time.Duration(float64(n)*float64(time.Second)/r)+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			l.waiting.Add(-1)
			return ctx.Err()
		case <-t.C:
		}
		l.waiting.Add(-1)
	}
}

// Throttled reports a 429: the shared rate is decreased, unless another
// 429 decreased it less than Cooldown ago. The Retry-After is the
// request's own to honour; the fleet slows down through the rate.
func (l *Limiter) Throttled(ctx context.Context, _ time.Duration) error {
	v, err := decreaseScript.Run(ctx, l.rdb, []string{l.rateKey},
		l.cfg.Rate, l.cfg.Increase*l.cfg.Rate, l.cfg.Decrease, l.cfg.MinRate, l.cfg.Cooldown.Seconds(), int(stateTTL.Seconds())).Text()
	if err != nil {
		return fmt.Errorf("rate limiter: decrease: %w", err)
	}
	return l.keep(v)
}

// Rate returns the shared rate in requests per second, as Redis holds it
// now.
func (l *Limiter) Rate(ctx context.Context) (float64, error) {
	v, err := rateScript.Run(ctx, l.rdb, []string{l.rateKey}, l.cfg.Rate, l.cfg.Increase*l.cfg.Rate).Text()
	if err != nil {
		return 0, fmt.Errorf("rate limiter: read rate: %w", err)
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("rate limiter: read rate %q: %w", v, err)
	}
	return r, nil
}

// current returns the shared rate, read again from Redis when the copy
// of this process is older than Refresh.
func (l *Limiter) current(ctx context.Context) (float64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.readAt) < l.cfg.Refresh {
		return l.rate, nil
	}
	r, err := l.Rate(ctx)
	if err != nil {
		return 0, err
	}
	l.rate, l.readAt = r, time.Now()
	return r, nil
}

// keep stores the rate a decrease returned as this process's copy.
func (l *Limiter) keep(v string) error {
	r, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return fmt.Errorf("rate limiter: decrease returned %q: %w", v, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate, l.readAt = r, time.Now()
	return nil
}

// stateTTL is how long the adaptive rate is kept after its last decrease;
// by then it has long climbed back to Rate.
const stateTTL = time.Hour

// The adaptive rate is a hash: rate (requests per second), at (when rate
// was set) and cut (the last decrease), times in seconds on the Redis
// server's clock (TIME), so that machines whose clocks differ agree. The
// rate in force is rate + increase × (now − at), at most the ceiling.
// Both scripts take ARGV[1] the ceiling and ARGV[2] the increase per
// second.
const rateLua = `
local t = redis.call("TIME")
local now = (t[1] - 1700000000) + t[2] / 1000000
local ceiling, inc = tonumber(ARGV[1]), tonumber(ARGV[2])
local h = redis.call("HMGET", KEYS[1], "rate", "at", "cut")
local r = ceiling
if h[1] then
  r = math.min(ceiling, tonumber(h[1]) + inc * (now - tonumber(h[2])))
end
`

// rateScript returns the rate in force.
var rateScript = redis.NewScript(rateLua + `
return tostring(r)
`)

// decreaseScript multiplies the rate in force by ARGV[3] (not below
// ARGV[4]) unless the last decrease is less than ARGV[5] seconds old, and
// returns the rate in force; the hash expires after ARGV[6] seconds.
var decreaseScript = redis.NewScript(rateLua + `
if h[3] and now - tonumber(h[3]) < tonumber(ARGV[5]) then
  return tostring(r)
end
r = math.max(tonumber(ARGV[4]), r * tonumber(ARGV[3]))
redis.call("HSET", KEYS[1], "rate", tostring(r), "at", tostring(now), "cut", tostring(now))
redis.call("EXPIRE", KEYS[1], ARGV[6])
return tostring(r)
`)
