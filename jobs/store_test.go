package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/hibiken/asynq"
	"github.com/klauspost/compress/s2"
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
	require.NoError(t, s.AddChunks(ctx, "b2",
		jobs.ChunkPayload{Chunk: 0, Rows: []jobs.ChunkRow{{Row: 1, Line: 2, Key: "a"}}},
		jobs.ChunkPayload{Chunk: 1, Rows: []jobs.ChunkRow{{Row: 3, Line: 4, Key: "c", TransactionID: "own"}}}))
	n, err := s.Record(ctx, "b2", jobs.Outcome{Row: 2, Line: 3, ExternalID: "b", Status: jobs.StatusFailed, ErrorCode: "missing_field:name", Action: jobs.ActionSkipped})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, s.Start(ctx, "b2", 2))

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
	require.Equal(t, jobs.Outcome{Row: 3, Line: 4, ExternalID: "c", TransactionID: "own", Status: jobs.StatusUnprocessed, Action: jobs.ActionSkipped}, ledger[2])
	require.Equal(t, 2, m.Chunks)

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
	require.NoError(t, s.Start(ctx, "b3", 0))
	m, err := s.Get(ctx, "b3")
	require.NoError(t, err)
	require.Equal(t, jobs.StateDone, m.State)
}

func TestHaltAndResume(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	_, err := s.Create(ctx, jobs.Meta{ID: "b4", Total: 2, Created: time.Now()})
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx, "b4", 1))
	require.NoError(t, s.Halt(ctx, "b4", "the API answered 401"))
	m, err := s.Get(ctx, "b4")
	require.NoError(t, err)
	require.Equal(t, jobs.StateHalted, m.State)
	require.Equal(t, "the API answered 401", m.HaltReason)
	require.True(t, m.Finished())
	require.NoError(t, s.Resume(ctx, "b4"))
	require.NoError(t, s.Start(ctx, "b4", 1))
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
	derived := jobs.TransactionID("b", "k2", []byte(`{"b":[true,null]}`))
	var enc jobs.ChunkEncoder // reused across the cases, as the importer reuses one
	for _, tt := range []struct {
		name string
		p    jobs.ChunkPayload
	}{
		{"plain", jobs.ChunkPayload{BatchID: "b", Kind: "user-licenses", Chunk: 3, Rows: []jobs.ChunkRow{
			{Row: 1, Line: 2, Key: "k", TransactionID: "t", Data: json.RawMessage(`{"a":1}`)},
			{Row: 2, Line: 5, Key: "k2", Data: json.RawMessage(`{"b":[true,null]}`)},
		}}},
		{"escapes", jobs.ChunkPayload{BatchID: "b\\x", Kind: "issuers", DryRun: true, Rows: []jobs.ChunkRow{
			{Row: 7, Line: 9, Key: "a\"<&>\u2028\x01é", TransactionID: "t\n", Data: json.RawMessage(`{"s":"\u00e9"}`)},
		}}},
		{"no key", jobs.ChunkPayload{BatchID: "b", Kind: "k", Rows: []jobs.ChunkRow{{Row: 1, Line: 2, TransactionID: "t", Data: json.RawMessage(`{}`)}}}},
		{"no rows", jobs.ChunkPayload{BatchID: "b", Kind: "k", Rows: []jobs.ChunkRow{}}},
		{"nil rows", jobs.ChunkPayload{BatchID: "b", Kind: "k"}},
		{"single with extra", jobs.ChunkPayload{BatchID: "b", Kind: "program-suggestions", Single: true, Extra: json.RawMessage(`{"department_mode":true,"platform_org":"o"}`), Rows: []jobs.ChunkRow{
			{Row: 1, Line: 1, Key: "k", TransactionID: "t", Data: json.RawMessage(`{"a":1}`)},
		}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			task := jobs.NewChunkTask(tt.p, "q")
			require.Equal(t, "chunk:"+tt.p.Kind, task.Type())
			require.Equal(t, task.Payload(), enc.NewTask(tt.p, "q").Payload(), "a reused encoder writes the same payload")
			want, err := json.Marshal(tt.p)
			require.NoError(t, err)
			// The envelope says whose chunk it is, for asynqmon's preview.
			var env struct {
				BatchID  string `json:"batch_id"`
				Kind     string `json:"kind"`
				Chunk    int    `json:"chunk"`
				RowCount int    `json:"row_count"`
				Lines    string `json:"lines"`
				DryRun   bool   `json:"dry_run"`
				S2       []byte `json:"s2"`
			}
			require.NoError(t, json.Unmarshal(task.Payload(), &env))
			require.Equal(t, tt.p.BatchID, env.BatchID)
			require.Equal(t, tt.p.Kind, env.Kind)
			require.Equal(t, tt.p.Chunk, env.Chunk)
			require.Equal(t, len(tt.p.Rows), env.RowCount)
			require.Equal(t, tt.p.DryRun, env.DryRun)
			if n := len(tt.p.Rows); n > 0 {
				require.Equal(t, fmt.Sprintf("%d-%d", tt.p.Rows[0].Line, tt.p.Rows[n-1].Line), env.Lines)
			}
			js, err := s2.Decode(nil, env.S2)
			require.NoError(t, err)
			require.Equal(t, string(want), string(js), "written as json.Marshal writes it")
			plain, err := jobs.DecodeChunk(asynq.NewTask(task.Type(), want))
			require.NoError(t, err, "a payload of plain JSON (queued before compression) is read too")
			legacy, err := jobs.DecodeChunk(asynq.NewTask(task.Type(), append([]byte("\x00s2"), env.S2...)))
			require.NoError(t, err, "a payload of S2 bytes (queued before the envelope) is read too")
			got, err := jobs.DecodeChunk(task)
			require.NoError(t, err)
			for i, r := range got.Rows {
				if tt.p.Rows[i].TransactionID == "" {
					require.Equal(t, jobs.TransactionID(tt.p.BatchID, r.Key, r.Data), r.TransactionID, "derived when the row has none")
					tt.p.Rows[i].TransactionID = r.TransactionID
				}
			}
			require.Equal(t, tt.p, got)
			require.Equal(t, got, plain)
			require.Equal(t, got, legacy)
		})
	}
	require.Regexp(t, `^bulksync-`, derived)
	_, err := jobs.DecodeChunk(asynq.NewTask("chunk:x", []byte("{")))
	require.Error(t, err)
}

func TestLedgerOfCutShortImport(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	_, err := s.Create(ctx, jobs.Meta{ID: "b5", Total: 3, Created: time.Now()})
	require.NoError(t, err)
	require.NoError(t, s.AddChunks(ctx, "b5", jobs.ChunkPayload{Chunk: 0, Rows: []jobs.ChunkRow{{Row: 1, Line: 2, Key: "a"}}}))
	var ledger []jobs.Outcome
	require.NoError(t, s.Ledger(ctx, "b5", func(o jobs.Outcome) error { ledger = append(ledger, o); return nil }))
	require.Len(t, ledger, 3, "a loading batch reports every row")
	require.Equal(t, jobs.Outcome{Row: 1, Line: 2, ExternalID: "a", Status: jobs.StatusUnprocessed, Action: jobs.ActionSkipped}, ledger[0])
	for _, o := range ledger[1:] {
		require.Equal(t, jobs.StatusUnprocessed, o.Status)
		require.Zero(t, o.Line, "not enqueued: its line is not known")
		require.Contains(t, o.Message, "import the file again")
	}

	require.NoError(t, s.Start(ctx, "b5", 1))
	err = s.Ledger(ctx, "b5", func(jobs.Outcome) error { return nil })
	require.ErrorContains(t, err, "no outcome nor ledger entry for row 2", "a started batch has every row enqueued")
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
