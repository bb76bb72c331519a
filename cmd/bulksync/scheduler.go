package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/hrsync"
	"github.com/hibiken/asynq"
)

// runScheduler fires the scheduled syncs of a definition until SIGINT or
// SIGTERM. The batches it enqueues are worked by bulksync worker
// processes.
func runScheduler(ctx context.Context, args []string, getenv env, log *slog.Logger) error {
	fs := flag.NewFlagSet("scheduler", flag.ContinueOnError)
	flagUsage(fs, "bulksync scheduler --config FILE")
	config := fs.String("config", "", "the sync definition `FILE` (YAML)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *config == "" {
		return usagef("scheduler takes --config FILE and no arguments")
	}
	cfg, err := hrsync.LoadFile(*config)
	if err != nil {
		return usageError{err}
	}
	rt := &runtime{}
	defer rt.close()
	// Several schedulers share one Redis: it cannot be in-process.
	if err := openRedis(ctx, rt, getenv, false); err != nil {
		return err
	}
	q := asynq.NewClient(rt.redisOpt)
	defer q.Close()
	runner := &hrsync.Runner{
		Planner: hrsync.Planner{Snapshots: applied.NewRedis(rt.rdb, rt.store.Prefix()), Getenv: getenv, API: getenv("BULKSYNC_API_URL")},
		Store:   rt.store,
		Queue:   q,
	}
	s, err := hrsync.NewScheduler(hrsync.SchedulerConfig{
		Config: cfg, Runner: runner, RedisOpt: rt.redisOpt, Redis: rt.rdb, Prefix: rt.store.Prefix(), Logger: log,
	})
	if err != nil {
		return usageError{err}
	}
	return s.Run(ctx)
}
