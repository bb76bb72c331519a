package main

import (
	"cmp"
	"context"
	"flag"
	"io"
	"log/slog"
	"time"

	"github.com/bulksync/bulksync/worker"
)

func runWorker(ctx context.Context, args []string, stderr io.Writer, getenv env, log *slog.Logger) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	flagUsage(fs, "bulksync worker [flags]")
	var (
		cfg worker.Config
		af  apiFlags
	)
	fs.IntVar(&cfg.Concurrency, "concurrency", 10, "chunks worked at once")
	fs.DurationVar(&cfg.RetryFor, "retry-for", time.Hour, "how long a row's transient API faults are retried (an outage included) before it fails")
	fs.IntVar(&cfg.MaxAttempts, "max-attempts", 0, "most attempts of one row on transient API faults, 0 for no limit but --retry-for")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a shutdown waits for chunks in progress before handing them back")
	fs.DurationVar(&af.timeout, "request-timeout", 30*time.Second, "timeout of one API request")
	fs.Float64Var(&af.rateLimit, "rate-limit", 0, "most API requests per second to the API host, shared through Redis by every worker with this setting; lowered on 429 and climbing back (0: no limit)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://`HOST:PORT`/metrics (default: none)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected arguments %q", pos)
	}
	rt := &runtime{}
	defer rt.close()
	if err := openRedis(ctx, rt, getenv, false); err != nil {
		return err
	}
	m := newMetrics(rt)
	af.observe, cfg.Observer = m.APIRequest, m
	if *metricsAddr != "" {
		if err := serveMetrics(ctx, *metricsAddr, m, log); err != nil {
			return err
		}
	}
	if err := openAPI(rt, getenv, false, af, log); err != nil {
		return err
	}
	if err := openUiPath(rt, getenv, af); err != nil {
		return err
	}
	cfg.Logger, cfg.UiPath, cfg.Applied = log, rt.uipath, rt.applied
	w, err := worker.New(rt.redisOpt, rt.store, rt.api, cfg)
	if err != nil {
		return usageError{err}
	}
	log.Info("worker started", "concurrency", cfg.Concurrency, "api", redacted(rt.apiURL), "uipath", cmp.Or(redacted(rt.uipathURL), "not configured"))
	defer log.Info("worker stopped")
	return w.Run(ctx)
}
