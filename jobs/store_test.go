package jobs_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

const redisDB = 10

func setup(t *testing.T) (*jobs.Store, context.Context) {
	t.Helper()
	env := testenv.New(t, redisDB, sandbox.Config{})
	return env.Store, context.Background()
}

func TestCreateIsOnce(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	m := jobs.Meta{ID: "b1", Kind: "program-licenses", Total: 3, Chunks: 1, Created: time.Now()}
	ok, err := s.Create(ctx, m)
	require.NoError(t, err)
	require.True(t, ok)
	m.Total = 99
	ok, err = s.Create(ctx, m)
	require.NoError(t, err)
	require.False(t, ok, "a second create of the same id changes nothing")
	got, err := s.Get(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, 3, got.Total)
	require.Equal(t, jobs.StateLoading, got.State)

	_, err = s.Get(ctx, "nope")
	require.ErrorIs(t, err, jobs.ErrBatchNotFound)
}

func TestOutcomesAreFinalAndCounted(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	_, err := s.Create(ctx, jobs.Meta{ID: "b2", Total: 3, Created: time.Now()})
	require.NoError(t, err)
	require.NoError(t, s.AddRows(ctx, "b2", []jobs.Outcome{{Row: 1, Line: 2, ExternalID: "a"}, {Row: 3, Line: 4, ExternalID: "c"}}))
	n, err := s.Record(ctx, "b2", jobs.Outcome{Row: 2, Line: 3, ExternalID: "b", Status: jobs.StatusFailed, ErrorCode: "missing_field:name", Action: jobs.ActionSkipped})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, s.Start(ctx, "b2"))

	n, err = s.Record(ctx, "b2",
		jobs.Outcome{Row: 1, Line: 2, ExternalID: "a", Status: jobs.StatusOK, Action: jobs.ActionCreated, Attempts: 1},
		jobs.Outcome{Row: 1, Line: 2, ExternalID: "a", Status: jobs.StatusFailed, Action: jobs.ActionSkipped})
	require.NoError(t, err)
	require.Equal(t, 1, n, "the second outcome of row 1 in the same call is ignored")
	n, err = s.Record(ctx, "b2", jobs.Outcome{Row: 1, Line: 2, Status: jobs.StatusFailed})
	require.NoError(t, err)
	require.Zero(t, n, "a recorded outcome is final")

	m, err := s.Get(ctx, "b2")
	require.NoError(t, err)
	require.Equal(t, jobs.StateRunning, m.State)
	require.Equal(t, 2, m.Done)
	require.Equal(t, 1, m.Successes)
	require.Equal(t, 1, m.Failed)

	done, err := s.Done(ctx, "b2", []int{1, 2, 3})
	require.NoError(t, err)
	require.Equal(t, map[int]bool{1: true, 2: true}, done)

	var ledger []jobs.Outcome
	require.NoError(t, s.Ledger(ctx, "b2", func(o jobs.Outcome) error { ledger = append(ledger, o); return nil }))
	require.Len(t, ledger, 3)
	require.Equal(t, []int{2, 3, 4}, []int{ledger[0].Line, ledger[1].Line, ledger[2].Line}, "in line order")
	require.Equal(t, jobs.ActionCreated, ledger[0].Action)
	require.Equal(t, jobs.StatusUnprocessed, ledger[2].Status, "a row without an outcome is unprocessed")

	_, err = s.Record(ctx, "b2", jobs.Outcome{Row: 3, Line: 4, Status: jobs.StatusOK})
	require.NoError(t, err)
	m, err = s.Get(ctx, "b2")
	require.NoError(t, err)
	require.Equal(t, jobs.StateDone, m.State, "the last outcome finishes the batch")
	require.True(t, m.Finished())
}

func TestStartWithOnlyInvalidRowsIsDone(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	_, err := s.Create(ctx, jobs.Meta{ID: "b3", Total: 1, Created: time.Now()})
	require.NoError(t, err)
	_, err = s.Record(ctx, "b3", jobs.Outcome{Row: 1, Line: 2, Status: jobs.StatusFailed})
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx, "b3"))
	m, err := s.Get(ctx, "b3")
	require.NoError(t, err)
	require.Equal(t, jobs.StateDone, m.State)
}

func TestHaltAndResume(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	_, err := s.Create(ctx, jobs.Meta{ID: "b4", Total: 2, Created: time.Now()})
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx, "b4"))
	require.NoError(t, s.Halt(ctx, "b4", "the API answered 401"))
	m, err := s.Get(ctx, "b4")
	require.NoError(t, err)
	require.Equal(t, jobs.StateHalted, m.State)
	require.Equal(t, "the API answered 401", m.HaltReason)
	require.True(t, m.Finished())
	require.NoError(t, s.Resume(ctx, "b4"))
	require.NoError(t, s.Start(ctx, "b4"))
	m, err = s.Get(ctx, "b4")
	require.NoError(t, err)
	require.Equal(t, jobs.StateRunning, m.State)
	require.Empty(t, m.HaltReason)
}

func TestIDsAreDeterministic(t *testing.T) {
	t.Parallel()
	sum := []byte("0123456789abcdef0123456789abcdef")
	a := jobs.BatchID(sum, "program-licenses", "chunk_size=100", "")
	require.Len(t, a, 20)
	require.Equal(t, a, jobs.BatchID(sum, "program-licenses", "chunk_size=100", ""))
	for _, other := range []string{
		jobs.BatchID(sum, "user-licenses", "chunk_size=100", ""),
		jobs.BatchID(sum, "program-licenses", "chunk_size=50", ""),
		jobs.BatchID(sum, "program-licenses", "chunk_size=100", "nonce"),
		jobs.BatchID([]byte("other"), "program-licenses", "chunk_size=100", ""),
	} {
		require.NotEqual(t, a, other)
	}
	require.Equal(t, "abc:7", jobs.TaskID("abc", 7))
	tx := jobs.TransactionID("b", "k", []byte(`{"a":1}`))
	require.Equal(t, tx, jobs.TransactionID("b", "k", []byte(`{"a":1}`)))
	require.NotEqual(t, tx, jobs.TransactionID("b", "k", []byte(`{"a":2}`)))
	require.Regexp(t, `^bulksync-[0-9a-f]{32}$`, tx)
}

func TestChunkTaskRoundTrip(t *testing.T) {
	t.Parallel()
	p := jobs.ChunkPayload{BatchID: "b", Kind: "user-licenses", Chunk: 3, Rows: []jobs.ChunkRow{{Row: 1, Line: 2, Key: "k", TransactionID: "t", Data: json.RawMessage(`{"a":1}`)}}}
	task, err := jobs.NewChunkTask(p, "q")
	require.NoError(t, err)
	require.Equal(t, "chunk:user-licenses", task.Type())
	got, err := jobs.DecodeChunk(task)
	require.NoError(t, err)
	require.Equal(t, p, got)
	_, err = jobs.DecodeChunk(asynq.NewTask("chunk:x", []byte("{")))
	require.Error(t, err)
}

func TestRecordForUnknownBatchIsDropped(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	n, err := s.Record(ctx, "gone", jobs.Outcome{Row: 1, Line: 2, Status: jobs.StatusFailed})
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = s.Get(ctx, "gone")
	require.ErrorIs(t, err, jobs.ErrBatchNotFound, "recording does not make up a batch")
}
