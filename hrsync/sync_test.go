package hrsync_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/hrsync"
	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/bulksync/bulksync/worker"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

// redisDB is the Redis database of these tests; every test has its own
// key prefix and queue in it.
const redisDB = 15

type testBundle struct {
	env    *testenv.Env
	runner *hrsync.Runner
	dir    string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	env := testenv.New(t, redisDB, sandbox.Config{})
	w, err := worker.New(env.RedisOpt, env.Store, env.API, worker.Config{Queue: env.Queue, Concurrency: 4})
	require.NoError(t, err)
	require.NoError(t, w.Start())
	t.Cleanup(w.Shutdown)
	q := asynq.NewClient(env.RedisOpt)
	t.Cleanup(func() { _ = q.Close() })
	_, err = env.API.CreateLicense(context.Background(), dmapi.UserLicense, map[string]any{
		"platform_key": "acme", "name": "Seats", "count": 100, "started": "2024-01-01T00:00:00Z", "external_id": "lic-u1",
	})
	require.NoError(t, err)
	return &testBundle{
		env: env,
		runner: &hrsync.Runner{
			Planner: hrsync.Planner{Snapshots: applied.NewRedis(env.Redis, env.Prefix)},
			Store:   env.Store, Queue: q, QueueName: env.Queue,
		},
		dir: t.TempDir(),
	}
}

// definition is a sync of user-user-assignments from hr.csv.
const definition = `syncs:
  - name: hr-nightly
    schedule: "0 2 * * *"
    timezone: Europe/Berlin
    kind: user-user-assignments
    source: {file: hr.csv}
    mapping:
      email: Work Email
      fulfilled: Onboarded
    transforms: {email: [trim, lower], fulfilled: ["default:no"]}
    filter: {Status: [Active, Leave]}
    defaults:
      platform_key: acme
      license_external_id: lic-u1
    deactivate_missing: true
    missing_runs_before_deactivate: 1
    max_change_percent: 25
    max_deactivate: 2
`

// export writes hr.csv as an HR system would: BOM, CRLF, padded cells.
func (b *testBundle) export(t *testing.T, rows ...string) {
	t.Helper()
	content := "\ufeffEmployee ID,Work Email,Status,Onboarded\r\n"
	for _, r := range rows {
		content += r + "\r\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "hr.csv"), []byte(content), 0o600))
}

func (b *testBundle) sync(t *testing.T) *hrsync.Sync {
	t.Helper()
	cfg, err := hrsync.Parse([]byte(definition), b.dir)
	require.NoError(t, err)
	s, err := cfg.Find("hr-nightly")
	require.NoError(t, err)
	return s
}

// calls are the sandbox's write counts and requests since the last call.
type calls struct{ creates, updates, deletes, requests int64 }

func (b *testBundle) since(last *sandbox.Stats) calls {
	st := b.env.Sandbox.Stats()
	c := calls{st.Creates - last.Creates, st.Updates - last.Updates, st.Deletes - last.Deletes, st.Requests - last.Requests}
	*last = st
	return c
}

func TestSyncSequence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.sync(t)
	ctx := context.Background()
	last := b.env.Sandbox.Stats()
	five := []string{
		"E1,  USER1@EXAMPLE.COM ,Active,no",
		"E2,user2@example.com,Active,no",
		"E3,user3@example.com,Leave,no",
		"E4,user4@example.com,Active,no",
		"E5,user5@example.com,Active,no",
		"E6,user6@example.com,Terminated,no",
	}

	// First run: five creates, the terminated row filtered out, no limit.
	b.export(t, five...)
	res, err := b.runner.Run(ctx, s, hrsync.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, hrsync.Counts{Create: 5}, res.Counts)
	require.Equal(t, 5, res.Succeeded)
	require.Equal(t, int64(5), b.since(&last).creates)

	// The same export again: nothing is sent, not even a look-up.
	res, err = b.runner.Run(ctx, s, hrsync.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, hrsync.Counts{Unchanged: 5}, res.Counts)
	require.Empty(t, res.BatchID)
	require.Equal(t, calls{}, b.since(&last))

	// An edit: one update.
	five[1] = "E2,user2@example.com,Active,yes"
	b.export(t, five...)
	plan, err := b.runner.Plan(ctx, s, false)
	require.NoError(t, err)
	require.Equal(t, []string{"fulfilled"}, plan.Samples[0].Fields)
	require.NoError(t, plan.Close())
	res, err = b.runner.Run(ctx, s, hrsync.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, hrsync.Counts{Update: 1, Unchanged: 4}, res.Counts)
	got := b.since(&last)
	require.Equal(t, calls{updates: 1}, calls{got.creates, got.updates, got.deletes, 0})

	// A removal: one deactivation (remove).
	b.export(t, five[0], five[1], five[3], five[4])
	res, err = b.runner.Run(ctx, s, hrsync.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, hrsync.Counts{Deactivate: 1, Unchanged: 4}, res.Counts)
	got = b.since(&last)
	require.Equal(t, calls{deletes: 1}, calls{got.creates, got.updates, got.deletes, 0})

	// A rehire listed twice: the first line is applied, the second is
	// duplicate_target naming both lines.
	b.export(t, five[0], five[1], "E3,user3@example.com,Active,no", five[3], five[4], "E3b, user3@example.com,Active,no")
	res, err = b.runner.Run(ctx, s, hrsync.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, hrsync.Counts{Create: 1, Unchanged: 4, Invalid: 1}, res.Counts)
	require.Equal(t, 7, res.Problems[0].Line)
	require.Equal(t, "duplicate_target", res.Problems[0].Code)
	require.Contains(t, res.Problems[0].Detail, "line 4")
	got = b.since(&last)
	require.Equal(t, calls{creates: 1}, calls{got.creates, got.updates, got.deletes, 0})

	// A half-empty export: refused, nothing sent, the reason says by how much.
	b.export(t, five[0], five[1])
	res, err = b.runner.Run(ctx, s, hrsync.RunOptions{})
	require.True(t, hrsync.IsRefused(err), "%v", err)
	require.Contains(t, res.Refused, "3 deactivations planned, over max_deactivate 2 by 1")
	require.Equal(t, calls{}, b.since(&last))

	// An empty export, even forced, is never everyone leaving.
	b.export(t)
	_, err = b.runner.Run(ctx, s, hrsync.RunOptions{Force: true})
	require.True(t, hrsync.IsRefused(err), "%v", err)
	require.Equal(t, calls{}, b.since(&last))

	// --force overrides the limit once.
	b.export(t, five[0], five[1])
	res, err = b.runner.Run(ctx, s, hrsync.RunOptions{Force: true})
	require.NoError(t, err)
	require.True(t, res.Forced)
	got = b.since(&last)
	require.Equal(t, calls{deletes: 3}, calls{got.creates, got.updates, got.deletes, 0})
	require.Equal(t, 2, b.env.Sandbox.Stats().UserUserAssignments)

	runs, err := b.runner.History(ctx, s)
	require.NoError(t, err)
	require.Len(t, runs, 8)
	require.NotEmpty(t, runs[0].BatchID)
	require.True(t, strings.HasPrefix(runs[5].Refused, "3 deactivations"))
}
