package dmapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrUnavailable is the error of a request that was not sent because
// every recent request to the API host failed: the circuit breaker is
// open. Callers stop sending and try again later; see [BreakerConfig].
var ErrUnavailable = errors.New("the API is unavailable (circuit breaker open)")

// BreakerConfig configures the circuit breaker in front of the API host.
// After Failures transient failures in a row (network errors, 408 and 5xx
// answers), it opens: requests fail at once with [ErrUnavailable] for
// Cooldown; then one probe request is let through, which closes the
// breaker when it gets an answer, or opens it again.
type BreakerConfig struct {
	// Failures is how many transient failures in a row open the breaker.
	// Defaults to 20; negative disables the breaker.
	Failures int
	// Cooldown is how long the breaker stays open before a probe.
	// Defaults to 15 seconds.
	Cooldown time.Duration
}

// Breaker is a circuit breaker in front of one API host, shared by the
// requests of a client (the Data Manager's, UiPath's). A nil *Breaker lets
// every request through.
type Breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// NewBreaker returns the breaker of host; nil when cfg disables it.
func NewBreaker(host string, cfg BreakerConfig) *Breaker {
	if cfg.Failures < 0 {
		return nil
	}
	failures := uint32(cmp.Or(cfg.Failures, 20))
	return &Breaker{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        host,
		MaxRequests: 1,
		Timeout:     cmp.Or(cfg.Cooldown, 15*time.Second),
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		// An answer about the request itself (a 4xx, a 429 asking to slow
		// down) shows the API is up.
		IsSuccessful: func(err error) bool { return !outage(err) },
		// A request's own context ending says nothing of the API.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	})}
}

// Allow asks to send a request. It returns an error wrapping
// ErrUnavailable while the breaker is open (or its probe is out);
// otherwise the caller reports the request's outcome to done: nil, or the
// *Error it failed with (only network errors, 408 and 5xx count as the
// host failing).
func (b *Breaker) Allow() (done func(error), err error) {
	if b == nil {
		return func(error) {}, nil
	}
	report, err := b.cb.Allow()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return report, nil
}

// outage reports whether err says the API host is down, as opposed to an
// answer about the request itself (a 4xx, a 429 asking to slow down).
func outage(err error) bool {
	var e *Error
	if err == nil || !errors.As(err, &e) {
		return false
	}
	return e.Status == 0 || e.Status == http.StatusRequestTimeout || e.Status >= 500
}
