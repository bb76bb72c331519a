package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bulksync/bulksync/internal/jsonx"
	"github.com/redis/go-redis/v9"
)

// Batch states.
const (
	StateLoading = "loading" // rows are being enqueued
	StateRunning = "running" // every chunk is queued; workers are at it
	StateDone    = "done"    // every row has an outcome
	StateHalted  = "halted"  // stopped by a fatal API error (401/403); see HaltReason
	// StateCancelled: stopped on request (Cancel); rows without an outcome
	// stay unprocessed.
	StateCancelled = "cancelled"
)

// DefaultRetention is how long a batch's data is kept in Redis.
const DefaultRetention = 7 * 24 * time.Hour

// ErrBatchNotFound is returned for an unknown (or expired) batch id.
var ErrBatchNotFound = errors.New("batch not found")

// Meta is a batch's metadata and progress.
type Meta struct {
	ID         string    `json:"batch_id"`
	Kind       string    `json:"kind"`
	Format     string    `json:"format"`
	Source     string    `json:"source"`
	SHA256     string    `json:"sha256"`
	Options    string    `json:"options"`
	DryRun     bool      `json:"dry_run"`
	Created    time.Time `json:"created"`
	State      string    `json:"state"`
	HaltReason string    `json:"halt_reason,omitempty"`
	Waiting    string    `json:"waiting,omitempty"` // why no row is going through (an API outage); empty when rows are
	Total      int       `json:"total"`             // rows in the file
	Chunks     int       `json:"chunks"`            // chunk tasks
	Done       int       `json:"done"`              // rows with an outcome
	Successes  int       `json:"successes"`
	Failed     int       `json:"failed"`
}

// Finished reports whether the batch will make no more progress.
func (m Meta) Finished() bool {
	return m.State == StateDone || m.State == StateHalted || m.State == StateCancelled
}

// StoreConfig configures a [Store].
type StoreConfig struct {
	// Prefix starts every key. Defaults to "bulksync:".
	Prefix string
	// Retention is how long batch data is kept. Defaults to DefaultRetention.
	Retention time.Duration
}

// Store keeps batches in Redis. It is safe for concurrent use.
type Store struct {
	rdb       redis.UniversalClient
	prefix    string
	retention time.Duration
}

// NewStore returns a store on rdb.
func NewStore(rdb redis.UniversalClient, cfg StoreConfig) *Store {
	return &Store{
		rdb:       rdb,
		prefix:    cmp.Or(cfg.Prefix, "bulksync:"),
		retention: cmp.Or(cfg.Retention, DefaultRetention),
	}
}

func (s *Store) metaKey(id string) string     { return s.prefix + "batch:" + id }
func (s *Store) rowsKey(id string) string     { return s.prefix + "batch:" + id + ":rows" }
func (s *Store) outcomesKey(id string) string { return s.prefix + "batch:" + id + ":outcomes" }
func (s *Store) startedKey(id string) string  { return s.prefix + "batch:" + id + ":started" }
func (s *Store) indexKey() string             { return s.prefix + "batches" }

// createScript writes a batch's metadata unless the batch exists.
// KEYS: meta, index. ARGV: retention seconds, created unix time, batch id,
// then field, value pairs.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
`)

// Create records a new batch in state loading. It returns false, and
// changes nothing, when a batch with that id exists.
func (s *Store) Create(ctx context.Context, m Meta) (bool, error) {
	args := []any{
		int(s.retention.Seconds()), m.Created.Unix(), m.ID,
		"batch_id", m.ID, "kind", m.Kind, "format", m.Format, "source", m.Source, "sha256", m.SHA256,
		"options", m.Options, "dry_run", m.DryRun, "created", m.Created.UTC().Format(time.RFC3339Nano),
		"state", StateLoading, "total", m.Total, "chunks", m.Chunks,
		"done", 0, "successes", 0, "failed", 0,
	}
	n, err := createScript.Run(ctx, s.rdb, []string{s.metaKey(m.ID), s.indexKey()}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("create batch %s: %w", m.ID, err)
	}
	return n == 1, nil
}

// Get returns a batch's metadata.
func (s *Store) Get(ctx context.Context, id string) (Meta, error) {
	h, err := s.rdb.HGetAll(ctx, s.metaKey(id)).Result()
	if err != nil {
		return Meta{}, fmt.Errorf("get batch %s: %w", id, err)
	}
	if len(h) == 0 {
		return Meta{}, fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	num := func(k string) int { n, _ := strconv.Atoi(h[k]); return n }
	created, _ := time.Parse(time.RFC3339Nano, h["created"])
	return Meta{
		ID: id, Kind: h["kind"], Format: h["format"], Source: h["source"], SHA256: h["sha256"],
		Options: h["options"], DryRun: h["dry_run"] == "1", Created: created, State: h["state"],
		HaltReason: h["halt_reason"], Waiting: h["waiting"], Total: num("total"), Chunks: num("chunks"),
		Done: num("done"), Successes: num("successes"), Failed: num("failed"),
	}, nil
}

// AddChunks writes chunks to the ledger as enqueued, in one round trip
// (HSET and EXPIRE): one entry per chunk, with each row's index, line, key
// and own transaction id. The ledger tells what a row without an outcome
// was.
func (s *Store) AddChunks(ctx context.Context, id string, chunks ...ChunkPayload) error {
	if len(chunks) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(chunks))
	for _, c := range chunks {
		args = append(args, c.Chunk, appendLedgerEntry(nil, c.Rows))
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.rowsKey(id), args...)
		p.Expire(ctx, s.rowsKey(id), s.retention)
		return nil
	})
	if err != nil {
		return fmt.Errorf("add chunks to batch %s: %w", id, err)
	}
	return nil
}

// ledgerRow is a row in a chunk's ledger entry.
type ledgerRow struct {
	Row  int    `json:"r"`
	Line int    `json:"l"`
	Key  string `json:"k,omitempty"`
	TX   string `json:"t,omitempty"`
}

// appendLedgerEntry appends the JSON of a chunk's ledger entry, an array
// of ledgerRow, by hand (it is written for every row of a file).
func appendLedgerEntry(b []byte, rows []ChunkRow) []byte {
	b = append(b, '[')
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"r":`...)
		b = strconv.AppendInt(b, int64(r.Row), 10)
		b = append(b, `,"l":`...)
		b = strconv.AppendInt(b, int64(r.Line), 10)
		if r.Key != "" {
			b = append(b, `,"k":`...)
			b = jsonx.AppendString(b, r.Key)
		}
		if r.TransactionID != "" {
			b = append(b, `,"t":`...)
			b = jsonx.AppendString(b, r.TransactionID)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// recordScript stores outcomes that have none yet and counts them; when
// every row has one, the batch is done. Outcomes of an unknown (expired)
// batch are dropped. KEYS: meta, outcomes. ARGV:
// retention seconds, then line, status, outcome JSON triples. It returns
// how many outcomes were new.
var recordScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local added, ok, failed = 0, 0, 0
for i = 2, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i+2]) == 1 then
    added = added + 1
    if ARGV[i+1] == 'ok' then ok = ok + 1 else failed = failed + 1 end
  end
end
if added > 0 then
  redis.call('HDEL', KEYS[1], 'waiting')
  local done = redis.call('HINCRBY', KEYS[1], 'done', added)
  redis.call('HINCRBY', KEYS[1], 'successes', ok)
  redis.call('HINCRBY', KEYS[1], 'failed', failed)
  redis.call('EXPIRE', KEYS[2], ARGV[1])
  local st = redis.call('HMGET', KEYS[1], 'state', 'total')
  if st[1] == 'running' and done >= tonumber(st[2]) then
    redis.call('HSET', KEYS[1], 'state', 'done')
  end
end
return added
`)

// Record stores the outcomes of rows that have none yet, in one round
// trip, and returns how many were new. An outcome once recorded is final.
func (s *Store) Record(ctx context.Context, id string, outs ...Outcome) (int, error) {
	if len(outs) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 1+3*len(outs))
	args = append(args, int(s.retention.Seconds()))
	for _, o := range outs {
		b, err := json.Marshal(o)
		if err != nil {
			return 0, fmt.Errorf("encode outcome of row %d: %w", o.Row, err)
		}
		args = append(args, o.Row, o.Status, b)
	}
	n, err := recordScript.Run(ctx, s.rdb, []string{s.metaKey(id), s.outcomesKey(id)}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("record outcomes of batch %s: %w", id, err)
	}
	return n, nil
}

// startScript moves a loading batch to running, or straight to done when
// every row already has an outcome (a file of invalid rows only). KEYS:
// meta. ARGV: chunks.
var startScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'state') ~= 'loading' then return 0 end
redis.call('HSET', KEYS[1], 'chunks', ARGV[1])
local st = redis.call('HMGET', KEYS[1], 'done', 'total')
if tonumber(st[1]) >= tonumber(st[2]) then
  redis.call('HSET', KEYS[1], 'state', 'done')
else
  redis.call('HSET', KEYS[1], 'state', 'running')
end
return 1
`)

// Start marks a batch's chunks as all enqueued and their number known.
func (s *Store) Start(ctx context.Context, id string, chunks int) error {
	err := startScript.Run(ctx, s.rdb, []string{s.metaKey(id)}, chunks).Err()
	if err != nil {
		return fmt.Errorf("start batch %s: %w", id, err)
	}
	return nil
}

// Resume puts a halted batch back to running, so that a re-import after a
// fixed token retries the rows that have no outcome.
func (s *Store) Resume(ctx context.Context, id string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.metaKey(id), "state", StateLoading)
		p.HDel(ctx, s.metaKey(id), "halt_reason")
		return nil
	})
	if err != nil {
		return fmt.Errorf("resume batch %s: %w", id, err)
	}
	return nil
}

// Halt stops a batch: workers skip its remaining chunks.
func (s *Store) Halt(ctx context.Context, id, reason string) error {
	if err := s.rdb.HSet(ctx, s.metaKey(id), "state", StateHalted, "halt_reason", reason).Err(); err != nil {
		return fmt.Errorf("halt batch %s: %w", id, err)
	}
	return nil
}

// startedScript returns when a chunk was first delivered, recording now
// when it never was, and 1 when this is that first delivery. KEYS:
// started. ARGV: chunk, now (Unix ms), retention seconds.
var startedScript = redis.NewScript(`
local first = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {redis.call('HGET', KEYS[1], ARGV[1]), first}
`)

// ChunkStarted returns when a chunk of a batch was first delivered (now,
// on its first delivery; its rows' retry budget runs from then), and
// whether this is its first delivery.
func (s *Store) ChunkStarted(ctx context.Context, id string, chunk int) (time.Time, bool, error) {
	res, err := startedScript.Run(ctx, s.rdb, []string{s.startedKey(id)}, chunk, time.Now().UnixMilli(), int(s.retention.Seconds())).Slice()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("start chunk %d of batch %s: %w", chunk, id, err)
	}
	var ms int64
	if len(res) == 2 {
		if v, ok := res[0].(string); ok {
			ms, _ = strconv.ParseInt(v, 10, 64)
		}
		first, _ := res[1].(int64)
		return time.UnixMilli(ms), first == 1, nil
	}
	return time.Time{}, false, fmt.Errorf("start chunk %d of batch %s: unexpected answer %v", chunk, id, res)
}

// Client returns the store's Redis client, and Prefix its key prefix, for
// the other records bulksync keeps beside its batches.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Prefix returns the prefix of the store's keys.
func (s *Store) Prefix() string { return s.prefix }

// SetWaiting says why the batch's rows are not going through (the API
// is unavailable). The next recorded outcome clears it.
func (s *Store) SetWaiting(ctx context.Context, id, reason string) error {
	if err := s.rdb.HSet(ctx, s.metaKey(id), "waiting", reason).Err(); err != nil {
		return fmt.Errorf("set batch %s waiting: %w", id, err)
	}
	return nil
}

// Done returns which of the given rows (by index) already have an outcome.
func (s *Store) Done(ctx context.Context, id string, rows []int) (map[int]bool, error) {
	fields := make([]string, len(rows))
	for i, r := range rows {
		fields[i] = strconv.Itoa(r)
	}
	vals, err := s.rdb.HMGet(ctx, s.outcomesKey(id), fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("read outcomes of batch %s: %w", id, err)
	}
	done := make(map[int]bool, len(rows))
	for i, v := range vals {
		if v != nil {
			done[rows[i]] = true
		}
	}
	return done, nil
}

// ledgerPage is how many rows Ledger reads per round trip, and
// ledgerChunkPage how many chunk entries.
const (
	ledgerPage      = 1000
	ledgerChunkPage = 20
)

// Ledger calls fn with every row of the batch in file order: its outcome,
// or, for a row that has none, the row as enqueued with status
// unprocessed. While a batch is loading (or its import was cut short),
// rows not enqueued yet come as unprocessed with only their index.
func (s *Store) Ledger(ctx context.Context, id string, fn func(Outcome) error) error {
	m, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	// A batch cancelled while loading may lack the entries of rows never
	// enqueued, as a loading one does.
	entries := ledgerEntries{s: s, id: id, loading: m.State == StateLoading || m.State == StateCancelled}
	fields := make([]string, 0, ledgerPage)
	for from := 1; from <= m.Total; from += ledgerPage {
		fields = fields[:0]
		for r := from; r < from+ledgerPage && r <= m.Total; r++ {
			fields = append(fields, strconv.Itoa(r))
		}
		outs, err := s.rdb.HMGet(ctx, s.outcomesKey(id), fields...).Result()
		if err != nil {
			return fmt.Errorf("read outcomes of batch %s: %w", id, err)
		}
		for i, raw := range outs {
			row := from + i
			var o Outcome
			if raw == nil {
				e, err := entries.find(ctx, row)
				if err != nil {
					return err
				}
				o = Outcome{Row: row, Line: e.Line, ExternalID: e.Key, TransactionID: e.TX, Status: StatusUnprocessed, Action: ActionSkipped}
				switch {
				case m.State == StateCancelled:
					o.Message = "not attempted: the batch was cancelled"
				case e.Row == 0:
					o.Message = "not enqueued: the import was cut short (import the file again to resume)"
				}
			} else if err := json.Unmarshal([]byte(raw.(string)), &o); err != nil {
				return fmt.Errorf("decode outcome of row %d of batch %s: %w", row, id, err)
			}
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// ledgerEntries reads a batch's chunk entries in order, as far as the
// rows asked for need: only rows without an outcome need them.
type ledgerEntries struct {
	s       *Store
	id      string
	next    int         // the next chunk to read
	rows    []ledgerRow // read and not yet passed, in row order
	ended   bool        // no chunk entry is left
	loading bool        // the batch is loading: rows may not be enqueued yet
}

// find returns the entry of row; the zero entry for a row of a loading
// batch that is not enqueued yet. Rows must be asked for in increasing
// order.
func (l *ledgerEntries) find(ctx context.Context, row int) (ledgerRow, error) {
	for {
		for len(l.rows) > 0 && l.rows[0].Row < row {
			l.rows = l.rows[1:]
		}
		if len(l.rows) > 0 && l.rows[0].Row == row {
			return l.rows[0], nil
		}
		if (len(l.rows) > 0 || l.ended) && l.loading {
			return ledgerRow{}, nil
		}
		if len(l.rows) > 0 || l.ended {
			return ledgerRow{}, fmt.Errorf("batch %s has no outcome nor ledger entry for row %d (its data expired?)", l.id, row)
		}
		if err := l.read(ctx); err != nil {
			return ledgerRow{}, err
		}
	}
}

// read reads the next page of chunk entries.
func (l *ledgerEntries) read(ctx context.Context) error {
	fields := make([]string, ledgerChunkPage)
	for i := range fields {
		fields[i] = strconv.Itoa(l.next + i)
	}
	vals, err := l.s.rdb.HMGet(ctx, l.s.rowsKey(l.id), fields...).Result()
	if err != nil {
		return fmt.Errorf("read ledger of batch %s: %w", l.id, err)
	}
	for i, v := range vals {
		if v == nil {
			l.ended = true
			break
		}
		var rows []ledgerRow
		if err := json.Unmarshal([]byte(v.(string)), &rows); err != nil {
			return fmt.Errorf("decode ledger entry of chunk %d of batch %s: %w", l.next+i, l.id, err)
		}
		l.rows = append(l.rows, rows...)
	}
	l.next += ledgerChunkPage
	return nil
}
