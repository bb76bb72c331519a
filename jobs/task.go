package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// TypePrefix starts the type of every chunk task; the full type is
// TypePrefix + kind, e.g. "chunk:program-licenses". Task types are stable:
// queued tasks must survive deploys.
const TypePrefix = "chunk:"

// Chunk task settings.
const (
	// ChunkMaxRetry bounds task-level retries. Rows retry transient API
	// faults inside a delivery; a task is retried only when its delivery
	// is cut short (a crash, a shutdown, Redis trouble).
	ChunkMaxRetry = 10
	// ChunkTimeout bounds one delivery of a chunk.
	ChunkTimeout = 30 * time.Minute
)

// TaskType returns the task type of a kind's chunks.
func TaskType(kind string) string { return TypePrefix + kind }

// ChunkRow is one valid row in a chunk.
type ChunkRow struct {
	Row           int             `json:"row"` // index in the file, from 1
	Line          int             `json:"line"`
	Key           string          `json:"key,omitempty"`
	TransactionID string          `json:"transaction_id"`
	Data          json.RawMessage `json:"data"`
}

// ChunkPayload is the payload of a chunk task.
type ChunkPayload struct {
	BatchID string     `json:"batch_id"`
	Kind    string     `json:"kind"`
	Chunk   int        `json:"chunk"`
	DryRun  bool       `json:"dry_run,omitempty"`
	Rows    []ChunkRow `json:"rows"`
}

// NewChunkTask builds the task of one chunk. Its TaskID is "batch:chunk",
// so the same chunk is never queued twice while its task exists.
func NewChunkTask(p ChunkPayload, queue string) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode chunk %d of batch %s: %w", p.Chunk, p.BatchID, err)
	}
	return asynq.NewTask(TaskType(p.Kind), b,
		asynq.TaskID(TaskID(p.BatchID, p.Chunk)),
		asynq.Queue(queue),
		asynq.MaxRetry(ChunkMaxRetry),
		asynq.Timeout(ChunkTimeout),
	), nil
}

// DecodeChunk reads a chunk task's payload.
func DecodeChunk(t *asynq.Task) (ChunkPayload, error) {
	var p ChunkPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("decode chunk payload: %w", err)
	}
	return p, nil
}

// TaskID is the asynq TaskID of a batch's chunk.
func TaskID(batchID string, chunk int) string {
	return batchID + ":" + strconv.Itoa(chunk)
}

// BatchID derives a batch id from the SHA-256 of the file's content, its
// kind and the options that change what the batch does. The same file with
// the same options always gets the same id; a nonce (for --new-batch) makes
// a fresh one.
func BatchID(contentSHA256 []byte, kind, options, nonce string) string {
	h := sha256.New()
	fmt.Fprintf(h, "bulksync/v1\x00%s\x00%s\x00%s\x00", kind, options, nonce)
	h.Write(contentSHA256)
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// TransactionID derives the transaction_id of a row that has none: the
// same batch, key and row content always give the same id.
func TransactionID(batchID, key string, data []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", batchID, key)
	h.Write(data)
	return "bulksync-" + hex.EncodeToString(h.Sum(nil))[:32]
}
