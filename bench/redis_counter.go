package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// countedRedis is an asynq.RedisConnOpt (and a client factory for the
// store) whose clients count the commands they send, each command of a
// pipeline included. It builds the same client as asynq.RedisClientOpt.
// Commands that Lua scripts run inside Redis are not seen here; the server's
// INFO commandstats counts those too.
type countedRedis struct {
	addr  string
	db    int
	n     *atomic.Int64
	tasks *taskRecorder // when set, notes the payload of every task enqueued
}

// MakeRedisClient returns a new counting client. It implements
// asynq.RedisConnOpt.
func (c countedRedis) MakeRedisClient() any { return c.client() }

// client returns a new counting client.
func (c countedRedis) client() *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: c.addr, DB: c.db})
	rdb.AddHook(commandCounter{n: c.n, tasks: c.tasks})
	return rdb
}

// commandCounter is a go-redis hook that adds every command sent to n and,
// when tasks is set, shows it every command.
type commandCounter struct {
	n     *atomic.Int64
	tasks *taskRecorder
}

// DialHook implements redis.Hook.
func (commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		if h.tasks != nil {
			h.tasks.see(cmd.Args())
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

var _ redis.Hook = commandCounter{}

// commandCalls returns the total of the calls counts of INFO commandstats:
// every command the server ran since its start, those run by Lua scripts
// included, from every client and database.
func commandCalls(ctx context.Context, rdb *redis.Client) (int64, error) {
	calls, err := commandCallsByName(ctx, rdb)
	if err != nil {
		return 0, err
	}
	return calls.total(), nil
}

// commandStats are the calls counts of INFO commandstats by command name.
type commandStats map[string]int64

// total returns the sum of the counts.
func (c commandStats) total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// sub returns the counts of c minus those of before, without the zeros.
func (c commandStats) sub(before commandStats) commandStats {
	d := commandStats{}
	for k, v := range c {
		if v -= before[k]; v != 0 {
			d[k] = v
		}
	}
	return d
}

// commandCallsByName returns the calls counts of INFO commandstats.
func commandCallsByName(ctx context.Context, rdb *redis.Client) (commandStats, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("info commandstats: %w", err)
	}
	return parseCommandStats(info)
}

// parseCommandStats reads the calls= fields of an INFO commandstats answer,
// whose lines read "cmdstat_hset:calls=12,usec=34,...".
func parseCommandStats(info string) (commandStats, error) {
	stats := commandStats{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		name, fields, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok {
			continue
		}
		for field := range strings.SplitSeq(fields, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("info commandstats: %q: %w", line, err)
				}
				stats[name] += n
			}
		}
	}
	return stats, sc.Err()
}

// redisVersion returns the server's redis_version.
func redisVersion(ctx context.Context, rdb *redis.Client) (string, error) {
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v, nil
		}
	}
	return "unknown", nil
}

// redisCPU returns the CPU time the Redis server has used since its start
// (used_cpu_user + used_cpu_sys of INFO cpu), in seconds.
func redisCPU(ctx context.Context, rdb *redis.Client) (float64, error) {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("info cpu: %w", err)
	}
	var total float64
	for line := range strings.SplitSeq(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (k != "used_cpu_user" && k != "used_cpu_sys") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("info cpu: %q: %w", line, err)
		}
		total += f
	}
	return total, nil
}
