//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/report"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// sentinelMaster is the name the test's sentinel monitors its primary by.
const sentinelMaster = "bulksync-e2e"

// TestSentinelFailover runs a batch through two worker processes whose
// REDIS_URL names a Sentinel set (redis+sentinel://): a primary, a replica
// and one sentinel, all redis-server processes on free ports. Mid-batch the
// primary is SIGKILLed; the sentinel promotes the replica, and the workers,
// the report command and the batch go on there. Every good row must end ok
// and created once, every bad row failed on its line.
//
// Replication is asynchronous, so the writes of the last moment before the
// kill may be lost with the primary: a lost outcome makes its row applied
// again, which finds the license by its look-up and reports it unchanged
// (checkResults allows that), never creating it twice.
func TestSentinelFailover(t *testing.T) {
	c := newCluster(t)
	primary, replica, sentinel := freePort(t), freePort(t), freePort(t)
	startRedisNode := func(name string, port int, args ...string) *proc {
		dir := filepath.Join(c.dir, name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		p := startProc(t, c.dir, name, nil, c.redisBin, append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no"}, args...)...)
		waitPing(t, p, port)
		return p
	}
	primaryProc := startRedisNode("redis-primary", primary)
	startRedisNode("redis-replica", replica, "--replicaof", "127.0.0.1", strconv.Itoa(primary))
	conf := filepath.Join(c.dir, "sentinel.conf")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, "port %d\nbind 127.0.0.1\ndir %s\n"+
		"sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %[3]s 1000\nsentinel failover-timeout %[3]s 10000\n",
		sentinel, c.dir, sentinelMaster, primary), 0o644))
	sentinelProc := startProc(t, c.dir, "redis-sentinel", nil, c.redisBin, conf, "--sentinel")
	waitPing(t, sentinelProc, sentinel)
	sc := redis.NewSentinelClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(sentinel)})
	defer sc.Close()
	ctx := t.Context()
	// The sentinel must know the replica before the primary dies, and the
	// replica must hold the primary's data.
	require.Eventually(t, func() bool {
		reps, err := sc.Replicas(ctx, sentinelMaster).Result()
		return err == nil && len(reps) == 1
	}, 30*time.Second, 100*time.Millisecond, "the sentinel never saw the replica")
	rep := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(replica)})
	defer rep.Close()
	require.Eventually(t, func() bool {
		info, err := rep.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}, 30*time.Second, 100*time.Millisecond, "the replica never synced")

	c.startSandbox("--latency", "10ms")
	env := []string{
		"REDIS_URL=redis+sentinel://127.0.0.1:" + strconv.Itoa(sentinel) + "/" + sentinelMaster + "/0",
		"BULKSYNC_API_URL=" + c.sandboxURL, "BULKSYNC_API_TOKEN=" + apiToken,
	}
	for i := range 2 {
		startProc(t, c.dir, fmt.Sprintf("worker-%d", i), env, c.bin, "worker", "--concurrency", "4", "--shutdown-timeout", "2s")
	}
	ro := writeRoster(t, filepath.Join(c.dir, "roster.csv"), 2000, 11)
	r := runEnv(t, env, time.Minute, "import", ro.path, "--detach", "--chunk-size", "25")
	require.Equal(t, 0, r.code, "import --detach: %s", r.stderr)
	id := strings.TrimSpace(r.stdout)

	// Kill the primary once a tenth of the rows is done.
	pc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(primary)})
	defer pc.Close()
	require.Eventually(t, func() bool {
		n, err := pc.HGet(ctx, "bulksync:batch:"+id, "done").Int()
		return err == nil && n >= ro.rows/10
	}, time.Minute, 20*time.Millisecond, "the batch did not start")
	primaryProc.killGroup()
	killed := time.Now()
	require.Eventually(t, func() bool {
		addr, err := sc.GetMasterAddrByName(ctx, sentinelMaster).Result()
		return err == nil && addr[1] == strconv.Itoa(replica)
	}, 60*time.Second, 100*time.Millisecond, "the sentinel did not promote the replica")
	t.Logf("failover %s after the primary was killed", time.Since(killed).Round(time.Millisecond))

	var sum report.Summary
	sumFile := filepath.Join(c.dir, "summary.json")
	require.Eventually(t, func() bool {
		r := runEnv(t, env, time.Minute, "report", id, "--summary", sumFile)
		if r.code != 0 && r.code != 1 {
			return false // Redis between primaries
		}
		b, err := os.ReadFile(sumFile)
		return err == nil && json.Unmarshal(b, &sum) == nil && sum.State == jobs.StateDone
	}, 3*time.Minute, 500*time.Millisecond, "the batch did not finish on the new primary")

	resFile := filepath.Join(c.dir, "results.jsonl")
	r = runEnv(t, env, time.Minute, "report", id, "--summary", sumFile, "--results", resFile)
	require.Contains(t, []int{0, 1}, r.code, r.stderr)
	b, err := os.ReadFile(sumFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &sum))
	var outs []jobs.Outcome
	b, err = os.ReadFile(resFile)
	require.NoError(t, err)
	for line := range bytes.SplitSeq(bytes.TrimSpace(b), []byte("\n")) {
		var o jobs.Outcome
		require.NoError(t, json.Unmarshal(line, &o))
		outs = append(outs, o)
	}
	checkResults(t, ro, sum, outs, c.mustStats())
}

// waitPing waits until the redis-server of p answers on port.
func waitPing(t *testing.T, p *proc, port int) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("%s did not come up on %d: %v\n%s", p.name, port, err, p.tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runEnv runs a bulksync command with env to its end (at most timeout).
func runEnv(t *testing.T, env []string, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bulksyncBin(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("bulksync %s: %v", strings.Join(args, " "), err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}
