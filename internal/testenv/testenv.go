// Package testenv builds what bulksync's integration tests run on: the real
// Redis at 127.0.0.1:6379 (or $BULKSYNC_TEST_REDIS), isolated per test by a
// key prefix and an asynq queue of its own, and the sandbox API served over
// loopback HTTP.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Token is the API token of test sandboxes.
const Token = "test-token-0123456789abcdef"

// Env is one test's Redis namespace and sandbox.
type Env struct {
	RedisURL string // redis://host:port/db
	RedisOpt asynq.RedisClientOpt
	Redis    *redis.Client
	Prefix   string // key prefix of the test's store
	Queue    string // the test's asynq queue
	Store    *jobs.Store
	Sandbox  *sandbox.Server
	APIURL   string
	API      *dmapi.Client
}

// New returns an environment on Redis database db with a sandbox
// configured by sb (its Token is set to Token). It skips the test when
// Redis is not reachable and cleans every key it made up at the end.
func New(t testing.TB, db int, sb sandbox.Config) *Env {
	t.Helper()
	addr := os.Getenv("BULKSYNC_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v (start it: redis-server --daemonize yes --port 6379)", addr, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	e := &Env{
		RedisURL: "redis://" + addr + "/" + strconv.Itoa(db),
		RedisOpt: asynq.RedisClientOpt{Addr: addr, DB: db},
		Redis:    rdb,
		Prefix:   "bulksync-test-" + id + ":",
		Queue:    "test-" + id,
	}
	e.Store = jobs.NewStore(rdb, jobs.StoreConfig{Prefix: e.Prefix})
	sb.Token = Token
	e.Sandbox = sandbox.New(sb)
	srv := httptest.NewServer(e.Sandbox)
	e.APIURL = srv.URL
	api, err := dmapi.New(dmapi.Config{BaseURL: srv.URL, Token: Token})
	if err != nil {
		t.Fatal(err)
	}
	e.API = api
	t.Cleanup(func() {
		srv.Close()
		ctx := context.Background()
		for _, pattern := range []string{e.Prefix + "*", "asynq:{" + e.Queue + "}*"} {
			iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
		}
		rdb.SRem(ctx, "asynq:queues", e.Queue)
		_ = rdb.Close()
	})
	return e
}
