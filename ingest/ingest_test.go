package ingest_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

const redisDB = 14

type bundle struct {
	env *testenv.Env
	q   *asynq.Client
	ins *asynq.Inspector
}

func setup(t *testing.T) *bundle {
	t.Helper()
	env := testenv.New(t, redisDB, sandbox.Config{})
	q := asynq.NewClient(env.RedisOpt)
	ins := asynq.NewInspector(env.RedisOpt)
	t.Cleanup(func() { _ = q.Close(); _ = ins.Close() })
	return &bundle{env: env, q: q, ins: ins}
}

func opener(content string) ingest.Opener {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }
}

func (b *bundle) pending(t *testing.T) int {
	t.Helper()
	info, err := b.ins.GetQueueInfo(b.env.Queue)
	if err != nil {
		return 0 // the queue does not exist yet
	}
	return info.Pending
}

const file = "platform_key,external_id,count\nacme,a,1\nacme,b,x\nacme,c,3\nacme,d,4\nacme,e,5\n"

func TestChunkSizeFromFile(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rows, chunkSize, want int // want: chunks
	}{
		{rows: 5, want: 1},     // one chunk of at least 10 rows
		{rows: 95, want: 10},   // chunks of 10
		{rows: 300, want: 10},  // chunks of 30
		{rows: 999, want: 10},  // chunks of 100
		{rows: 2500, want: 25}, // chunks of DefaultChunkSize
		{rows: 300, chunkSize: 7, want: 43},
	} {
		t.Run(fmt.Sprintf("%d rows, chunk size %d", tt.rows, tt.chunkSize), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var in strings.Builder
			in.WriteString("platform_key,external_id\n")
			for i := range tt.rows {
				fmt.Fprintf(&in, "acme,u%d\n", i)
			}
			res, err := ingest.Import(context.Background(), opener(in.String()), b.env.Store, b.q, ingest.Options{ChunkSize: tt.chunkSize, Queue: b.env.Queue})
			require.NoError(t, err)
			require.Equal(t, tt.want, res.Meta.Chunks)
			require.Equal(t, tt.want, b.pending(t))
		})
	}
}

func TestImportEnqueuesChunksOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	opts := ingest.Options{ChunkSize: 2, Queue: b.env.Queue}
	res, err := ingest.Import(ctx, opener(file), b.env.Store, b.q, opts)
	require.NoError(t, err)
	require.False(t, res.Existing)
	m := res.Meta
	require.Equal(t, "user-licenses", m.Kind)
	require.Equal(t, 5, m.Total)
	require.Equal(t, 2, m.Chunks, "4 valid rows in chunks of 2")
	require.Equal(t, 1, m.Failed, "the invalid row has its outcome at once")
	require.Equal(t, jobs.StateRunning, m.State)
	require.Equal(t, 2, b.pending(t))

	again, err := ingest.Import(ctx, opener(file), b.env.Store, b.q, opts)
	require.NoError(t, err)
	require.True(t, again.Existing)
	require.Equal(t, m.ID, again.Meta.ID)
	require.Equal(t, 2, b.pending(t), "the same file enqueues nothing new")

	fresh, err := ingest.Import(ctx, opener(file), b.env.Store, b.q, ingest.Options{ChunkSize: 2, Queue: b.env.Queue, NewBatch: true})
	require.NoError(t, err)
	require.NotEqual(t, m.ID, fresh.Meta.ID)
	require.Equal(t, 4, b.pending(t))

	other, err := ingest.Import(ctx, opener(file), b.env.Store, b.q, ingest.Options{ChunkSize: 3, Queue: b.env.Queue})
	require.NoError(t, err)
	require.NotEqual(t, m.ID, other.Meta.ID, "options that change the batch change its id")
}

func TestFileErrorEnqueuesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, bad := range []string{
		"",
		"platform_key,external_id\n",
		"[{\"platform_key\": \"acme\", \"external_id\": \"a\"}] trailing",
		"platform_key,external_id,shoe_size\nacme,a,42\n",
	} {
		_, err := ingest.Import(context.Background(), opener(bad), b.env.Store, b.q, ingest.Options{Queue: b.env.Queue, Reader: importers.Options{Kind: importers.UserLicenses}})
		var fe *importers.FileError
		require.ErrorAs(t, err, &fe, "%q", bad)
	}
	require.Zero(t, b.pending(t))
}

func TestFileChangedBetweenPasses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var n atomic.Int32
	open := func() (io.ReadCloser, error) {
		if n.Add(1) == 1 {
			return io.NopCloser(strings.NewReader(file)), nil
		}
		return io.NopCloser(strings.NewReader(file + "acme,f,6\n")), nil
	}
	_, err := ingest.Import(context.Background(), open, b.env.Store, b.q, ingest.Options{Queue: b.env.Queue})
	require.ErrorIs(t, err, ingest.ErrFileChanged)
}

func TestHaltedBatchResumes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	opts := ingest.Options{Queue: b.env.Queue}
	res, err := ingest.Import(ctx, opener(file), b.env.Store, b.q, opts)
	require.NoError(t, err)
	require.NoError(t, b.env.Store.Halt(ctx, res.Meta.ID, "the API answered 401"))
	_, err = b.ins.DeleteAllPendingTasks(b.env.Queue) // the halted chunk was dropped
	require.NoError(t, err)

	again, err := ingest.Import(ctx, opener(file), b.env.Store, b.q, opts)
	require.NoError(t, err)
	require.Equal(t, jobs.StateRunning, again.Meta.State, "a re-import resumes a halted batch")
	require.Equal(t, 1, b.pending(t))
}

func TestWait(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	res, err := ingest.Import(ctx, opener("platform_key,external_id\nacme,a\n"), b.env.Store, b.q, ingest.Options{Queue: b.env.Queue})
	require.NoError(t, err)
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _ = b.env.Store.Record(ctx, res.Meta.ID, jobs.Outcome{Row: 1, Line: 2, Status: jobs.StatusOK})
	}()
	var seen []int
	m, err := ingest.Wait(ctx, b.env.Store, res.Meta.ID, 10*time.Millisecond, func(m jobs.Meta) { seen = append(seen, m.Done) })
	require.NoError(t, err)
	require.Equal(t, jobs.StateDone, m.State)
	require.Equal(t, []int{0, 1}, seen)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	res2, err := ingest.Import(ctx, opener("platform_key,external_id\nacme,z\n"), b.env.Store, b.q, ingest.Options{Queue: b.env.Queue})
	require.NoError(t, err)
	_, err = ingest.Wait(cctx, b.env.Store, res2.Meta.ID, 10*time.Millisecond, nil)
	require.ErrorIs(t, err, context.Canceled)
}
