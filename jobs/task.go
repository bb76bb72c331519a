package jobs

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/bulksync/bulksync/internal/jsonx"
	"github.com/hibiken/asynq"
	"github.com/klauspost/compress/s2"
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
	TransactionID string          `json:"transaction_id,omitempty"` // the row's own; DecodeChunk derives the others
	Data          json.RawMessage `json:"data"`                     // a compact JSON object
}

// ChunkPayload is the payload of a chunk task.
type ChunkPayload struct {
	BatchID string `json:"batch_id"`
	Kind    string `json:"kind"`
	Chunk   int    `json:"chunk"`
	DryRun  bool   `json:"dry_run,omitempty"`
	// Single, for a kind whose API has a bulk call, sends each row through
	// the single create-or-update call instead: the batches of bulksync
	// serve, which stands behind that bulk call and must not loop back.
	Single bool `json:"single,omitempty"`
	// Extra holds request fields sent with every row's write, as a compact
	// JSON object (a bulk suggestion request's platform_org and
	// department_mode); nil when there are none.
	Extra json.RawMessage `json:"extra,omitempty"`
	Rows  []ChunkRow      `json:"rows"`
}

// A chunk task's payload is an envelope for people and a compressed body
// for workers: a JSON object that says whose chunk it is (batch, kind,
// chunk, row count, file lines), so that asynqmon's payload preview reads
// well, and the chunk's whole JSON compressed with S2 in its "s2" field
// (base64). Payloads queued by earlier versions are read too: s2Prefix
// followed by the S2 bytes, or the chunk's plain JSON.
const s2Prefix = "\x00s2"

// chunkEnvelope is the part of a payload DecodeChunk reads: the
// compressed chunk. The other fields repeat what the chunk holds.
type chunkEnvelope struct {
	S2 []byte `json:"s2"`
}

// NewChunkTask builds the task of one chunk. Its TaskID is "batch:chunk",
// so the same chunk is never queued twice while its task exists, and its
// type is TaskType(kind). Rows' Data are written as they are: they must
// be compact JSON objects, as importers emits them.
//
// The payload is an envelope, such as
//
//	{"batch_id":"38f0a878730f838e43d4","kind":"program-licenses","chunk":3,"row_count":100,"lines":"302-401","s2":"..."}
//
// whose s2 field is the chunk's JSON compressed with S2 (several times
// smaller for roster rows): Redis spends its time on payload bytes, so
// compressing makes enqueueing several times cheaper, and a file's queued
// chunks take that much less of Redis's memory.
func NewChunkTask(p ChunkPayload, queue string) *asynq.Task {
	var e ChunkEncoder
	return e.NewTask(p, queue)
}

// ChunkEncoder builds chunk tasks like [NewChunkTask], reusing its buffers
// from one chunk to the next. It is not safe for concurrent use.
type ChunkEncoder struct {
	js, z []byte
}

// NewTask builds the task of one chunk, as [NewChunkTask] does.
func (e *ChunkEncoder) NewTask(p ChunkPayload, queue string) *asynq.Task {
	e.js = p.appendJSON(e.js[:0])
	if n := s2.MaxEncodedLen(len(e.js)); cap(e.z) < n {
		e.z = make([]byte, n)
	}
	z := s2.Encode(e.z[:cap(e.z)], e.js)
	return asynq.NewTask(TaskType(p.Kind), p.appendEnvelope(z),
		asynq.TaskID(TaskID(p.BatchID, p.Chunk)),
		asynq.Queue(queue),
		asynq.MaxRetry(ChunkMaxRetry),
		asynq.Timeout(ChunkTimeout),
	)
}

// appendEnvelope returns the payload of the chunk whose compressed JSON is
// z, in a buffer of its own (the task keeps it).
func (p ChunkPayload) appendEnvelope(z []byte) []byte {
	b := make([]byte, 0, 128+len(p.BatchID)+len(p.Kind)+base64.StdEncoding.EncodedLen(len(z)))
	b = append(b, `{"batch_id":`...)
	b = jsonx.AppendString(b, p.BatchID)
	b = append(b, `,"kind":`...)
	b = jsonx.AppendString(b, p.Kind)
	b = append(b, `,"chunk":`...)
	b = strconv.AppendInt(b, int64(p.Chunk), 10)
	b = append(b, `,"row_count":`...)
	b = strconv.AppendInt(b, int64(len(p.Rows)), 10)
	if len(p.Rows) > 0 {
		b = append(b, `,"lines":"`...)
		b = strconv.AppendInt(b, int64(p.Rows[0].Line), 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(p.Rows[len(p.Rows)-1].Line), 10)
		b = append(b, '"')
	}
	if p.DryRun {
		b = append(b, `,"dry_run":true`...)
	}
	b = append(b, `,"s2":"`...)
	b = base64.StdEncoding.AppendEncode(b, z)
	return append(b, `"}`...)
}

// appendJSON appends the payload as json.Marshal writes it. It is written
// by hand: encoding/json would scan every row's Data again, and the import
// path encodes every row of a file.
func (p ChunkPayload) appendJSON(b []byte) []byte {
	size := 96 + len(p.BatchID) + len(p.Kind) + len(p.Extra)
	for _, r := range p.Rows {
		size += 64 + len(r.Key) + len(r.TransactionID) + len(r.Data)
	}
	b = slices.Grow(b, size)
	b = append(b, `{"batch_id":`...)
	b = jsonx.AppendString(b, p.BatchID)
	b = append(b, `,"kind":`...)
	b = jsonx.AppendString(b, p.Kind)
	b = append(b, `,"chunk":`...)
	b = strconv.AppendInt(b, int64(p.Chunk), 10)
	if p.DryRun {
		b = append(b, `,"dry_run":true`...)
	}
	if p.Single {
		b = append(b, `,"single":true`...)
	}
	if len(p.Extra) > 0 {
		b = append(b, `,"extra":`...)
		b = append(b, p.Extra...)
	}
	b = append(b, `,"rows":`...)
	if p.Rows == nil {
		return append(b, "null}"...)
	}
	b = append(b, '[')
	for i, r := range p.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"row":`...)
		b = strconv.AppendInt(b, int64(r.Row), 10)
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(r.Line), 10)
		if r.Key != "" {
			b = append(b, `,"key":`...)
			b = jsonx.AppendString(b, r.Key)
		}
		if r.TransactionID != "" {
			b = append(b, `,"transaction_id":`...)
			b = jsonx.AppendString(b, r.TransactionID)
		}
		b = append(b, `,"data":`...)
		if r.Data == nil {
			b = append(b, "null"...)
		}
		b = append(b, r.Data...)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// DecodeChunk reads a chunk task's payload. Rows without a transaction_id
// of their own get the one TransactionID derives.
func DecodeChunk(t *asynq.Task) (ChunkPayload, error) {
	var p ChunkPayload
	js := t.Payload()
	z, ok := bytes.CutPrefix(js, []byte(s2Prefix))
	if !ok {
		var env chunkEnvelope
		if err := json.Unmarshal(js, &env); err != nil {
			return p, fmt.Errorf("decode chunk payload: %w", err)
		}
		z, ok = env.S2, env.S2 != nil
	}
	if ok {
		var err error
		if js, err = s2.Decode(nil, z); err != nil {
			return p, fmt.Errorf("decompress chunk payload: %w", err)
		}
	}
	if err := json.Unmarshal(js, &p); err != nil {
		return p, fmt.Errorf("decode chunk payload: %w", err)
	}
	for i := range p.Rows {
		r := &p.Rows[i]
		if r.TransactionID == "" {
			r.TransactionID = TransactionID(p.BatchID, r.Key, r.Data)
		}
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
