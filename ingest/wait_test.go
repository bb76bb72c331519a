package ingest_test

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/jobs"
	"github.com/stretchr/testify/require"
)

func TestProgress(t *testing.T) {
	t.Parallel()
	running := func(done int, waiting string) jobs.Meta {
		return jobs.Meta{ID: "b1", State: jobs.StateRunning, Total: 10, Done: done, Successes: done, Waiting: waiting}
	}
	// An update is the batch's state seen after some time from the start.
	type update struct {
		after time.Duration
		meta  jobs.Meta
	}
	for _, tt := range []struct {
		name    string
		updates []update
		want    string
	}{
		{
			name:    "FirstLineAlways",
			updates: []update{{after: 201 * time.Millisecond, meta: running(0, "")}},
			want:    "batch b1: 0/10 rows done (0 ok, 0 failed) 201ms\n",
		},
		{
			name: "AtMostOneLineASecond",
			updates: []update{
				{after: 100 * time.Millisecond, meta: running(1, "")},
				{after: 600 * time.Millisecond, meta: running(2, "")},
				{after: 1100 * time.Millisecond, meta: running(3, "")},
				{after: 1200 * time.Millisecond, meta: running(4, "")},
			},
			want: "batch b1: 1/10 rows done (1 ok, 0 failed) 100ms\n" +
				"batch b1: 3/10 rows done (3 ok, 0 failed) 1.1s\n",
		},
		{
			name: "FinalLineAlways",
			updates: []update{
				{after: 100 * time.Millisecond, meta: running(9, "")},
				{after: 300 * time.Millisecond, meta: jobs.Meta{ID: "b1", State: jobs.StateDone, Total: 10, Done: 10, Successes: 8, Failed: 2}},
			},
			want: "batch b1: 9/10 rows done (9 ok, 0 failed) 100ms\n" +
				"batch b1: 10/10 rows done (8 ok, 2 failed) 300ms\n",
		},
		{
			name: "WaitingForTheAPI",
			updates: []update{
				{after: 100 * time.Millisecond, meta: running(4, "")},
				{after: 200 * time.Millisecond, meta: running(4, "the API answers 503")},          // a wait starts: written
				{after: 400 * time.Millisecond, meta: running(4, "the API refuses connections")},  // another reason, within the second: not written
				{after: 1500 * time.Millisecond, meta: running(4, "the API refuses connections")}, // a second later: written
				{after: 1600 * time.Millisecond, meta: running(5, "")},                            // the wait ends: written
			},
			want: "batch b1: 4/10 rows done (4 ok, 0 failed) 100ms\n" +
				"batch b1: 4/10 rows done (4 ok, 0 failed) 200ms, waiting for the API: the API answers 503\n" +
				"batch b1: 4/10 rows done (4 ok, 0 failed) 1.5s, waiting for the API: the API refuses connections\n" +
				"batch b1: 5/10 rows done (5 ok, 0 failed) 1.6s\n",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			var out bytes.Buffer
			p := ingest.NewProgress(&out, start)
			var now time.Time
			p.Now = func() time.Time { return now }
			for _, u := range tt.updates {
				now = start.Add(u.after)
				p.Update(u.meta)
			}
			require.Equal(t, tt.want, out.String())
		})
	}
}

func TestWaitReportsWaiting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := b.env.Store
	_, err := s.Create(ctx, jobs.Meta{ID: "w1", Kind: "user-licenses", Total: 2, Created: time.Now()})
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx, "w1", 1))

	var (
		mu   sync.Mutex
		seen []jobs.Meta
	)
	progress := func(m jobs.Meta) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, m)
	}
	// seenLen waits for Wait to have reported n changes.
	seenLen := func(n int) {
		t.Helper()
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) >= n
		}, 5*time.Second, 5*time.Millisecond)
	}
	type result struct {
		m   jobs.Meta
		err error
	}
	res := make(chan result, 1)
	go func() {
		m, err := ingest.Wait(ctx, s, "w1", 10*time.Millisecond, progress)
		res <- result{m, err}
	}()
	seenLen(1)
	// No row goes through, but the batch starts waiting: that is a change.
	require.NoError(t, s.SetWaiting(ctx, "w1", "the API answers 503"))
	seenLen(2)
	_, err = s.Record(ctx, "w1",
		jobs.Outcome{Row: 1, Line: 2, ExternalID: "a", Action: jobs.ActionCreated, Status: jobs.StatusOK},
		jobs.Outcome{Row: 2, Line: 3, ExternalID: "b", Action: jobs.ActionCreated, Status: jobs.StatusOK},
	)
	require.NoError(t, err)
	r := <-res
	require.NoError(t, r.err)
	require.Equal(t, jobs.StateDone, r.m.State)

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, "", seen[0].Waiting)
	require.Equal(t, 0, seen[0].Done)
	require.Equal(t, "the API answers 503", seen[1].Waiting)
	require.Equal(t, 0, seen[1].Done, "the waiting line comes without a row done")
	last := seen[len(seen)-1]
	require.Equal(t, 2, last.Done)
	require.Equal(t, "", last.Waiting, "a recorded outcome ends the wait")
}

// ExampleProgress prints a batch's progress as ingest.Wait would report
// it: the first line, the start of a wait for the API (written at once),
// and the final line.
func ExampleProgress() {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := start
	p := ingest.NewProgress(os.Stdout, start)
	p.Now = func() time.Time { return now }
	for _, step := range []struct {
		after time.Duration
		meta  jobs.Meta
	}{
		{200 * time.Millisecond, jobs.Meta{ID: "b1", State: jobs.StateRunning, Total: 300, Done: 120, Successes: 120}},
		{400 * time.Millisecond, jobs.Meta{ID: "b1", State: jobs.StateRunning, Total: 300, Done: 120, Successes: 120, Waiting: "the API answers 503"}},
		{95 * time.Second, jobs.Meta{ID: "b1", State: jobs.StateDone, Total: 300, Done: 300, Successes: 299, Failed: 1}},
	} {
		now = start.Add(step.after)
		p.Update(step.meta)
	}
	// Output:
	// batch b1: 120/300 rows done (120 ok, 0 failed) 200ms
	// batch b1: 120/300 rows done (120 ok, 0 failed) 400ms, waiting for the API: the API answers 503
	// batch b1: 300/300 rows done (299 ok, 1 failed) 1m35s
}
