package jobs_test

import (
	"testing"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestCancel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		state     string // the batch's state before Cancel: loading, running, done
		wantState string
	}{
		{name: "Loading", state: jobs.StateLoading, wantState: jobs.StateCancelled},
		{name: "Running", state: jobs.StateRunning, wantState: jobs.StateCancelled},
		{name: "Done", state: jobs.StateDone, wantState: jobs.StateDone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, ctx := setup(t)
			id := "cancel-" + tt.name
			_, err := s.Create(ctx, jobs.Meta{ID: id, Kind: "program-suggestions", Total: 3, Created: time.Now()})
			require.NoError(t, err)
			// Rows 1 and 2 are enqueued; row 3 is not (the import was under way).
			require.NoError(t, s.AddChunks(ctx, id, jobs.ChunkPayload{Chunk: 0, Rows: []jobs.ChunkRow{{Row: 1, Line: 1}, {Row: 2, Line: 2}}}))
			_, err = s.Record(ctx, id, jobs.Outcome{Row: 1, Line: 1, Status: jobs.StatusOK, Action: jobs.ActionCreated, Attempts: 1})
			require.NoError(t, err)
			switch tt.state {
			case jobs.StateRunning:
				require.NoError(t, s.Start(ctx, id, 1))
			case jobs.StateDone:
				require.NoError(t, s.AddChunks(ctx, id, jobs.ChunkPayload{Chunk: 1, Rows: []jobs.ChunkRow{{Row: 3, Line: 3}}}))
				require.NoError(t, s.Start(ctx, id, 2))
				_, err = s.Record(ctx, id,
					jobs.Outcome{Row: 2, Line: 2, Status: jobs.StatusOK, Action: jobs.ActionCreated},
					jobs.Outcome{Row: 3, Line: 3, Status: jobs.StatusOK, Action: jobs.ActionCreated})
				require.NoError(t, err)
			}

			prev, err := s.Cancel(ctx, id)
			require.NoError(t, err)
			require.Equal(t, tt.state, prev)
			st, err := s.State(ctx, id)
			require.NoError(t, err)
			require.Equal(t, tt.wantState, st)
			m, err := s.Get(ctx, id)
			require.NoError(t, err)
			require.True(t, m.Finished())
			if tt.wantState != jobs.StateCancelled {
				return
			}
			// An outcome recorded after the cancel (a row in flight) is kept,
			// and does not make the batch done.
			_, err = s.Record(ctx, id, jobs.Outcome{Row: 2, Line: 2, Status: jobs.StatusOK, Action: jobs.ActionCreated})
			require.NoError(t, err)
			var statuses []string
			require.NoError(t, s.Ledger(ctx, id, func(o jobs.Outcome) error {
				statuses = append(statuses, o.Status)
				if o.Status == jobs.StatusUnprocessed {
					require.Equal(t, "not attempted: the batch was cancelled", o.Message)
				}
				return nil
			}))
			require.Equal(t, []string{jobs.StatusOK, jobs.StatusOK, jobs.StatusUnprocessed}, statuses)
			st, err = s.State(ctx, id)
			require.NoError(t, err)
			require.Equal(t, jobs.StateCancelled, st, "a cancelled batch stays cancelled")
		})
	}
	t.Run("Unknown", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		_, err := s.Cancel(ctx, "no-such-batch")
		require.ErrorIs(t, err, jobs.ErrBatchNotFound)
		_, err = s.State(ctx, "no-such-batch")
		require.ErrorIs(t, err, jobs.ErrBatchNotFound)
	})
}

func TestRecent(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	base := time.Now().Add(-time.Hour)
	for i, id := range []string{"r-old", "r-mid", "r-new"} {
		_, err := s.Create(ctx, jobs.Meta{ID: id, Kind: "issuers", Total: 1, Created: base.Add(time.Duration(i) * time.Minute)})
		require.NoError(t, err)
	}
	// An expired batch: its id is in the index, its data gone.
	require.NoError(t, s.Client().ZAdd(ctx, s.Prefix()+"batches", redisZ(base.Add(time.Hour), "r-expired")).Err())
	for _, tt := range []struct {
		name  string
		limit int
		want  []string
	}{
		{name: "Two", limit: 2, want: []string{"r-new", "r-mid"}},
		{name: "All", limit: 10, want: []string{"r-new", "r-mid", "r-old"}},
		{name: "None", limit: 0, want: nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Recent(ctx, tt.limit)
			require.NoError(t, err)
			var ids []string
			for _, m := range got {
				ids = append(ids, m.ID)
			}
			require.Equal(t, tt.want, ids)
		})
	}
}

// redisZ is a sorted-set member scored by a time.
func redisZ(at time.Time, member string) redis.Z {
	return redis.Z{Score: float64(at.Unix()), Member: member}
}
