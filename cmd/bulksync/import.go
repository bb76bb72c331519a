package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/report"
	"github.com/bulksync/bulksync/worker"
	"github.com/hibiken/asynq"
)

// readerFlags are the importer's settings, shared by import and its
// --failed output.
type readerFlags struct {
	kind          string
	format        string
	ignoreUnknown bool
	platformKey   string
	limits        importers.Limits
}

func (f *readerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.kind, "kind", "", "the file's kind: "+strings.Join(kindNames(), ", ")+" (default: told from the header or keys)")
	fs.StringVar(&f.platformKey, "platform-key", "", "platform_key for every row that leaves it empty")
	fs.StringVar(&f.format, "format", "", "csv or json (default: told from the content)")
	fs.BoolVar(&f.ignoreUnknown, "ignore-unknown", false, "skip unknown columns or keys instead of rejecting them")
	fs.IntVar(&f.limits.MaxFieldBytes, "max-field-bytes", importers.DefaultMaxFieldBytes, "largest value in bytes")
	fs.IntVar(&f.limits.MaxRowBytes, "max-row-bytes", importers.DefaultMaxRowBytes, "largest row (CSV record or JSON object) in bytes")
	fs.IntVar(&f.limits.MaxColumns, "max-columns", importers.DefaultMaxColumns, "most CSV columns")
}

func (f *readerFlags) options() (importers.Options, error) {
	o := importers.Options{Kind: importers.Kind(f.kind), Format: importers.Format(f.format), IgnoreUnknown: f.ignoreUnknown, Limits: f.limits}
	if f.platformKey != "" {
		o.Defaults = map[string]string{"platform_key": f.platformKey}
	}
	if f.kind != "" {
		if _, err := importers.Lookup(o.Kind); err != nil {
			return o, usageError{err}
		}
	}
	switch o.Format {
	case importers.FormatAuto, importers.FormatCSV, importers.FormatJSON:
	default:
		return o, usagef("--format must be csv or json, not %q", f.format)
	}
	return o, nil
}

func kindNames() []string {
	var names []string
	for _, s := range importers.Schemas() {
		names = append(names, s.Kind.String())
	}
	return names
}

// outputFlags name the report files.
type outputFlags struct {
	summary, results, failed string
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env, log *slog.Logger) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	flagUsage(fs, "bulksync import [flags] FILE")
	var (
		rf       readerFlags
		out      outputFlags
		af       apiFlags
		wcfg     worker.Config
		chunk    = fs.Int("chunk-size", ingest.DefaultChunkSize, "rows per job")
		newBatch = fs.Bool("new-batch", false, "start a fresh batch even if this file was imported before")
		detach   = fs.Bool("detach", false, "print the batch id and return once enqueued (needs REDIS_URL)")
		dryRun   = fs.Bool("dry-run", false, "validate and look each row up, write nothing, report what would be done")
	)
	rf.register(fs)
	fs.StringVar(&out.summary, "summary", "", "write the summary JSON to `FILE`")
	fs.StringVar(&out.results, "results", "", "write one result per row to `FILE` (CSV, or JSON lines when it ends in .jsonl)")
	fs.StringVar(&out.failed, "failed", "", "write the failed rows to `FILE` in the input's format, with error_line and error_code")
	fs.IntVar(&wcfg.Concurrency, "concurrency", 10, "chunks worked at once by the in-process workers (no REDIS_URL)")
	fs.DurationVar(&af.timeout, "request-timeout", 30*time.Second, "timeout of one API request (in-process workers)")
	fs.Float64Var(&af.rateLimit, "rate-limit", 0, "most API requests per second, 0 for no limit (in-process workers)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one FILE, got %d arguments", len(pos))
	}
	path := pos[0]
	ropts, err := rf.options()
	if err != nil {
		return err
	}
	if *chunk < 1 || *chunk > ingest.MaxChunkSize {
		return usagef("--chunk-size must be between 1 and %d", ingest.MaxChunkSize)
	}
	if *detach && getenv("REDIS_URL") == "" {
		return usagef("--detach needs REDIS_URL: the in-process Redis ends with the command")
	}
	if _, err := os.Stat(path); err != nil {
		return usageError{err}
	}

	rt := &runtime{}
	defer rt.close()
	if err := openRedis(ctx, rt, getenv, true); err != nil {
		return err
	}
	var w *worker.Worker
	if rt.embedRedis {
		if err := openAPI(rt, getenv, true, af, log); err != nil {
			return err
		}
		if err := openUiPath(rt, getenv, af); err != nil {
			return err
		}
		wcfg.Logger, wcfg.UiPath = log, rt.uipath
		if w, err = worker.New(rt.redisOpt, rt.store, rt.api, wcfg); err != nil {
			return usageError{err}
		}
		if err := w.Start(); err != nil {
			return err
		}
		defer w.Shutdown()
	}
	q := asynq.NewClient(rt.redisOpt)
	defer q.Close()

	open := func() (io.ReadCloser, error) { return os.Open(path) }
	res, err := ingest.Import(ctx, open, rt.store, q, ingest.Options{
		Reader: ropts, ChunkSize: *chunk, NewBatch: *newBatch, DryRun: *dryRun, Source: filepath.Base(path),
	})
	var fe *importers.FileError
	switch {
	case errors.As(err, &fe):
		return usagef("%s: %v", path, fe)
	case errors.Is(err, ingest.ErrFileChanged):
		return usagef("%s: %v", path, err)
	case err != nil:
		return err
	}
	meta := res.Meta
	where := "in-process Redis"
	if !rt.embedRedis {
		where = "Redis"
	}
	if rt.embedAPI {
		where += " and the in-process sandbox API"
	}
	if res.Existing {
		fmt.Fprintf(stderr, "batch %s: this file was imported before (state %s); nothing new enqueued (--new-batch to run it again)\n", meta.ID, meta.State)
	} else {
		fmt.Fprintf(stderr, "batch %s: %d rows of %s (%d invalid), %d chunks enqueued on %s\n", meta.ID, meta.Total, meta.Kind, meta.Failed, meta.Chunks, where)
	}
	if *detach {
		fmt.Fprintln(stdout, meta.ID)
		return nil
	}
	start := time.Now()
	meta, err = ingest.Wait(ctx, rt.store, meta.ID, 200*time.Millisecond, func(m jobs.Meta) {
		fmt.Fprintf(stderr, "batch %s: %d/%d rows done (%d ok, %d failed) %s\n", m.ID, m.Done, m.Total, m.Successes, m.Failed, time.Since(start).Round(time.Millisecond))
	})
	if err != nil && ctx.Err() == nil {
		return err
	}
	if ctx.Err() != nil {
		if rt.embedRedis {
			fmt.Fprintf(stderr, "batch %s: interrupted; rows not yet done are reported as unprocessed\n", meta.ID)
			w.Shutdown()
		} else {
			fmt.Fprintf(stderr, "batch %s: no longer waiting; the workers go on (bulksync report %s)\n", meta.ID, meta.ID)
		}
	}
	if meta.State == jobs.StateHalted {
		fmt.Fprintf(stderr, "batch %s halted: %s\n", meta.ID, meta.HaltReason)
	}
	// The reports are read from Redis even after an interrupt.
	rctx := context.WithoutCancel(ctx)
	var extra []report.Sink
	if meta.DryRun {
		extra = append(extra, newPlanSink(stderr))
	}
	sum, err := writeReports(rctx, rt.store, meta.ID, out, stdout, stderr, extra, func(failed report.FailedRows, w io.Writer) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		ropts.Kind = importers.Kind(meta.Kind)
		return report.WriteFailed(f, ropts, failed, w)
	})
	if err != nil {
		return err
	}
	if code := sum.ExitCode(); code != exitOK {
		return exitError(code)
	}
	return nil
}

// failedWriter writes the failed rows file.
type failedWriter func(report.FailedRows, io.Writer) error

// writeReports builds the batch's reports: the summary to stdout (and
// --summary), --results, --failed when writeFailed is not nil, and any
// extra sinks.
func writeReports(ctx context.Context, store *jobs.Store, id string, out outputFlags, stdout, stderr io.Writer, sinks []report.Sink, writeFailed failedWriter) (report.Summary, error) {
	var files []*os.File
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	create := func(name string) (*os.File, error) {
		f, err := os.Create(name)
		if err != nil {
			return nil, usageError{err}
		}
		files = append(files, f)
		return f, nil
	}
	if out.results != "" {
		f, err := create(out.results)
		if err != nil {
			return report.Summary{}, err
		}
		sinks = append(sinks, report.NewResults(out.results, f))
	}
	failed := report.FailedRows{}
	if out.failed != "" && writeFailed != nil {
		sinks = append(sinks, failed)
	}
	sum, err := report.Build(ctx, store, id, sinks...)
	if err != nil {
		return sum, err
	}
	if out.failed != "" && writeFailed != nil {
		f, err := create(out.failed)
		if err != nil {
			return sum, err
		}
		if err := writeFailed(failed, f); err != nil {
			return sum, fmt.Errorf("write %s: %w", out.failed, err)
		}
	}
	if out.summary != "" {
		f, err := create(out.summary)
		if err != nil {
			return sum, err
		}
		if err := report.WriteSummary(f, sum); err != nil {
			return sum, err
		}
	}
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return sum, err
		}
	}
	fmt.Fprintf(stderr, "batch %s: %d rows, %d succeeded, %d failed, %d unprocessed\n", sum.BatchID, sum.Total, sum.Successes, sum.Failed, sum.Unprocessed)
	return sum, report.WriteSummary(stdout, sum)
}
