package hrsync

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// TypeSyncRun is the asynq task type of a scheduled run; its payload is
// a [RunPayload]. The type is a wire contract: never renamed.
const TypeSyncRun = "sync:run"

// RunPayload names the sync a scheduled task runs and the minute it was
// fired for.
type RunPayload struct {
	Sync string `json:"sync"`
	Fire string `json:"fire,omitempty"`
}

// SchedulerConfig configures a [Scheduler].
type SchedulerConfig struct {
	// Config holds the syncs; those with a schedule are fired.
	Config *Config
	// Runner runs a fired sync.
	Runner *Runner
	// RedisOpt and Redis reach the Redis every scheduler process shares.
	RedisOpt asynq.RedisConnOpt
	Redis    redis.UniversalClient
	// Prefix starts the keys of the running locks. Defaults to "bulksync:".
	Prefix string
	// Queue is the asynq queue of the scheduled tasks. Defaults to
	// "bulksync-sync".
	Queue string
	// LockTTL is how long a run's lock lasts unless renewed; a running
	// run renews it every third of it. Defaults to 2 minutes.
	LockTTL time.Duration
	// Logger gets the scheduler's lines. Defaults to slog.Default().
	Logger *slog.Logger
}

// Scheduler fires the syncs' schedules with asynq's periodic tasks and
// runs the fired syncs. Several scheduler processes may run against one
// Redis: every fire enqueues one task whose id names the sync and the
// minute it fired for, so the processes' fires of one minute make one
// task; and a sync whose previous run still holds its lock in Redis is
// not started again (that fire is skipped and logged).
type Scheduler struct {
	cfg SchedulerConfig
}

// NewScheduler returns a scheduler; it fails when no sync has a schedule.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	cfg.Prefix = cmp.Or(cfg.Prefix, "bulksync:")
	cfg.Queue = cmp.Or(cfg.Queue, "bulksync-sync")
	cfg.LockTTL = cmp.Or(cfg.LockTTL, 2*time.Minute)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := 0
	for _, s := range cfg.Config.Syncs {
		if s.Schedule != "" {
			n++
		}
	}
	if n == 0 {
		return nil, errors.New("no sync in the definition has a schedule")
	}
	return &Scheduler{cfg: cfg}, nil
}

// fireID is the task id of a sync's fire at minute t.
func fireID(sync string, t time.Time) string {
	return "sync:" + sync + ":" + t.UTC().Truncate(time.Minute).Format("20060102T1504Z")
}

// Run fires the schedules and works the fired tasks until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	log := s.cfg.Logger
	sched := asynq.NewScheduler(s.cfg.RedisOpt, &asynq.SchedulerOpts{
		Location: time.UTC, // each sync's time zone is in its cronspec
		Logger:   asynqLogger{log},
		// The task id is set per fire: the sync and the minute fired for.
		PreEnqueueFunc: func(t *asynq.Task, opts []asynq.Option) {
			var p RunPayload
			_ = json.Unmarshal(t.Payload(), &p)
			opts[0] = asynq.TaskID(fireID(p.Sync, time.Now()))
		},
		EnqueueErrorHandler: func(t *asynq.Task, _ []asynq.Option, err error) {
			var p RunPayload
			_ = json.Unmarshal(t.Payload(), &p)
			if errors.Is(err, asynq.ErrTaskIDConflict) {
				log.Debug("sync already fired by another scheduler", "sync", p.Sync)
				return
			}
			log.Error("fire sync", "sync", p.Sync, "err", err)
		},
	})
	for _, sy := range s.cfg.Config.Syncs {
		if sy.Schedule == "" {
			continue
		}
		payload, _ := json.Marshal(RunPayload{Sync: sy.Name})
		_, err := sched.Register(sy.Cronspec(), asynq.NewTask(TypeSyncRun, payload),
			asynq.TaskID("set per fire"), asynq.Queue(s.cfg.Queue), asynq.MaxRetry(0),
			// Kept after it ran, so that a late scheduler's fire of the same
			// minute still conflicts.
			asynq.Retention(26*time.Hour), asynq.Timeout(24*time.Hour))
		if err != nil {
			return fmt.Errorf("schedule sync %s: %w", sy.Name, err)
		}
		log.Info("sync scheduled", "sync", sy.Name, "schedule", sy.Schedule, "timezone", sy.Location().String())
	}
	srv := asynq.NewServer(s.cfg.RedisOpt, asynq.Config{
		// Twice the syncs: a fire that comes while its sync's run is
		// going is taken at once, finds the run's lock and is skipped,
		// rather than waiting to run late.
		Concurrency: 2 * len(s.cfg.Config.Syncs),
		Queues:      map[string]int{s.cfg.Queue: 1},
		BaseContext: func() context.Context { return ctx },
		Logger:      asynqLogger{log},
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeSyncRun, s.handle)
	if err := srv.Start(mux); err != nil {
		return err
	}
	if err := sched.Start(); err != nil {
		srv.Shutdown()
		return err
	}
	<-ctx.Done()
	sched.Shutdown()
	srv.Shutdown()
	return nil
}

// handle runs one fired sync, unless its previous run still holds the
// lock.
func (s *Scheduler) handle(ctx context.Context, t *asynq.Task) error {
	var p RunPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("payload: %v: %w", err, asynq.SkipRetry)
	}
	sy, err := s.cfg.Config.Find(p.Sync)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	log := s.cfg.Logger.With("sync", sy.Name)
	unlock, ok, err := s.Lock(ctx, sy.Name)
	if err != nil {
		return err
	}
	if !ok {
		log.Warn("the previous run is still going; this fire is skipped")
		return nil
	}
	defer unlock()
	log.Info("sync run started")
	res, err := s.cfg.Runner.Run(ctx, sy, RunOptions{})
	switch {
	case IsRefused(err):
		log.Warn("sync run refused", "reason", res.Refused)
		return nil
	case err != nil:
		log.Error("sync run failed", "err", err)
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	c := res.Counts
	log.Info("sync run done", "batch", res.BatchID, "create", c.Create, "update", c.Update, "deactivate", c.Deactivate,
		"unchanged", c.Unchanged, "invalid", c.Invalid, "succeeded", res.Succeeded, "failed", res.Failed)
	return nil
}

// unlockScript deletes a lock only when it still holds our token.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// renewScript extends a lock only when it still holds our token.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

// Lock takes the running lock of a sync in Redis; ok is false when a run
// holds it. Until unlock is called, the lock is renewed every third of
// LockTTL, so a run longer than LockTTL keeps it, and a crashed run
// loses it LockTTL later.
func (s *Scheduler) Lock(ctx context.Context, sync string) (unlock func(), ok bool, err error) {
	key := s.cfg.Prefix + "sync:running:" + sync
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	ok, err = s.cfg.Redis.SetNX(ctx, key, token, s.cfg.LockTTL).Result()
	if err != nil || !ok {
		return nil, false, err
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(s.cfg.LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = renewScript.Run(context.WithoutCancel(ctx), s.cfg.Redis, []string{key}, token, s.cfg.LockTTL.Milliseconds()).Err()
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		_ = unlockScript.Run(context.WithoutCancel(ctx), s.cfg.Redis, []string{key}, token).Err()
	}, true, nil
}

// asynqLogger passes asynq's warnings and errors on to the scheduler's
// logger and drops its chatter; the scheduler logs what matters.
type asynqLogger struct{ log *slog.Logger }

func (asynqLogger) Debug(...any)     {}
func (asynqLogger) Info(...any)      {}
func (l asynqLogger) Warn(a ...any)  { l.log.Warn(fmt.Sprint(a...)) }
func (l asynqLogger) Error(a ...any) { l.log.Error(fmt.Sprint(a...)) }
func (l asynqLogger) Fatal(a ...any) { l.log.Error(fmt.Sprint(a...)) }
