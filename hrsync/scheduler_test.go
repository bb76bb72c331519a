package hrsync_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/bulksync/bulksync/hrsync"
	"github.com/stretchr/testify/require"
)

// TestSchedulerFiresOnce runs two schedulers on one Redis with an
// every-minute schedule: the minute's fire runs the sync once.
func TestSchedulerFiresOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits for the next minute")
	}
	b := setup(t)
	def := `syncs:
  - name: every-minute
    schedule: "* * * * *"
    kind: user-user-assignments
    source: {file: hr.csv}
    mapping: {email: Work Email}
    defaults: {platform_key: acme, license_external_id: lic-u1}
`
	cfg, err := hrsync.Parse([]byte(def), b.dir)
	require.NoError(t, err)
	b.export(t, "E1,user1@example.com,Active,no")
	queue := b.env.Queue + "-sync"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := b.env.Redis.Scan(ctx, 0, "asynq:{"+queue+"}*", 1000).Iterator()
		for iter.Next(ctx) {
			b.env.Redis.Del(ctx, iter.Val())
		}
		b.env.Redis.SRem(ctx, "asynq:queues", queue)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 2)
	for range 2 {
		s, err := hrsync.NewScheduler(hrsync.SchedulerConfig{
			Config: cfg, Runner: b.runner, RedisOpt: b.env.RedisOpt, Redis: b.env.Redis,
			Prefix: b.env.Prefix, Queue: queue, Logger: slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		go func() { done <- s.Run(ctx) }()
	}
	s, _ := cfg.Find("every-minute")
	// The next minute's fire, and a few seconds for its run.
	require.Eventually(t, func() bool {
		runs, err := b.runner.History(ctx, s)
		return err == nil && len(runs) > 0 && !runs[0].Finished.IsZero()
	}, 75*time.Second, 200*time.Millisecond)
	time.Sleep(3 * time.Second)
	cancel()
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	runs, err := b.runner.History(context.Background(), s)
	require.NoError(t, err)
	require.Len(t, runs, 1, "one run per fire, whatever the number of schedulers")
	require.Equal(t, 1, b.env.Sandbox.Stats().UserUserAssignments)
}

// TestSchedulerLock: a sync whose run holds the lock is not started
// again until the lock is released.
func TestSchedulerLock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg, err := hrsync.Parse([]byte(definition), b.dir)
	require.NoError(t, err)
	s, err := hrsync.NewScheduler(hrsync.SchedulerConfig{Config: cfg, Runner: b.runner, RedisOpt: b.env.RedisOpt, Redis: b.env.Redis, Prefix: b.env.Prefix, LockTTL: 300 * time.Millisecond})
	require.NoError(t, err)
	ctx := context.Background()
	unlock, ok, err := s.Lock(ctx, "hr-nightly")
	require.NoError(t, err)
	require.True(t, ok)
	time.Sleep(500 * time.Millisecond) // past the TTL: renewed
	_, again, err := s.Lock(ctx, "hr-nightly")
	require.NoError(t, err)
	require.False(t, again, "a running sync's lock is held")
	unlock()
	unlock2, ok, err := s.Lock(ctx, "hr-nightly")
	require.NoError(t, err)
	require.True(t, ok)
	unlock2()
}
