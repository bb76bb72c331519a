package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/jobs"
	"github.com/hibiken/asynq"
	"golang.org/x/sync/errgroup"
)

// enqueueGoroutines is how many goroutines the raw asynq Enqueue baseline
// enqueues from.
const enqueueGoroutines = 16

// chunkPlan is the shape of the chunk tasks an import made: the payload
// size of each, captured from the enqueue commands the import sent.
type chunkPlan struct {
	sizes  []int  // payload bytes of each chunk task, in the order enqueued
	filler []byte // the largest payload, which the baseline's payloads are sliced from
}

// meanSize returns the mean payload size in bytes.
func (p chunkPlan) meanSize() float64 {
	if len(p.sizes) == 0 {
		return 0
	}
	total := 0
	for _, s := range p.sizes {
		total += s
	}
	return float64(total) / float64(len(p.sizes))
}

// rawEnqueue enqueues one task per chunk of plan, with the chunk tasks'
// type, options (TaskID, queue, MaxRetry, Timeout) and payload sizes, from
// enqueueGoroutines goroutines sharing one asynq client. It returns the
// time taken.
func rawEnqueue(ctx context.Context, conn asynq.RedisConnOpt, queue string, plan chunkPlan) (time.Duration, error) {
	q := asynq.NewClient(conn)
	defer q.Close()
	batchID := jobs.BatchID(make([]byte, 32), "raw", queue, "")
	typ := jobs.TaskType(importers.ProgramLicenses.String())
	var next atomic.Int64
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for range enqueueGoroutines {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(plan.sizes) {
					return nil
				}
				t := asynq.NewTask(typ, plan.filler[:plan.sizes[i]],
					asynq.TaskID(jobs.TaskID(batchID, i)),
					asynq.Queue(queue),
					asynq.MaxRetry(jobs.ChunkMaxRetry),
					asynq.Timeout(jobs.ChunkTimeout),
				)
				if _, err := q.EnqueueContext(gctx, t); err != nil {
					return fmt.Errorf("enqueue task %d: %w", i, err)
				}
			}
		})
	}
	err := g.Wait()
	return time.Since(start), err
}

// importSection runs one pass of measurement 1: the raw encoding/csv read
// and ingest.Import in child processes, then the raw asynq Enqueue.
func (b *bench) importSection(ctx context.Context, run int) error {
	file := b.files[b.opts.rows]
	profile := func(name string) string {
		if b.opts.profileDir == "" || run != 0 {
			return ""
		}
		return b.opts.profileDir + "/" + name
	}

	res, use, err := b.launcher.run(childJob{Kind: jobCSVRead, File: file, Profile: profile("csv-read")})
	if err != nil {
		return err
	}
	b.add("csv.rate", float64(res.Rows)/res.Seconds)
	b.add("csv.rss", float64(use.maxRSS))
	b.add("csv.cpu", use.cpu.Seconds()/float64(res.Rows))
	b.logf("run %d: encoding/csv read: %d rows in %.2fs, peak RSS %.0f MB", run+1, res.Rows, res.Seconds, float64(use.maxRSS)/1e6)

	if err := b.flush(ctx); err != nil {
		return err
	}
	before, err := commandCallsByName(ctx, b.admin)
	if err != nil {
		return err
	}
	rcpu, err := redisCPU(ctx, b.admin)
	if err != nil {
		return err
	}
	id := randomID()
	res, use, err = b.launcher.run(childJob{
		Kind: jobImport, File: file, RedisAddr: b.opts.redisAddr, DB: b.opts.db,
		Queue: "bench-import-" + id, Prefix: "bench-" + id + ":", ChunkSize: b.opts.chunkSize,
		Profile: profile("import"),
	})
	if err != nil {
		return err
	}
	afterStats, err := commandCallsByName(ctx, b.admin)
	if err != nil {
		return err
	}
	rcpu1, err := redisCPU(ctx, b.admin)
	if err != nil {
		return err
	}
	if len(res.PayloadSizes) != res.Chunks {
		return fmt.Errorf("the import made %d chunks but %d enqueue commands were seen", res.Chunks, len(res.PayloadSizes))
	}
	if len(b.plan.sizes) == 0 {
		b.plan = chunkPlan{sizes: res.PayloadSizes, filler: res.LargestPayload}
	}
	delta := afterStats.sub(before)
	delta["info"] -= 2 // the INFO commandstats and INFO cpu taken before
	if delta["info"] == 0 {
		delete(delta, "info")
	}
	serverCmds := delta.total()
	if b.importCmds == nil || serverCmds < b.importCmds.total() {
		b.importCmds = delta
	}
	b.add("import.rate", float64(res.Rows)/res.Seconds)
	b.add("import.rss", float64(use.maxRSS))
	b.add("import.cpu", use.cpu.Seconds()/float64(res.Rows))
	b.add("import.redis_cpu", (rcpu1-rcpu)/float64(res.Rows))
	b.add("import.server_cmds", float64(serverCmds)/float64(res.Rows))
	b.add("import.client_cmds", float64(res.ClientCommands)/float64(res.Rows))
	b.add("import.vs_csv", (float64(res.Rows)/res.Seconds)/b.last("csv.rate"))
	b.logf("run %d: ingest.Import: %d rows, %d chunks in %.2fs, peak RSS %.0f MB, %d Redis commands (server), %d (client)",
		run+1, res.Rows, res.Chunks, res.Seconds, float64(use.maxRSS)/1e6, serverCmds, res.ClientCommands)
	if err := b.flush(ctx); err != nil {
		return err
	}

	var n atomic.Int64
	before0, err := commandCalls(ctx, b.admin)
	if err != nil {
		return err
	}
	if rcpu, err = redisCPU(ctx, b.admin); err != nil {
		return err
	}
	cpu := processCPU()
	took, err := rawEnqueue(ctx, countedRedis{addr: b.opts.redisAddr, db: b.opts.db, n: &n}, "bench-enqueue-"+randomID(), b.plan)
	if err != nil {
		return err
	}
	cpu = processCPU() - cpu
	after, err := commandCalls(ctx, b.admin)
	if err != nil {
		return err
	}
	if rcpu1, err = redisCPU(ctx, b.admin); err != nil {
		return err
	}
	b.add("enqueue.cpu", cpu.Seconds()/float64(res.Rows))
	b.add("enqueue.redis_cpu", (rcpu1-rcpu)/float64(res.Rows))
	tasks := float64(len(b.plan.sizes))
	b.add("enqueue.task_rate", tasks/took.Seconds())
	b.add("enqueue.rate", float64(res.Rows)/took.Seconds())
	b.add("enqueue.server_cmds", float64(after-before0-2)/float64(res.Rows)) // without the two INFOs taken before
	b.add("enqueue.client_cmds", float64(n.Load())/float64(res.Rows))
	b.add("import.vs_enqueue", (float64(res.Rows)/res.Seconds)/(float64(res.Rows)/took.Seconds()))
	b.logf("run %d: raw asynq Enqueue: %d tasks in %.2fs (%d goroutines)", run+1, len(b.plan.sizes), took.Seconds(), enqueueGoroutines)
	return b.flush(ctx)
}
