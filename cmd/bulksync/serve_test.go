package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// serveDB is the Redis database of the serve, cancel and batches tests
// (the service package's, whose tests use other key prefixes).
const serveDB = 15

func TestServeRefusesWithoutToken(t *testing.T) {
	t.Parallel()
	c := &cli{env: map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/15"}}
	require.Equal(t, exitUsage, c.run(t, "serve", "--addr", "127.0.0.1:0"))
	require.Contains(t, c.stderr.String(), "BULKSYNC_SERVE_TOKEN is not set")
	require.Equal(t, exitUsage, c.run(t, "serve", "--max-upload", "lots"))
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want int64
		back string
	}{
		{"1GiB", 1 << 30, "1GiB"},
		{"512MiB", 512 << 20, "512MiB"},
		{"1536KiB", 1536 << 10, "1536KiB"},
		{"10MB", 10_000_000, "10000000"},
		{"4096", 4096, "4KiB"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var b byteSize
			require.NoError(t, b.Set(tt.in))
			require.EqualValues(t, tt.want, b)
			require.Equal(t, tt.back, b.String())
		})
	}
	var b byteSize
	require.Error(t, b.Set("-1"))
	require.Error(t, b.Set("1TB"))
}

func TestCancelAndBatches(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: serveDB})
	t.Cleanup(func() { _ = rdb.Close() })
	store := jobs.NewStore(rdb, jobs.StoreConfig{})
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	running, done := "cli-run-"+hex.EncodeToString(b), "cli-done-"+hex.EncodeToString(b)
	for _, id := range []string{done, running} {
		_, err := store.Create(ctx, jobs.Meta{ID: id, Kind: "issuers", Source: "x.csv", Total: 1, Created: time.Now()})
		require.NoError(t, err)
		require.NoError(t, store.AddChunks(ctx, id, jobs.ChunkPayload{Rows: []jobs.ChunkRow{{Row: 1, Line: 2}}}))
		require.NoError(t, store.Start(ctx, id, 1))
		t.Cleanup(func() {
			rdb.Del(ctx, "bulksync:batch:"+id, "bulksync:batch:"+id+":rows", "bulksync:batch:"+id+":outcomes")
			rdb.ZRem(ctx, "bulksync:batches", id)
		})
	}
	_, err := store.Record(ctx, done, jobs.Outcome{Row: 1, Line: 2, Status: jobs.StatusOK, Action: jobs.ActionCreated})
	require.NoError(t, err)

	c := &cli{env: map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/15"}}
	for _, tt := range []struct {
		name     string
		args     []string
		want     int
		wantText string // a regular expression
	}{
		{name: "CancelRunning", args: []string{"cancel", running}, want: exitOK, wantText: `cancelled \(was running\): 0/1 rows done`},
		{name: "CancelAgain", args: []string{"cancel", running}, want: exitOK, wantText: "already cancelled"},
		{name: "CancelDone", args: []string{"cancel", done}, want: exitFailed, wantText: "is done: there is nothing to cancel"},
		{name: "CancelUnknown", args: []string{"cancel", "no-such-batch"}, want: exitUsage},
		{name: "Batches", args: []string{"batches", "--limit", "50"}, want: exitOK, wantText: running + `\s+issuers\s+cancelled\s+1\s+0\s+0\s+1\s+\d+s\s+x.csv`},
	} {
		// In order: each step sees the previous one's effect.
		require.Equal(t, tt.want, c.run(t, tt.args...), "%s: %s", tt.name, c.stderr.String())
		require.Regexp(t, tt.wantText, c.stdout.String(), tt.name)
	}
}
