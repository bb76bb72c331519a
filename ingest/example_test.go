package ingest_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/jobs"
)

// ExampleImport imports a user-licenses file into an in-process Redis:
// the bad row gets its outcome at once, the valid rows are enqueued in
// chunks for the workers, and importing the same file again finds the
// batch instead of enqueueing its rows twice.
func ExampleImport() {
	ctx := context.Background()
	mr, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	q := asynq.NewClient(asynq.RedisClientOpt{Addr: mr.Addr()})
	defer q.Close()
	store := jobs.NewStore(rdb, jobs.StoreConfig{})

	const file = `platform_key,external_id,name,count
acme,acme-eng,Engineering,40
acme,acme-ops,Operations,many
acme,acme-fin,Finance,12
globex,globex-all,Everyone,300
globex,globex-new,New hires,25
`
	open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(file)), nil }
	opts := ingest.Options{ChunkSize: 2, Queue: "example", Source: "user-licenses.csv"}
	res, err := ingest.Import(ctx, open, store, q, opts)
	if err != nil {
		log.Fatal(err) // an *importers.FileError when the file cannot be read
	}
	m := res.Meta
	fmt.Printf("batch: %s, %s, %d rows, %d invalid, %d chunks\n", m.Kind, m.State, m.Total, m.Failed, m.Chunks)

	err = store.Ledger(ctx, m.ID, func(o jobs.Outcome) error {
		if o.Status == jobs.StatusFailed {
			fmt.Printf("invalid: line %d %s: %s\n", o.Line, o.ExternalID, o.ErrorCode)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	ins := asynq.NewInspector(asynq.RedisClientOpt{Addr: mr.Addr()})
	defer ins.Close()
	tasks, err := ins.ListPendingTasks("example")
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range tasks {
		chunk, err := jobs.DecodeChunk(asynq.NewTask(t.Type, t.Payload))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("chunk %d (%s):", chunk.Chunk, t.Type)
		for _, r := range chunk.Rows {
			fmt.Printf(" line %d %s %s", r.Line, r.Key, r.Data)
		}
		fmt.Println()
	}

	again, err := ingest.Import(ctx, open, store, q, opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("again: existing %t, same batch %t\n", again.Existing, again.Meta.ID == m.ID)
	// Output:
	// batch: user-licenses, running, 5 rows, 1 invalid, 2 chunks
	// invalid: line 3 acme-ops: invalid_integer:count
	// chunk 0 (chunk:user-licenses): line 2 acme-eng {"platform_key":"acme","name":"Engineering","count":40,"external_id":"acme-eng"} line 4 acme-fin {"platform_key":"acme","name":"Finance","count":12,"external_id":"acme-fin"}
	// chunk 1 (chunk:user-licenses): line 5 globex-all {"platform_key":"globex","name":"Everyone","count":300,"external_id":"globex-all"} line 6 globex-new {"platform_key":"globex","name":"New hires","count":25,"external_id":"globex-new"}
	// again: existing true, same batch true
}
