package worker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// recorderDB is the Redis database of these tests, the one of the
// package's other tests.
const recorderDB = 11

// recordCalls counts the store's script calls (EVALSHA, or EVAL on a
// script cache miss), keeps the most outcomes one carried and slows each
// one down by delay, so that outcomes queue up behind it.
type recordCalls struct {
	n       atomic.Int64
	maxOuts atomic.Int64
	delay   time.Duration
}

func (h *recordCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *recordCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			h.n.Add(1)
			// EVALSHA sha 2 meta outcomes retention, then 3 per outcome.
			outs := int64(len(cmd.Args())-6) / 3
			for m := h.maxOuts.Load(); outs > m && !h.maxOuts.CompareAndSwap(m, outs); m = h.maxOuts.Load() {
			}
			time.Sleep(h.delay)
		}
		return next(ctx, cmd)
	}
}

func (h *recordCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// newBatches creates n batches of total rows each and returns their ids
// and a hook, added after the batches were created, on the store's client.
func newBatches(t *testing.T, env *testenv.Env, n, total int, delay time.Duration) ([]string, *recordCalls) {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("rec-%d", i)
		created, err := env.Store.Create(context.Background(), jobs.Meta{ID: ids[i], Kind: "program-licenses", Created: time.Now(), Total: total})
		require.NoError(t, err)
		require.True(t, created)
	}
	h := &recordCalls{delay: delay}
	env.Redis.AddHook(h)
	return ids, h
}

// outcomes returns the outcomes of rows from, from+1, ... of a chunk.
func outcomes(from, n int) []jobs.Outcome {
	outs := make([]jobs.Outcome, n)
	for i := range outs {
		r := from + i
		outs[i] = jobs.Outcome{Row: r, Line: r + 1, ExternalID: fmt.Sprint("k-", r), Action: jobs.ActionCreated, Status: jobs.StatusOK, Attempts: 1}
	}
	return outs
}

// requireStored checks that every row of each batch has its outcome.
func requireStored(t *testing.T, env *testenv.Env, ids []string, total int) {
	t.Helper()
	for _, id := range ids {
		m, err := env.Store.Get(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, total, m.Done, "batch %s", id)
		require.Equal(t, total, m.Successes, "batch %s", id)
	}
}

func TestRecorderGroupsConcurrentChunks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		batches        int
		chunks, rows   int // chunks per batch, rows per chunk
		perHandover    int // outcomes per hand-over
		handoverDelay  time.Duration
		recordDelay    time.Duration
		maxCallsFactor float64 // calls must stay under this share of hand-overs
	}{
		{"OneBatchRowByRow", 1, 10, 100, 1, 0, time.Millisecond, 0.5},
		{"ThreeBatchesRowByRow", 3, 4, 50, 1, 0, time.Millisecond, 0.5},
		{"SeveralOutcomesPerHandover", 2, 5, 100, 10, 0, time.Millisecond, 0.9},
		{"MoreThanMaxGroupQueued", 1, 30, 100, 5, 0, 20 * time.Millisecond, 0.5},
		{"SlowChunksFastRedis", 1, 10, 30, 1, 100 * time.Microsecond, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t, recorderDB, sandbox.Config{})
			total := tc.chunks * tc.rows
			ids, calls := newBatches(t, env, tc.batches, total, tc.recordDelay)
			r := newRecorder(env.Store)
			r.start()
			defer r.stop()

			var wg sync.WaitGroup
			errs := make(chan error, tc.batches*tc.chunks)
			for _, id := range ids {
				for c := range tc.chunks {
					wg.Go(func() {
						recs := &chunkRecords{}
						for i := 0; i < tc.rows; i += tc.perHandover {
							r.add(recs, id, outcomes(c*tc.rows+i+1, tc.perHandover))
							time.Sleep(tc.handoverDelay)
						}
						errs <- recs.wait()
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			requireStored(t, env, ids, total)
			handovers := tc.batches * total / tc.perHandover
			n := calls.n.Load()
			require.GreaterOrEqual(t, n, int64(tc.batches*((total+maxGroup-1)/maxGroup)), "one call per batch and maxGroup outcomes at least")
			require.LessOrEqual(t, calls.maxOuts.Load(), int64(maxGroup))
			require.LessOrEqual(t, float64(n), tc.maxCallsFactor*float64(handovers), "%d store calls for %d hand-overs", n, handovers)
			t.Logf("%d store calls for %d hand-overs of %d outcomes", n, handovers, tc.batches*total)
		})
	}
}

func TestRecorderWaitReturnsStoreError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		running bool
	}{
		{"Running", true},
		{"NotRunning", false}, // stored by the caller
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t, recorderDB, sandbox.Config{})
			rdb := redis.NewClient(&redis.Options{Addr: env.RedisOpt.Addr, DB: recorderDB})
			require.NoError(t, rdb.Close())
			r := newRecorder(jobs.NewStore(rdb, jobs.StoreConfig{Prefix: env.Prefix}))
			if tc.running {
				r.start()
				defer r.stop()
			}
			recs, ok := &chunkRecords{}, &chunkRecords{}
			r.add(recs, "b", outcomes(1, 3))
			r.add(recs, "b", outcomes(4, 1))
			r.add(ok, "b", nil)
			err := recs.wait()
			require.ErrorIs(t, err, redis.ErrClosed)
			require.ErrorIs(t, recs.failed(), redis.ErrClosed, "the next hand-over sees the error at once")
			require.NoError(t, ok.wait(), "nothing handed over, nothing failed")
		})
	}
}

func TestRecorderStopFlushes(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, recorderDB, sandbox.Config{})
	const chunks, rows = 5, 40
	ids, calls := newBatches(t, env, 1, chunks*rows+1, 2*time.Millisecond)
	r := newRecorder(env.Store)
	r.start()
	all := make([]*chunkRecords, chunks)
	var wg sync.WaitGroup
	for c := range chunks {
		all[c] = &chunkRecords{}
		wg.Go(func() {
			for i := range rows {
				r.add(all[c], ids[0], outcomes(c*rows+i+1, 1))
			}
		})
	}
	wg.Wait()
	r.stop() // before any chunk waits
	requireStored(t, env, ids, chunks*rows)
	for _, c := range all {
		require.NoError(t, c.wait())
	}
	require.Less(t, calls.n.Load(), int64(chunks*rows))

	// A late hand-over is stored by its caller.
	late := &chunkRecords{}
	r.add(late, ids[0], outcomes(chunks*rows+1, 1))
	requireStored(t, env, ids, chunks*rows+1)
	require.NoError(t, late.wait())
	r.stop() // a second stop does nothing
	require.Empty(t, r.queue)
}
