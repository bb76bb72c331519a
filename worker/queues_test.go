package worker_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/bulksync/bulksync/worker"
	"github.com/stretchr/testify/require"
)

func TestInteractiveQueueFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{Latency: 2 * time.Millisecond})
	interactive := b.env.Queue + ":interactive"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := b.env.Redis.Scan(ctx, 0, "asynq:{"+interactive+"}*", 1000).Iterator()
		for iter.Next(ctx) {
			b.env.Redis.Del(ctx, iter.Val())
		}
		b.env.Redis.SRem(ctx, "asynq:queues", interactive)
	})
	enqueue := func(content, queue string) jobs.Meta {
		open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }
		res, err := ingest.Import(context.Background(), open, b.env.Store, b.q, ingest.Options{ChunkSize: 10, Queue: queue})
		require.NoError(t, err)
		return res.Meta
	}
	// A large import is queued first, then a small request.
	bulkFile, _ := licenseFile(400, 0, "bulk")
	bulk := enqueue(bulkFile, b.env.Queue)
	smallFile, _ := licenseFile(30, 0, "small")
	small := enqueue(smallFile, interactive)

	// One chunk at a time, so that the order is the queues' alone.
	w, err := worker.New(b.env.RedisOpt, b.env.Store, b.env.API, worker.Config{
		Concurrency: 1,
		Queues:      map[string]int{interactive: worker.InteractiveWeight, b.env.Queue: 1},
	})
	require.NoError(t, err)
	require.NoError(t, w.Start())
	t.Cleanup(w.Shutdown)

	require.Equal(t, jobs.StateDone, b.wait(t, small.ID).State)
	m, err := b.env.Store.Get(context.Background(), bulk.ID)
	require.NoError(t, err)
	// The small batch's 3 chunks went out about 9 times in 10; 12 chunks
	// of the import's 40 is far beyond what chance allows.
	require.LessOrEqual(t, m.Done, 120, "the interactive chunks waited for the import")
	require.Equal(t, jobs.StateDone, b.wait(t, bulk.ID).State)
}

func TestQueuesConfig(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	for _, tc := range []struct {
		name   string
		queues map[string]int
		want   string
	}{
		{"NoName", map[string]int{"": 1}, `Queues[""] = 1`},
		{"ZeroWeight", map[string]int{"q": 0}, `Queues["q"] = 0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := worker.New(b.env.RedisOpt, b.env.Store, b.env.API, worker.Config{Queues: tc.queues})
			require.ErrorContains(t, err, tc.want)
		})
	}
	require.Equal(t, map[string]int{jobs.InteractiveQueue: 9, jobs.DefaultQueue: 1}, worker.DefaultQueues())
}
