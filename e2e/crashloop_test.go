//go:build unix

package e2e

import (
	"flag"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/stretchr/testify/require"
)

var crashLoop = flag.Bool("chaos.crash-loop", false, "run TestChunkCrashLoop (about 17 minutes; add -timeout 40m)")

// TestChunkCrashLoop SIGKILLs the worker holding a chunk on each of its
// jobs.ChunkMaxRetry+1 deliveries, then leaves a healthy worker alone: the
// batch must still end, every row with an outcome (ok, or task_failed as
// the README documents for repeated crashes), none created twice.
//
// asynq's recoverer archives a task whose lease expired on its last retry
// without calling the server's ErrorHandler, so unless bulksync records
// the outcomes of such a chunk's rows some other way, they stay
// unprocessed and the batch "running" for good. It takes about 17 minutes
// (each SIGKILLed delivery waits out a 30 s lease and the recoverer's 30 s
// margin), so it runs only with -chaos.crash-loop.
func TestChunkCrashLoop(t *testing.T) {
	if !*crashLoop {
		t.Skip("about 17 minutes: run with -chaos.crash-loop -timeout 40m")
	}
	c := newCluster(t)
	c.startRedis()
	c.startSandbox("--latency", "300ms")
	c.workerArgs = []string{"--concurrency", "1", "--shutdown-timeout", "2s"}
	// One chunk of 99 rows (and a bad one); a row is a create of 300+ ms,
	// so a delivery cut after a few seconds leaves most of the chunk to do.
	ro := writeRoster(t, filepath.Join(c.dir, "roster.csv"), 100, 3)
	id := c.importDetached(ro.path, "--chunk-size", "100")
	ctx := t.Context()
	doneRows := func() int {
		n, err := c.rdb.HGet(ctx, "bulksync:batch:"+id, "done").Int()
		require.NoError(t, err)
		return n
	}

	deadline := time.Now().Add(30 * time.Minute)
	kills, last := 0, doneRows()
	for kills <= jobs.ChunkMaxRetry {
		require.True(t, time.Now().Before(deadline), "only %d deliveries in 30 minutes: %s", kills, c.queueState())
		w := c.startWorker()
		// A worker lives at most 12 s: long enough for asynq's forwarder
		// (every 5 s) to queue a due retry; its start runs the recoverer.
		started, progressed := time.Now(), false
		for time.Since(started) < 12*time.Second {
			if n := doneRows(); n > last {
				last, progressed = n, true
				time.Sleep(time.Second) // mid-flight
				break
			}
			require.False(t, w.exited(), "%s exited:\n%s", w.name, w.tail(20))
			time.Sleep(200 * time.Millisecond)
		}
		require.NoError(t, w.signal(syscall.SIGKILL))
		require.True(t, w.wait(10*time.Second))
		if progressed {
			kills++
			last = doneRows()
			t.Logf("delivery %d of the chunk SIGKILLed at %d/%d rows", kills, last, ro.rows)
		}
		require.Less(t, last, ro.rows, "the chunk finished before its retries ran out; make it longer")
	}

	c.startWorker() // a healthy worker, left alone
	sum, done := c.waitDone(id, 4*time.Minute, time.Second)
	require.True(t, done, "the batch never ended after its chunk was SIGKILLed on each of its %d deliveries: %d rows have no outcome\nqueue: %s",
		kills, sum.Unprocessed, c.queueState())

	st := c.mustStats()
	_, sum, outs := c.finalReport(id)
	require.Zero(t, sum.Unprocessed)
	created := 0
	for _, o := range outs {
		if o.Status == jobs.StatusOK {
			created++
		}
		if _, bad := ro.bad[o.Line]; !bad && o.Status != jobs.StatusOK {
			require.Equal(t, "task_failed", o.ErrorCode, "line %d", o.Line)
		}
	}
	require.LessOrEqual(t, int(st.Creates), len(ro.good), "no license is created twice")
	require.Equal(t, int(st.Creates), st.History)
	require.GreaterOrEqual(t, int(st.Creates), created, "every ok row was created")
}
