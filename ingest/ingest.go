// Package ingest runs the import side of a batch: it reads a file with
// importers, derives the batch id from the file's content, records the
// batch and its rows, and enqueues the rows in chunks with jobs. Invalid
// rows get their outcome at once; valid rows get theirs from the workers.
//
// The file is read twice, both times as a stream: a first pass reads the
// whole file's syntax (without converting rows) and hashes it, so that a
// file that is not readable to its end enqueues nothing and the batch id is
// known before the first chunk; the second pass validates and enqueues.
package ingest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/jobs"
	"github.com/hibiken/asynq"
	"golang.org/x/sync/errgroup"
)

// DefaultChunkSize is the most rows that travel in one task when
// Options.ChunkSize is 0.
const DefaultChunkSize = 100

// A chunk's rows are applied one after another, so the rows of a small
// file go out in parallel only when they are in several chunks. With
// Options.ChunkSize 0, a file is cut into at least spreadChunks chunks
// (the workers' default concurrency) of no fewer than minAutoChunk rows.
const (
	spreadChunks = 10
	minAutoChunk = 10
)

// autoChunkSize is the chunk size of a file of rows rows.
func autoChunkSize(rows int) int {
	return min(DefaultChunkSize, max(minAutoChunk, (rows+spreadChunks-1)/spreadChunks))
}

// MaxChunkSize bounds Options.ChunkSize (task payloads stay small).
const MaxChunkSize = 5000

// MemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit) for
// a process that runs imports alone, as bulksync import does against
// REDIS_URL. An import holds little (streaming buffers, chunks in flight)
// but its table of keys, about 17 bytes per distinct key; without a limit
// the garbage collector lets the heap grow to twice what is live. With it,
// a 3,000,000-row file peaks at 94 MB instead of 137 MB, at no measurable
// cost; the collector works harder only when the keys alone near it.
const MemoryLimit = 80 << 20

// Opener opens the input afresh for each pass.
type Opener func() (io.ReadCloser, error)

// Options configure an import.
type Options struct {
	Reader    importers.Options
	ChunkSize int    // rows per task; 0: DefaultChunkSize, fewer for a file under 1,000 rows (10 chunks)
	NewBatch  bool   // a fresh batch even when this file was imported before
	DryRun    bool   // look up only, write nothing
	Source    string // the file's name, kept in the batch metadata
	Queue     string // asynq queue; defaults to jobs.DefaultQueue (jobs.InteractiveQueue: worked first)
	// Single sends each row through the kind's single create-or-update
	// call even when its API has a bulk call (jobs.ChunkPayload.Single).
	Single bool
	// Extra are request fields sent with every row's write, as a compact
	// JSON object (jobs.ChunkPayload.Extra).
	Extra json.RawMessage
}

// Result tells what Import did.
type Result struct {
	Meta     jobs.Meta
	Existing bool // the batch existed; nothing new was enqueued unless it needed resuming
}

// ErrFileChanged is returned when the file differs between the two passes.
var ErrFileChanged = errors.New("the file changed while it was being read")

// Import validates the file, creates (or finds) its batch and enqueues its
// chunks. File-level problems come back as *importers.FileError before
// anything is enqueued.
func Import(ctx context.Context, open Opener, store *jobs.Store, q *asynq.Client, opts Options) (Result, error) {
	opts.Queue = cmp.Or(opts.Queue, jobs.DefaultQueue)
	if opts.ChunkSize < 0 || opts.ChunkSize > MaxChunkSize {
		return Result{}, fmt.Errorf("chunk size must be between 1 and %d (0: chosen from the file)", MaxChunkSize)
	}
	scan, err := check(ctx, open, opts.Reader)
	if err != nil {
		return Result{}, err
	}
	opts.ChunkSize = cmp.Or(opts.ChunkSize, autoChunkSize(scan.rows))
	// Read the second pass with the kind the first one settled, and the
	// table of keys sized for its rows.
	opts.Reader.Kind = scan.kind
	opts.Reader.ExpectedRows = scan.rows
	optionString := fmt.Sprintf("chunk_size=%d;ignore_unknown=%t;dry_run=%t", opts.ChunkSize, opts.Reader.IgnoreUnknown, opts.DryRun)
	for _, k := range slices.Sorted(maps.Keys(opts.Reader.Defaults)) {
		optionString += fmt.Sprintf(";default:%s=%s", k, opts.Reader.Defaults[k])
	}
	if opts.Single {
		optionString += ";single=true"
	}
	if len(opts.Extra) > 0 {
		optionString += ";extra=" + string(opts.Extra)
	}
	nonce := ""
	if opts.NewBatch {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		nonce = hex.EncodeToString(b)
	}
	meta := jobs.Meta{
		ID:      jobs.BatchID(scan.sum, string(scan.kind), optionString, nonce),
		Kind:    string(scan.kind),
		Format:  string(scan.format),
		Source:  opts.Source,
		SHA256:  hex.EncodeToString(scan.sum),
		Options: optionString,
		DryRun:  opts.DryRun,
		Created: time.Now(),
		Total:   scan.rows,
	}
	created, err := store.Create(ctx, meta)
	if err != nil {
		return Result{}, err
	}
	if !created {
		existing, err := store.Get(ctx, meta.ID)
		if err != nil {
			return Result{}, err
		}
		switch existing.State {
		case jobs.StateDone, jobs.StateRunning, jobs.StateCancelled:
			return Result{Meta: existing, Existing: true}, nil
		case jobs.StateHalted:
			if err := store.Resume(ctx, meta.ID); err != nil {
				return Result{}, err
			}
		}
		// A halted batch, or one whose import was cut short: enqueue again;
		// chunks and outcomes that exist are kept.
	}
	chunks, err := enqueue(ctx, open, store, q, meta, scan.sum, opts)
	if err != nil {
		return Result{}, err
	}
	if err := store.Start(ctx, meta.ID, chunks); err != nil {
		return Result{}, err
	}
	m, err := store.Get(ctx, meta.ID)
	return Result{Meta: m, Existing: !created}, err
}

// scan is what the first pass learns.
type scan struct {
	kind   importers.Kind
	format importers.Format
	sum    []byte
	rows   int
}

// check reads the whole file once: it settles kind and format, counts the
// rows and hashes the content. It reads the rows' syntax only: validating
// them is the second pass's work.
func check(ctx context.Context, open Opener, ropts importers.Options) (scan, error) {
	f, err := open()
	if err != nil {
		return scan{}, err
	}
	defer f.Close()
	h := newHashingReader(f)
	defer h.end()
	r, err := importers.NewReader(h, ropts)
	if err != nil {
		return scan{}, err
	}
	s := scan{kind: r.Schema().Kind, format: r.Format()}
	for {
		if s.rows%4096 == 0 && ctx.Err() != nil {
			return scan{}, ctx.Err()
		}
		err := r.Skip()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return scan{}, err
		}
		s.rows++
	}
	if _, err := io.Copy(io.Discard, h); err != nil {
		return scan{}, fmt.Errorf("read: %w", err)
	}
	s.sum = h.Sum()
	return s, nil
}

// groupChunks is how many chunks share one ledger write.
const groupChunks = 8

// enqueue is the second pass: it records invalid rows' outcomes and valid
// rows' ledger entries, and enqueues one task per chunk of valid rows. It
// returns the number of chunks.
func enqueue(ctx context.Context, open Opener, store *jobs.Store, q *asynq.Client, meta jobs.Meta, sum []byte, opts Options) (int, error) {
	f, err := open()
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := newHashingReader(f)
	defer h.end()
	r, err := importers.NewReader(h, opts.Reader)
	if err != nil {
		return 0, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	newChunk := func(index int) jobs.ChunkPayload {
		return jobs.ChunkPayload{BatchID: meta.ID, Kind: meta.Kind, Chunk: index, DryRun: opts.DryRun, Single: opts.Single, Extra: opts.Extra, Rows: make([]jobs.ChunkRow, 0, opts.ChunkSize)}
	}
	var grp group
	cur := newChunk(0)
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = g.Wait()
			return 0, err
		}
		if gctx.Err() != nil {
			break
		}
		if row.Err != nil {
			grp.invalid = append(grp.invalid, jobs.Outcome{
				Row: row.Index, Line: row.Line, ExternalID: row.Key, TransactionID: row.TransactionID,
				Action: jobs.ActionSkipped, Status: jobs.StatusFailed,
				ErrorCode: row.Err.Code(), Message: row.Err.Detail,
			})
			continue
		}
		cur.Rows = append(cur.Rows, jobs.ChunkRow{Row: row.Index, Line: row.Line, Key: row.Key, TransactionID: row.TransactionID, Data: row.Data})
		if len(cur.Rows) < opts.ChunkSize {
			continue
		}
		grp.chunks = append(grp.chunks, cur)
		cur = newChunk(cur.Chunk + 1)
		if len(grp.chunks) == groupChunks {
			g.Go(grp.sender(gctx, store, q, meta.ID, opts.Queue))
			grp = group{}
		}
	}
	chunks := cur.Chunk
	if len(cur.Rows) > 0 {
		grp.chunks = append(grp.chunks, cur)
		chunks++
	}
	if len(grp.chunks) > 0 || len(grp.invalid) > 0 {
		g.Go(grp.sender(gctx, store, q, meta.ID, opts.Queue))
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if _, err := io.Copy(io.Discard, h); err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	if !bytes.Equal(h.Sum(), sum) {
		return 0, ErrFileChanged
	}
	return chunks, nil
}

// group is a run of chunks that share one ledger write, with the invalid
// rows that came between their rows.
type group struct {
	chunks  []jobs.ChunkPayload
	invalid []jobs.Outcome
}

// sender returns the function that writes the group's ledger entries,
// enqueues its chunks and records its invalid rows.
func (grp group) sender(ctx context.Context, store *jobs.Store, q *asynq.Client, batchID, queue string) func() error {
	return func() error {
		if err := store.AddChunks(ctx, batchID, grp.chunks...); err != nil {
			return err
		}
		var enc jobs.ChunkEncoder
		for _, c := range grp.chunks {
			if _, err := q.EnqueueContext(ctx, enc.NewTask(c, queue)); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				return fmt.Errorf("enqueue chunk %d of batch %s: %w", c.Chunk, batchID, err)
			}
		}
		_, err := store.Record(ctx, batchID, grp.invalid...)
		return err
	}
}
