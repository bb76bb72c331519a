package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/bulksync/bulksync/jobs"
)

// runCancel cancels a batch: workers start none of its rows not yet
// attempted, which stay unprocessed; rows in flight finish.
func runCancel(ctx context.Context, args []string, stdout io.Writer, getenv env) error {
	fs := flag.NewFlagSet("cancel", flag.ContinueOnError)
	flagUsage(fs, "bulksync cancel BATCH_ID")
	id, err := batchArg(fs, args)
	if err != nil {
		return err
	}
	rt := &runtime{}
	defer rt.close()
	if err := openRedis(ctx, rt, getenv, false); err != nil {
		return err
	}
	prev, err := rt.store.Cancel(ctx, id)
	switch {
	case errors.Is(err, jobs.ErrBatchNotFound):
		return usageError{err}
	case err != nil:
		return err
	case prev == jobs.StateDone:
		fmt.Fprintf(stdout, "batch %s is done: there is nothing to cancel\n", id)
		return exitError(exitFailed)
	case prev == jobs.StateCancelled:
		fmt.Fprintf(stdout, "batch %s was already cancelled\n", id)
		return nil
	}
	m, err := rt.store.Get(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "batch %s cancelled (was %s): %d/%d rows done; rows in flight finish, the others stay unprocessed (bulksync report %s)\n", id, prev, m.Done, m.Total, id)
	return nil
}
