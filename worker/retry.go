package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/cenkalti/backoff/v4"
)

// exhaustedError is a transient failure that outlived the retry budget.
type exhaustedError struct{ err error }

func (e *exhaustedError) Error() string { return "retries exhausted: " + e.err.Error() }
func (e *exhaustedError) Unwrap() error { return e.err }

// errUnavailable ends a chunk whose rows cannot be sent because the API
// is down (its circuit breaker is open): the chunk goes back to the queue
// and its rows without an outcome are applied when it comes back.
var errUnavailable = errors.New("the API is unavailable")

// deadlineKey is the context key of a row's retry deadline.
type deadlineKey struct{}

// withDeadline returns ctx carrying the time after which a row's transient
// failures are no longer retried. It is not a context deadline: a row
// past it fails with retries_exhausted instead of being cut off.
func withDeadline(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, deadlineKey{}, t)
}

// retry runs op until it succeeds, fails with a non-retryable error, the
// row's retry deadline (see withDeadline) or Config.MaxAttempts is spent
// (an *exhaustedError), the API becomes unavailable (errUnavailable,
// wrapping op's error) or ctx ends (ctx's error). It returns the number of
// attempts made. A request op retries on its own (a look-up) counts as
// part of one attempt.
func (w *Worker) retry(ctx context.Context, op func() error) (int, error) {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(w.cfg.InitialBackoff),
		backoff.WithMaxInterval(w.cfg.MaxBackoff),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0),
	)
	deadline, _ := ctx.Value(deadlineKey{}).(time.Time)
	for attempt := 1; ; attempt++ {
		err := op()
		switch {
		case err == nil:
			return attempt, nil
		case ctx.Err() != nil:
			return attempt, ctx.Err()
		case errors.Is(err, errUnavailable):
			return attempt, err
		case errors.Is(err, dmapi.ErrUnavailable) && !deadline.IsZero() && time.Now().After(deadline):
			return attempt, &exhaustedError{err}
		case errors.Is(err, dmapi.ErrUnavailable):
			return attempt, fmt.Errorf("%w: %w", errUnavailable, err)
		case dmapi.ClassOf(err) != dmapi.Retryable:
			return attempt, err
		case w.cfg.MaxAttempts > 0 && attempt >= w.cfg.MaxAttempts:
			return attempt, &exhaustedError{err}
		}
		d := b.NextBackOff()
		var apiErr *dmapi.Error
		if errors.As(err, &apiErr) && apiErr.RetryAfter > d {
			d = min(apiErr.RetryAfter, w.cfg.MaxRetryAfter)
		}
		if !deadline.IsZero() && time.Now().Add(d).After(deadline) {
			return attempt, &exhaustedError{err}
		}
		w.observeRetry()
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempt, ctx.Err()
		case <-t.C:
		}
	}
}

// call runs one request, retrying it on its own transient failures as
// retry does: a look-up that failed is not a write that failed.
func (w *Worker) call(ctx context.Context, req func() error) error {
	_, err := w.retry(ctx, req)
	return err
}

// lookup is call for a request that returns a value.
func lookup[T any](ctx context.Context, w *Worker, req func(context.Context) (T, error)) (T, error) {
	var v T
	err := w.call(ctx, func() error {
		var err error
		v, err = req(ctx)
		return err
	})
	return v, err
}
