package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/hrsync"
	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/mapping"
	"github.com/bulksync/bulksync/worker"
	"github.com/hibiken/asynq"
)

// exitRefused is the exit code of a sync run refused by its safety
// limits, an empty source, or a saved plan that no longer holds.
const exitRefused = 4

// sandboxStateFile is the name of the state file, beside the default one,
// holding the snapshots of syncs run against the in-process sandbox.
const sandboxStateFile = "sandbox-state.db"

const syncUsage = `Usage:
  bulksync sync plan NAME --config FILE [--save PLAN]   print (and save) what a run would do; sends nothing
  bulksync sync run NAME --config FILE [--force] [--reconcile]
  bulksync sync apply PLAN --config FILE [--force]      send exactly a saved plan
  bulksync sync history NAME --config FILE              past runs, their counts and batch ids
`

// syncFlags are the flags of the sync commands.
type syncFlags struct {
	config, state, save string
	force, reconcile    bool
	af                  apiFlags
	wcfg                worker.Config
}

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env, log *slog.Logger) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, syncUsage)
		if len(args) == 0 {
			return usagef("want plan, run, apply or history")
		}
		return flag.ErrHelp
	}
	sub := args[0]
	fs := flag.NewFlagSet("sync "+sub, flag.ContinueOnError)
	flagUsage(fs, "bulksync sync "+sub+" [flags] NAME")
	var f syncFlags
	fs.StringVar(&f.config, "config", "", "the sync definition `FILE` (YAML)")
	fs.StringVar(&f.state, "state", "", "the applied-state `FILE` holding the snapshots when REDIS_URL is unset (default $XDG_STATE_HOME/bulksync/state.db)")
	switch sub {
	case "plan":
		fs.StringVar(&f.save, "save", "", "write the plan to `FILE` for sync apply")
		fs.BoolVar(&f.reconcile, "reconcile", false, "plan to look every key up in the API")
	case "run", "apply":
		fs.BoolVar(&f.force, "force", false, "run once even though a safety limit refuses it")
		if sub == "run" {
			fs.BoolVar(&f.reconcile, "reconcile", false, "look every key up in the API instead of trusting the snapshot")
		}
		fs.IntVar(&f.wcfg.Concurrency, "concurrency", 10, "chunks worked at once by the in-process workers (no REDIS_URL)")
		fs.DurationVar(&f.af.timeout, "request-timeout", 30*time.Second, "timeout of one API request (in-process workers)")
		fs.Float64Var(&f.af.rateLimit, "rate-limit", 0, "most API requests per second, 0 for no limit (in-process workers)")
		fs.DurationVar(&f.wcfg.RetryFor, "retry-for", time.Hour, "how long a row's transient API faults are retried (in-process workers)")
	case "history":
	default:
		fmt.Fprint(stderr, syncUsage)
		return usagef("unknown sync command %q (plan, run, apply or history)", sub)
	}
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("sync %s wants one %s", sub, map[bool]string{true: "PLAN file", false: "sync NAME"}[sub == "apply"])
	}
	if f.config == "" {
		return usagef("sync %s needs --config FILE", sub)
	}
	cfg, err := hrsync.LoadFile(f.config)
	if err != nil {
		return usageError{err}
	}
	var plan *hrsync.Plan
	name := pos[0]
	if sub == "apply" {
		if plan, err = hrsync.ReadPlan(pos[0]); err != nil {
			if errors.Is(err, hrsync.ErrPlanAltered) {
				// A plan edited after it was saved no longer holds, as
				// one whose source or snapshot changed: refused.
				fmt.Fprintf(stderr, "bulksync sync apply: refused, nothing sent: %v\n", err)
				return exitError(exitRefused)
			}
			return usageError{err}
		}
		defer plan.Close()
		name = plan.Sync
	}
	s, err := cfg.Find(name)
	if err != nil {
		return usageError{err}
	}

	// A plan holds an index of the snapshot's keys (16 bytes a key) and
	// streams the rest: hold the heap near what is live, as import does
	// against REDIS_URL (in-process Redis and workers hold more; GOMEMLIMIT,
	// when set, has the last word).
	if getenv("GOMEMLIMIT") == "" && (sub == "plan" || getenv("REDIS_URL") != "") {
		debug.SetMemoryLimit(ingest.MemoryLimit)
	}
	rt := &runtime{}
	defer rt.close()
	runner := &hrsync.Runner{Planner: hrsync.Planner{Getenv: getenv, API: getenv("BULKSYNC_API_URL")}, Progress: stderr}
	if err := openSyncRuntime(ctx, rt, runner, getenv, f, sub == "run" || sub == "apply", log); err != nil {
		return err
	}
	switch sub {
	case "plan":
		p, err := runner.Plan(ctx, s, f.reconcile)
		if err != nil {
			return syncErr(err)
		}
		defer p.Close()
		printPlan(stdout, p)
		if f.save != "" {
			if err := p.Save(f.save); err != nil {
				return usageError{err}
			}
			fmt.Fprintf(stderr, "plan saved to %s (content hash %s); bulksync sync apply %s --config %s sends it\n", f.save, p.ContentHash, f.save, f.config)
		}
		return nil
	case "history":
		runs, err := runner.History(ctx, s)
		if err != nil {
			return err
		}
		printHistory(stdout, s.Name, runs)
		return nil
	}
	var res hrsync.Result
	if sub == "apply" {
		if err = runner.Check(ctx, s, plan); err == nil {
			printPlan(stderr, plan)
			res, err = runner.Apply(ctx, s, plan, f.force)
		}
	} else {
		res, err = runner.Run(ctx, s, hrsync.RunOptions{Force: f.force, Reconcile: f.reconcile})
	}
	if res.ID != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	}
	switch {
	case hrsync.IsRefused(err):
		fmt.Fprintf(stderr, "bulksync sync %s: %v\n", sub, err)
		return exitError(exitRefused)
	case err != nil:
		return syncErr(err)
	case res.Failed > 0:
		return exitError(exitFailed)
	}
	return nil
}

// syncErr classifies a sync's error: a source whose columns do not fit
// the mapping, a source with nothing to read or a file source that does
// not exist is a usage error (exit 2, as import's missing file).
func syncErr(err error) error {
	var ce *mapping.ColumnError
	var fe *importers.FileError
	var pe *csv.ParseError
	var se *json.SyntaxError
	if errors.As(err, &ce) || errors.As(err, &fe) || errors.As(err, &pe) || errors.As(err, &se) ||
		errors.Is(err, hrsync.ErrNoSource) || errors.Is(err, fs.ErrNotExist) {
		return usageError{err}
	}
	return err
}

// openSyncRuntime opens what the sync commands need: the snapshots'
// store (Redis at REDIS_URL, else the state file) and, for the commands
// that send (run, apply), the queue, with in-process workers and API when
// REDIS_URL is unset, as import does.
func openSyncRuntime(ctx context.Context, rt *runtime, r *hrsync.Runner, getenv env, f syncFlags, sends bool, log *slog.Logger) error {
	if err := openRedis(ctx, rt, getenv, true); err != nil {
		return err
	}
	if rt.embedRedis {
		// The snapshots outlive the in-process Redis in the state file,
		// which the workers share when the API is a real one.
		path := f.state
		if path == "" {
			var err error
			if path, err = applied.DefaultPath(getenv); err != nil {
				return err
			}
			if getenv("BULKSYNC_API_URL") == "" {
				// The in-process sandbox's snapshots have a file of their
				// own: a demo run on the embedded defaults must never pass
				// for what a real API holds (its keys would be planned
				// unchanged there, and never sent).
				path = filepath.Join(filepath.Dir(path), sandboxStateFile)
			}
		}
		file, err := applied.OpenFile(path)
		if err != nil {
			return err
		}
		rt.closers = append(rt.closers, func() { _ = file.Close() })
		r.Snapshots = file
	} else {
		r.Snapshots = applied.NewRedis(rt.rdb, rt.store.Prefix())
	}
	if !sends {
		return nil
	}
	r.Store = rt.store
	q := asynq.NewClient(rt.redisOpt)
	rt.closers = append(rt.closers, func() { _ = q.Close() })
	r.Queue = q
	if !rt.embedRedis {
		return nil
	}
	if err := openAPI(rt, getenv, true, f.af, log); err != nil {
		return err
	}
	if err := openUiPath(rt, getenv, f.af); err != nil {
		return err
	}
	if !rt.embedAPI {
		rt.applied = r.Snapshots
	}
	wcfg := f.wcfg
	wcfg.Logger, wcfg.UiPath, wcfg.Applied = log, rt.uipath, rt.applied
	w, err := worker.New(rt.redisOpt, rt.store, rt.api, wcfg)
	if err != nil {
		return usageError{err}
	}
	if err := w.Start(); err != nil {
		return err
	}
	rt.closers = append(rt.closers, w.Shutdown)
	return nil
}

// printPlan writes a plan's counts and its first changes.
func printPlan(w io.Writer, p *hrsync.Plan) {
	c := p.Counts
	fmt.Fprintf(w, "sync %s (%s): %s: %d rows, %d filtered out, %d invalid\n", p.Sync, p.Kind, p.Source, p.Rows, p.Filtered, c.Invalid)
	first := ""
	if p.First {
		first = " (first run: no snapshot yet, no deactivations, no change limit)"
	}
	line := fmt.Sprintf("plan: %d create, %d update, %d deactivate, %d unchanged, %d missing", c.Create, c.Update, c.Deactivate, c.Unchanged, c.Missing)
	if c.Reconcile > 0 {
		line += fmt.Sprintf(", %d reconcile", c.Reconcile)
	}
	fmt.Fprintf(w, "%s; snapshot %d keys%s\n", line, p.SnapshotKeys, first)
	for _, ch := range p.Samples {
		switch ch.Action {
		case hrsync.ActionUpdate:
			fmt.Fprintf(w, "  %-10s line %d %s: %s\n", ch.Action, ch.Line, ch.Key, strings.Join(ch.Fields, ", "))
		case hrsync.ActionDeactivate, hrsync.ActionMissing:
			fmt.Fprintf(w, "  %-10s %s (missing %d runs)\n", ch.Action, ch.Key, ch.Missing)
		default:
			fmt.Fprintf(w, "  %-10s line %d %s\n", ch.Action, ch.Line, ch.Key)
		}
	}
	for _, pr := range p.Problems {
		key := ""
		if pr.Key != "" {
			key = " " + pr.Key
		}
		fmt.Fprintf(w, "  %-10s line %d%s: %s: %s\n", "invalid", pr.Line, key, pr.Code, pr.Detail)
	}
	if p.Refused != "" {
		how := "--force overrides it once"
		if !p.Forcible {
			how = "--force does not override it"
		}
		fmt.Fprintf(w, "refused: %s (%s)\n", p.Refused, how)
	}
}

// printHistory writes one line a run, oldest first.
func printHistory(w io.Writer, name string, runs []hrsync.Result) {
	if len(runs) == 0 {
		fmt.Fprintf(w, "sync %s has not run yet\n", name)
		return
	}
	for _, r := range runs {
		c := r.Counts
		status := "ok"
		switch {
		case r.Refused != "":
			status = "refused: " + r.Refused
		case r.Error != "":
			status = "error: " + r.Error
		case r.Failed > 0:
			status = fmt.Sprintf("%d failed", r.Failed)
		}
		batch := r.BatchID
		if batch == "" {
			batch = "-"
		}
		forced := ""
		if r.Forced {
			forced = " (forced)"
		}
		fmt.Fprintf(w, "%s  batch %s  %d create, %d update, %d deactivate, %d unchanged, %d missing, %d invalid; %d sent ok%s  %s\n",
			r.Started.Format(time.RFC3339), batch, c.Create, c.Update, c.Deactivate, c.Unchanged, c.Missing, c.Invalid, r.Succeeded, forced, status)
	}
}
