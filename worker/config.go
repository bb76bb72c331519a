package worker

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/uipath"
)

// Config configures a [Worker]. Zero fields take the defaults.
type Config struct {
	// Concurrency is how many chunks are worked at once. Defaults to 10.
	Concurrency int
	// Queues are the asynq queues worked, by name, with their weights:
	// while several hold chunks, a free slot takes its next chunk from
	// each in proportion to its weight. Defaults to {Queue: 1} when Queue
	// is set, else to DefaultQueues().
	Queues map[string]int
	// Queue, when Queues is empty, is the only queue worked (tests give
	// each test a queue of its own).
	Queue string
	// RetryFor is a row's retry budget: its transient failures are retried
	// for this long from its chunk's first delivery, then it fails with
	// retries_exhausted. Time the chunk spends back in the queue while the
	// API is down counts. Defaults to 1 hour.
	RetryFor time.Duration
	// MaxAttempts, when positive, also bounds the attempts of one row on
	// transient faults. Defaults to none: RetryFor alone bounds them.
	MaxAttempts int
	// InitialBackoff is the first retry delay; it doubles (with ±50%
	// jitter) up to MaxBackoff. Defaults to 250 ms and 15 s.
	InitialBackoff, MaxBackoff time.Duration
	// OutageDelay is how long a chunk handed back while the API is down
	// waits before it is delivered again (plus up to as much jitter).
	// Defaults to 10 s.
	OutageDelay time.Duration
	// MaxRetryAfter caps how long a Retry-After header may make a row
	// wait. Defaults to 60 s.
	MaxRetryAfter time.Duration
	// ShutdownTimeout is how long Shutdown waits for chunks in progress
	// before handing them back to the queue. Defaults to 10 s.
	ShutdownTimeout time.Duration
	// Logger receives the worker's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// Applied is the applied-state store. Defaults to Redis, beside the
	// batches.
	Applied applied.Store
	// UiPath is the client of the uipath-group-licenses kind, a dependency
	// rather than a setting: the Data Manager client is New's argument,
	// UiPath's is optional. Nil fails that kind's rows with
	// "not_configured"; every other kind works without it.
	UiPath *uipath.Client
	// Observer, when set, is told of every row outcome and retried API
	// call, for metrics.
	Observer Observer
}

// DefaultQueue is the asynq queue of file imports, jobs.DefaultQueue.
const DefaultQueue = jobs.DefaultQueue

// InteractiveWeight is the weight of jobs.InteractiveQueue in
// DefaultQueues: while both queues hold chunks, a free slot takes an
// interactive one 9 times out of 10. It is not strict priority, so that a
// steady stream of requests cannot stall an import for good.
const InteractiveWeight = 9

// DefaultQueues returns the queues a worker takes by default:
// jobs.InteractiveQueue with InteractiveWeight and jobs.DefaultQueue with
// 1.
func DefaultQueues() map[string]int {
	return map[string]int{jobs.InteractiveQueue: InteractiveWeight, jobs.DefaultQueue: 1}
}

func (c Config) withDefaults() Config {
	c.Concurrency = cmp.Or(c.Concurrency, 10)
	switch {
	case len(c.Queues) > 0:
		c.Queues = maps.Clone(c.Queues)
	case c.Queue != "":
		c.Queues = map[string]int{c.Queue: 1}
	default:
		c.Queues = DefaultQueues()
	}
	c.RetryFor = cmp.Or(c.RetryFor, time.Hour)
	c.InitialBackoff = cmp.Or(c.InitialBackoff, 250*time.Millisecond)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, 15*time.Second)
	c.OutageDelay = cmp.Or(c.OutageDelay, 10*time.Second)
	c.MaxRetryAfter = cmp.Or(c.MaxRetryAfter, time.Minute)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Concurrency < 0:
		return errors.New("worker: Concurrency cannot be negative")
	case c.MaxAttempts < 0:
		return errors.New("worker: MaxAttempts cannot be negative")
	case c.RetryFor < 0:
		return errors.New("worker: RetryFor cannot be negative")
	case c.InitialBackoff < 0 || c.MaxBackoff < 0:
		return errors.New("worker: backoff delays cannot be negative")
	}
	for name, weight := range c.Queues {
		if name == "" || weight < 1 {
			return fmt.Errorf("worker: Queues[%q] = %d: want a queue name and a weight of at least 1", name, weight)
		}
	}
	return nil
}
