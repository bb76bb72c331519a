package main

import (
	"context"
	"encoding/json"
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
	"github.com/bulksync/bulksync/mapping"
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

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env, log *slog.Logger) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	flagUsage(fs, "bulksync import [flags] FILE [FILE...]")
	var (
		rf   readerFlags
		af   apiFlags
		wcfg worker.Config
		run  = importRun{stdout: stdout, stderr: stderr}
	)
	rf.register(fs)
	fs.IntVar(&run.opts.ChunkSize, "chunk-size", 0, "rows per job (default 100; for a file under 1,000 rows, a tenth of its rows but at least 10)")
	fs.BoolVar(&run.opts.NewBatch, "new-batch", false, "start a fresh batch even if this file was imported before")
	fs.BoolVar(&run.detach, "detach", false, "print the batch id and return once enqueued (needs REDIS_URL)")
	fs.BoolVar(&run.opts.DryRun, "dry-run", false, "validate and look each row up, write nothing, report what would be done")
	fs.StringVar(&run.out.Summary, "summary", "", "write the summary JSON to `FILE` (with several input files: an array of summaries)")
	fs.StringVar(&run.out.Results, "results", "", "write one result per row to `FILE` (CSV, or JSON lines when it ends in .jsonl; one input file only)")
	fs.StringVar(&run.out.Failed, "failed", "", "write the failed rows to `FILE` in the input's format, with error_line and error_code (one input file only)")
	fs.IntVar(&wcfg.Concurrency, "concurrency", 10, "chunks worked at once by the in-process workers (no REDIS_URL)")
	fs.DurationVar(&af.timeout, "request-timeout", 30*time.Second, "timeout of one API request (in-process workers)")
	fs.Float64Var(&af.rateLimit, "rate-limit", 0, "most API requests per second, 0 for no limit (in-process workers)")
	fs.DurationVar(&wcfg.RetryFor, "retry-for", time.Hour, "how long a row's transient API faults are retried, an outage included (in-process workers)")
	var maps mapFlag
	fs.Var(&maps, "map", "map source columns to the kind's fields: a YAML `FILE` (mapping, transforms, filter, defaults) or FIELD=COLUMN[|transform...] pairs, comma-separated; repeatable (see docs/syncs.md)")
	stateFile := fs.String("state", "", "the applied-state `FILE` of in-process runs against BULKSYNC_API_URL (default $XDG_STATE_HOME/bulksync/state.db)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("want at least one FILE")
	}
	if len(paths) > 1 && (run.out.Results != "" || run.out.Failed != "") {
		return usagef("--results and --failed take one input FILE; got %d (bulksync report BATCH_ID gives each batch's results)", len(paths))
	}
	if run.opts.Reader, err = rf.options(); err != nil {
		return err
	}
	if run.mapper, err = importMapping(maps, &run.opts.Reader); err != nil {
		return err
	}
	if run.mapper != nil && run.out.Failed != "" {
		return usagef("--failed cannot be used with --map (the failed rows are mapped rows; see --results)")
	}
	if run.opts.ChunkSize < 0 || run.opts.ChunkSize > ingest.MaxChunkSize {
		return usagef("--chunk-size must be between 1 and %d", ingest.MaxChunkSize)
	}
	if run.detach && getenv("REDIS_URL") == "" {
		return usagef("--detach needs REDIS_URL: the in-process Redis ends with the command")
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return usageError{err}
		}
	}

	rt := &runtime{}
	defer rt.close()
	if err := openRedis(ctx, rt, getenv, true); err != nil {
		return err
	}
	run.rt = rt
	if rt.embedRedis {
		if err := openAPI(rt, getenv, true, af, log); err != nil {
			return err
		}
		if err := openUiPath(rt, getenv, af); err != nil {
			return err
		}
		if err := openApplied(rt, getenv, *stateFile); err != nil {
			return err
		}
		wcfg.Logger, wcfg.UiPath, wcfg.Applied = log, rt.uipath, rt.applied
		if run.w, err = worker.New(rt.redisOpt, rt.store, rt.api, wcfg); err != nil {
			return usageError{err}
		}
		if err := run.w.Start(); err != nil {
			return err
		}
		defer run.w.Shutdown()
	}
	run.q = asynq.NewClient(rt.redisOpt)
	defer run.q.Close()

	// Files are imported one after the other, each waited for before the
	// next: assignments can follow the licenses they name.
	code := exitOK
	var sums []report.Summary
	for _, path := range paths {
		sum, err := run.file(ctx, path)
		if err != nil {
			return err
		}
		if sum != nil {
			sums = append(sums, *sum)
			code = max(code, sum.ExitCode())
		}
		if ctx.Err() != nil {
			break
		}
	}
	if run.out.Summary != "" {
		var v any = sums
		if len(paths) == 1 && len(sums) == 1 {
			v = sums[0]
		}
		if err := writeJSONFile(run.out.Summary, v); err != nil {
			return err
		}
	}
	if code != exitOK {
		return exitError(code)
	}
	return nil
}

// importRun is one import command's set-up, shared by its files.
type importRun struct {
	rt             *runtime
	q              *asynq.Client
	w              *worker.Worker // in-process workers, when embedded
	opts           ingest.Options
	out            report.Outputs // the report files; Summary is written for every file at the end
	detach         bool
	mapper         *mapping.Mapper // --map: rows are mapped before the importers read them
	stdout, stderr io.Writer
}

// file imports one file and, unless detached, waits for it and reports.
// It returns nil for a detached batch.
func (r *importRun) file(ctx context.Context, path string) (*report.Summary, error) {
	opts := r.opts
	opts.Source = filepath.Base(path)
	opts.Reader.NameHint = path
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	if r.mapper != nil {
		open = mappedOpener(path, r.mapper)
	}
	res, err := ingest.Import(ctx, open, r.rt.store, r.q, opts)
	var fe *importers.FileError
	switch {
	case errors.As(err, &fe):
		return nil, usagef("%s: %v", path, fe)
	case errors.Is(err, ingest.ErrFileChanged):
		return nil, usagef("%s: %v", path, err)
	case err != nil:
		return nil, err
	}
	meta := res.Meta
	where := "in-process Redis"
	if !r.rt.embedRedis {
		where = "Redis"
	}
	if r.rt.embedAPI {
		where += " and the in-process sandbox API"
	}
	if res.Existing {
		fmt.Fprintf(r.stderr, "batch %s: %s was imported before (state %s); nothing new enqueued (--new-batch to run it again)\n", meta.ID, path, meta.State)
	} else {
		fmt.Fprintf(r.stderr, "batch %s: %s: %d rows of %s (%d invalid), %d chunks enqueued on %s\n", meta.ID, path, meta.Total, meta.Kind, meta.Failed, meta.Chunks, where)
	}
	if r.detach {
		fmt.Fprintln(r.stdout, meta.ID)
		return nil, nil
	}
	meta, err = ingest.Wait(ctx, r.rt.store, meta.ID, 200*time.Millisecond, progressFunc(r.stderr, meta, time.Now()))
	if err != nil && ctx.Err() == nil {
		return nil, err
	}
	if ctx.Err() != nil {
		if r.w != nil {
			fmt.Fprintf(r.stderr, "batch %s: interrupted; rows not yet done are reported as unprocessed\n", meta.ID)
			r.w.Shutdown()
		} else {
			fmt.Fprintf(r.stderr, "batch %s: no longer waiting; the workers go on (bulksync report %s)\n", meta.ID, meta.ID)
		}
	}
	if meta.State == jobs.StateHalted {
		fmt.Fprintf(r.stderr, "batch %s halted: %s\n", meta.ID, meta.HaltReason)
	}
	// The reports are read from Redis even after an interrupt.
	rctx := context.WithoutCancel(ctx)
	out := r.out
	out.Summary = "" // written by runImport, for every file
	if meta.DryRun {
		out.Sinks = []report.Sink{newPlanSink(r.stderr)}
	}
	out.WriteFailed = func(failed report.FailedRows, w io.Writer) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		ropts := opts.Reader
		ropts.Kind = importers.Kind(meta.Kind)
		return report.WriteFailed(f, ropts, failed, w)
	}
	sum, err := writeReports(rctx, r.rt.store, meta.ID, out, r.stdout, r.stderr)
	if err != nil {
		return nil, err
	}
	return &sum, nil
}

// writeReports writes batch id's reports (report.Write); an output file
// that cannot be created is a usage error.
func writeReports(ctx context.Context, store *jobs.Store, id string, out report.Outputs, stdout, stderr io.Writer) (report.Summary, error) {
	sum, err := report.Write(ctx, store, id, out, stdout, stderr)
	if ce := (*report.CreateError)(nil); errors.As(err, &ce) {
		return sum, usageError{err}
	}
	return sum, err
}

// writeJSONFile writes v as indented JSON to the file name.
func writeJSONFile(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
		return usageError{err}
	}
	return nil
}
