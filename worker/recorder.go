package worker

import (
	"context"
	"sync"
	"time"

	"github.com/bulksync/bulksync/jobs"
)

// recordTimeout bounds one store call of outcomes.
const recordTimeout = 10 * time.Second

// maxGroup is the most outcomes the recorder sends in one store call, so
// that one script run does not hold Redis for long. A hand-over is never
// split: a larger one goes alone.
const maxGroup = 1000

// recorder stores the outcomes of all of a worker's chunks by group
// commit. While it runs, one goroutine stores whatever is queued at once,
// with no timer; the outcomes handed over during that round trip queue up
// and go together in the next one, one store call per batch. When it is
// not running (before start, after stop), hand-overs are stored by the
// caller, as they come. It is safe for concurrent use.
type recorder struct {
	store   *jobs.Store
	mu      sync.Mutex
	wake    *sync.Cond // signalled when the queue grows or stop begins
	queue   []handover
	running bool
	ended   chan struct{} // closed when the goroutine has ended
}

// handover is one call's outcomes of one chunk, waiting to be stored.
type handover struct {
	batch string
	outs  []jobs.Outcome
	chunk *chunkRecords
}

// chunkRecords tracks the outcomes one chunk handed to a recorder, so that
// the chunk can wait until they are stored.
type chunkRecords struct {
	wg  sync.WaitGroup
	mu  sync.Mutex
	err error // the first store error
}

// newRecorder returns a recorder on store that is not running yet.
func newRecorder(store *jobs.Store) *recorder {
	r := &recorder{store: store}
	r.wake = sync.NewCond(&r.mu)
	return r
}

// start starts the recorder's goroutine, unless it is running.
func (r *recorder) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running {
		return
	}
	r.running, r.ended = true, make(chan struct{})
	go r.loop(r.ended)
}

// stop stores every queued outcome and ends the goroutine. Outcomes handed
// over afterwards are stored by their caller.
func (r *recorder) stop() {
	r.mu.Lock()
	if !r.running {
		r.mu.Unlock()
		return
	}
	r.running = false
	r.wake.Signal()
	ended := r.ended
	r.mu.Unlock()
	<-ended
}

// add hands over outs of batch, for c to wait on. The recorder keeps outs:
// the caller must not change it.
func (r *recorder) add(c *chunkRecords, batch string, outs []jobs.Outcome) {
	if len(outs) == 0 {
		return
	}
	h := handover{batch: batch, outs: outs, chunk: c}
	c.wg.Add(1)
	r.mu.Lock()
	if !r.running {
		r.mu.Unlock()
		r.flush([]handover{h})
		return
	}
	r.queue = append(r.queue, h)
	r.wake.Signal()
	r.mu.Unlock()
}

// loop stores the queue, whole, until stop has been called and the queue
// is empty.
func (r *recorder) loop(ended chan struct{}) {
	defer close(ended)
	for {
		r.mu.Lock()
		for len(r.queue) == 0 && r.running {
			r.wake.Wait()
		}
		q := r.queue
		r.queue = nil
		r.mu.Unlock()
		if len(q) == 0 {
			return
		}
		r.flush(q)
	}
}

// flush stores q with one store call per batch (or per maxGroup outcomes)
// and tells each hand-over's chunk how it went.
func (r *recorder) flush(q []handover) {
	for len(q) > 0 {
		batch := q[0].batch
		var group []handover
		var outs []jobs.Outcome
		rest := q[:0]
		for _, h := range q {
			if h.batch == batch && (len(outs) == 0 || len(outs)+len(h.outs) <= maxGroup) {
				group = append(group, h)
				outs = append(outs, h.outs...)
			} else {
				rest = append(rest, h)
			}
		}
		q = rest
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		_, err := r.store.Record(ctx, batch, outs...)
		cancel()
		for _, h := range group {
			h.chunk.done(err)
		}
	}
}

// done marks one hand-over as stored, or failed with err.
func (c *chunkRecords) done(err error) {
	if err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	c.wg.Done()
}

// failed returns the first store error so far, without waiting.
func (c *chunkRecords) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// wait waits until every outcome handed over for c has been stored, and
// returns the first store error.
func (c *chunkRecords) wait() error {
	c.wg.Wait()
	return c.failed()
}
