package worker

import (
	"context"
	"errors"
	"time"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/cenkalti/backoff/v4"
)

// exhaustedError is a transient failure that outlived the retry budget.
type exhaustedError struct{ err error }

func (e *exhaustedError) Error() string { return "retries exhausted: " + e.err.Error() }
func (e *exhaustedError) Unwrap() error { return e.err }

// retry runs op until it succeeds, fails with a non-retryable error, the
// budget is spent (an *exhaustedError) or ctx ends (ctx's error). It
// returns the number of attempts made.
func (w *Worker) retry(ctx context.Context, op func() error) (int, error) {
	exp := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(w.cfg.InitialBackoff),
		backoff.WithMaxInterval(w.cfg.MaxBackoff),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0),
	)
	b := backoff.WithMaxRetries(exp, uint64(max(w.cfg.MaxAttempts-1, 0)))
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil {
			return attempt, nil
		}
		if ctx.Err() != nil {
			return attempt, ctx.Err()
		}
		if dmapi.ClassOf(err) != dmapi.Retryable {
			return attempt, err
		}
		d := b.NextBackOff()
		if d == backoff.Stop {
			return attempt, &exhaustedError{err}
		}
		var apiErr *dmapi.Error
		if errors.As(err, &apiErr) && apiErr.RetryAfter > d {
			d = min(apiErr.RetryAfter, w.cfg.MaxRetryAfter)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempt, ctx.Err()
		case <-t.C:
		}
	}
}
