package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/bulksync/bulksync/jobs"
)

// errCancelled ends a chunk whose batch was cancelled: its rows not yet
// started stay without an outcome (unprocessed).
var errCancelled = errors.New("batch cancelled")

// cancelPoll is how often a chunk under way reads its batch's state, to
// stop between rows once the batch is cancelled.
const cancelPoll = 500 * time.Millisecond

// cancelWatch tells a chunk under way that its batch was cancelled.
type cancelWatch struct {
	cancelled atomic.Bool
	stop      chan struct{}
	ended     chan struct{}
}

// watchCancel reads the state of c's batch every cancelPoll until the
// returned watch is stopped, and marks c cancelled once the batch is. A
// read that fails is tried again at the next poll.
func (w *Worker) watchCancel(ctx context.Context, c *chunkInfo) *cancelWatch {
	cw := &cancelWatch{stop: make(chan struct{}), ended: make(chan struct{})}
	c.watch = cw
	go func() {
		defer close(cw.ended)
		t := time.NewTicker(cancelPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-cw.stop:
				return
			case <-t.C:
			}
			if st, err := w.store.State(ctx, c.BatchID); err == nil && st == jobs.StateCancelled {
				cw.cancelled.Store(true)
				return
			}
		}
	}()
	return cw
}

// end stops the watch and waits for its goroutine.
func (cw *cancelWatch) end() {
	close(cw.stop)
	<-cw.ended
}

// cancelled reports whether the chunk's batch was cancelled while the
// chunk ran; false when nothing watches.
func (c *chunkInfo) cancelled() bool {
	return c.watch != nil && c.watch.cancelled.Load()
}
