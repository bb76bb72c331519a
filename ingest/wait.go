package ingest

import (
	"context"
	"time"

	"github.com/bulksync/bulksync/jobs"
)

// Wait polls a batch until it is finished (done or halted) or ctx ends,
// calling progress after every poll that saw a change.
func Wait(ctx context.Context, store *jobs.Store, id string, every time.Duration, progress func(jobs.Meta)) (jobs.Meta, error) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := -1
	for {
		m, err := store.Get(ctx, id)
		if err != nil {
			return m, err
		}
		if m.Done != last && progress != nil {
			progress(m)
			last = m.Done
		}
		if m.Finished() {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-t.C:
		}
	}
}
