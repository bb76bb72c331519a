package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/bulksync/bulksync/service"
)

// runBatches lists recent batches, the newest first: kind, state, counts
// and age.
func runBatches(ctx context.Context, args []string, stdout io.Writer, getenv env) error {
	fs := flag.NewFlagSet("batches", flag.ContinueOnError)
	flagUsage(fs, "bulksync batches [--limit N]")
	limit := fs.Int("limit", 20, "most batches listed")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected arguments %q", pos)
	}
	if *limit < 1 {
		return usagef("--limit must be at least 1")
	}
	rt := &runtime{}
	defer rt.close()
	if err := openRedis(ctx, rt, getenv, false); err != nil {
		return err
	}
	metas, err := rt.store.Recent(ctx, *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH\tKIND\tSTATE\tTOTAL\tOK\tFAILED\tUNPROCESSED\tAGE\tSOURCE")
	now := time.Now()
	for _, m := range metas {
		b := service.NewBatchItem(m)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", b.BatchID, b.Kind, b.State, b.Total, b.Successes, b.Failed, b.Unprocessed, age(now.Sub(b.Created)), b.Source)
	}
	return tw.Flush()
}

// age writes a duration the way a person reads a batch's age: 45s, 12m,
// 3h, 2d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
