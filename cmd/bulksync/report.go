package main

import (
	"context"
	"flag"
	"io"

	"github.com/bulksync/bulksync/report"
)

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	flagUsage(fs, "bulksync report [flags] BATCH_ID")
	var out report.Outputs
	fs.StringVar(&out.Summary, "summary", "", "write the summary JSON to `FILE`")
	fs.StringVar(&out.Results, "results", "", "write one result per row to `FILE` (CSV, or JSON lines when it ends in .jsonl)")
	id, err := batchArg(fs, args)
	if err != nil {
		return err
	}
	rt := &runtime{}
	defer rt.close()
	if err := openRedis(ctx, rt, getenv, false); err != nil {
		return err
	}
	if _, err := rt.store.Get(ctx, id); err != nil {
		return usageError{err}
	}
	sum, err := writeReports(ctx, rt.store, id, out, stdout, stderr)
	if err != nil {
		return err
	}
	if code := sum.ExitCode(); code != exitOK {
		return exitError(code)
	}
	return nil
}
