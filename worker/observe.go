package worker

import "github.com/bulksync/bulksync/jobs"

// Observer is told of what a worker does, for metrics: every row outcome
// it hands over to be stored, and every API call it retries after a
// transient fault. *metrics.Metrics is one. Its methods are called from
// many goroutines at once.
type Observer interface {
	Row(kind string, o jobs.Outcome)
	Retry()
}

// observeRows tells the observer, if any, of a chunk's outcomes.
func (w *Worker) observeRows(kind string, outs []jobs.Outcome) {
	if w.cfg.Observer == nil {
		return
	}
	for _, o := range outs {
		w.cfg.Observer.Row(kind, o)
	}
}

// observeRetry tells the observer, if any, of a retried API call.
func (w *Worker) observeRetry() {
	if w.cfg.Observer != nil {
		w.cfg.Observer.Retry()
	}
}
