package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/hibiken/asynq"
)

// sweepInterval is how often a worker looks for archived chunks.
const sweepInterval = 30 * time.Second

// sweep gives an outcome to the rows of archived chunks, then deletes
// them. asynq archives a chunk without calling the ErrorHandler when the
// lease of its last delivery expires (a worker killed on that delivery),
// which would leave its rows without outcomes and the batch running for
// good. Recording is HSETNX, so rows that are done keep their outcome and
// several workers may sweep at once.
func (w *Worker) sweep(ctx context.Context, ins *asynq.Inspector) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		if err := w.sweepOnce(ctx, ins); err != nil && ctx.Err() == nil {
			w.log.Warn("sweep of archived chunks failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepOnce sweeps the archived chunks of every queue the worker takes.
func (w *Worker) sweepOnce(ctx context.Context, ins *asynq.Inspector) error {
	for _, q := range slices.Sorted(maps.Keys(w.cfg.Queues)) {
		if err := w.sweepQueue(ctx, ins, q); err != nil {
			return err
		}
	}
	return nil
}

func (w *Worker) sweepQueue(ctx context.Context, ins *asynq.Inspector, queue string) error {
	tasks, err := ins.ListArchivedTasks(queue, asynq.PageSize(100))
	if err != nil {
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return nil
		}
		return fmt.Errorf("list archived chunks: %w", err)
	}
	for _, ti := range tasks {
		if ctx.Err() != nil {
			return nil
		}
		p, err := jobs.DecodeChunk(asynq.NewTask(ti.Type, ti.Payload))
		if err == nil {
			msg := fmt.Sprintf("the chunk was given up after %d deliveries: %s", ti.Retried+1, ti.LastErr)
			if err := w.recordChunkFailed(ctx, p, msg); err != nil {
				return err
			}
		}
		if err := ins.DeleteTask(queue, ti.ID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return fmt.Errorf("delete archived chunk %s: %w", ti.ID, err)
		}
	}
	return nil
}
