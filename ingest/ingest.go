// Package ingest runs the import side of a batch: it reads a file with
// importers, derives the batch id from the file's content, records the
// batch and its rows, and enqueues the rows in chunks with jobs. Invalid
// rows get their outcome at once; valid rows get theirs from the workers.
//
// The file is read twice, both times as a stream: a first pass checks the
// whole file and hashes it, so that a file that is not readable to its end
// enqueues nothing and the batch id is known before the first chunk; the
// second pass enqueues.
package ingest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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

// DefaultChunkSize is how many rows travel in one task.
const DefaultChunkSize = 100

// MaxChunkSize bounds Options.ChunkSize (task payloads stay small).
const MaxChunkSize = 5000

// Opener opens the input afresh for each pass.
type Opener func() (io.ReadCloser, error)

// Options configure an import.
type Options struct {
	Reader    importers.Options
	ChunkSize int    // rows per task; defaults to DefaultChunkSize
	NewBatch  bool   // a fresh batch even when this file was imported before
	DryRun    bool   // look up only, write nothing
	Source    string // the file's name, kept in the batch metadata
	Queue     string // asynq queue; defaults to "bulksync"
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
	opts.ChunkSize = cmp.Or(opts.ChunkSize, DefaultChunkSize)
	opts.Queue = cmp.Or(opts.Queue, "bulksync")
	if opts.ChunkSize < 1 || opts.ChunkSize > MaxChunkSize {
		return Result{}, fmt.Errorf("chunk size must be between 1 and %d", MaxChunkSize)
	}
	scan, err := check(ctx, open, opts.Reader)
	if err != nil {
		return Result{}, err
	}
	// Read the second pass with the kind the first one settled.
	opts.Reader.Kind = scan.kind
	optionString := fmt.Sprintf("chunk_size=%d;ignore_unknown=%t;dry_run=%t", opts.ChunkSize, opts.Reader.IgnoreUnknown, opts.DryRun)
	for _, k := range slices.Sorted(maps.Keys(opts.Reader.Defaults)) {
		optionString += fmt.Sprintf(";default:%s=%s", k, opts.Reader.Defaults[k])
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
		Chunks:  (scan.valid + opts.ChunkSize - 1) / opts.ChunkSize,
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
		case jobs.StateDone, jobs.StateRunning:
			return Result{Meta: existing, Existing: true}, nil
		case jobs.StateHalted:
			if err := store.Resume(ctx, meta.ID); err != nil {
				return Result{}, err
			}
		}
		// A halted batch, or one whose import was cut short: enqueue again;
		// chunks and outcomes that exist are kept.
	}
	if err := enqueue(ctx, open, store, q, meta, scan.sum, opts); err != nil {
		return Result{}, err
	}
	if err := store.Start(ctx, meta.ID); err != nil {
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
	valid  int
}

// check reads the whole file once: it settles kind and format, counts the
// rows and hashes the content.
func check(ctx context.Context, open Opener, ropts importers.Options) (scan, error) {
	f, err := open()
	if err != nil {
		return scan{}, err
	}
	defer f.Close()
	h := sha256.New()
	tee := io.TeeReader(f, h)
	r, err := importers.NewReader(tee, ropts)
	if err != nil {
		return scan{}, err
	}
	s := scan{kind: r.Schema().Kind, format: r.Format()}
	for {
		if s.rows%4096 == 0 && ctx.Err() != nil {
			return scan{}, ctx.Err()
		}
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return scan{}, err
		}
		s.rows++
		if row.Err == nil {
			s.valid++
		}
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return scan{}, fmt.Errorf("read: %w", err)
	}
	s.sum = h.Sum(nil)
	return s, nil
}

// enqueue is the second pass: it records invalid rows' outcomes and valid
// rows' ledger entries, and enqueues one task per chunk of valid rows.
func enqueue(ctx context.Context, open Opener, store *jobs.Store, q *asynq.Client, meta jobs.Meta, sum []byte, opts Options) error {
	f, err := open()
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	tee := io.TeeReader(f, h)
	r, err := importers.NewReader(tee, opts.Reader)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	flush := func(c chunk) {
		g.Go(func() error { return c.send(gctx, store, q, meta.ID, opts) })
	}
	cur := chunk{index: 0}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = g.Wait()
			return err
		}
		if gctx.Err() != nil {
			break
		}
		if row.Err != nil {
			cur.invalid = append(cur.invalid, jobs.Outcome{
				Row: row.Index, Line: row.Line, ExternalID: row.Key, TransactionID: row.TransactionID,
				Action: jobs.ActionSkipped, Status: jobs.StatusFailed,
				ErrorCode: row.Err.Code(), Message: row.Err.Detail,
			})
			continue
		}
		tx := cmp.Or(row.TransactionID, jobs.TransactionID(meta.ID, row.Key, row.Data))
		cur.rows = append(cur.rows, jobs.ChunkRow{Row: row.Index, Line: row.Line, Key: row.Key, TransactionID: tx, Data: row.Data})
		if len(cur.rows) == opts.ChunkSize {
			flush(cur)
			cur = chunk{index: cur.index + 1}
		}
	}
	if len(cur.rows) > 0 || len(cur.invalid) > 0 {
		flush(cur)
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if !bytes.Equal(h.Sum(nil), sum) {
		return ErrFileChanged
	}
	return nil
}

// chunk is a run of rows: the valid ones travel in one task; the invalid
// ones that came between them are recorded with it.
type chunk struct {
	index   int
	rows    []jobs.ChunkRow
	invalid []jobs.Outcome
}

func (c chunk) send(ctx context.Context, store *jobs.Store, q *asynq.Client, batchID string, opts Options) error {
	if len(c.rows) > 0 {
		entries := make([]jobs.Outcome, len(c.rows))
		for i, r := range c.rows {
			entries[i] = jobs.Outcome{Row: r.Row, Line: r.Line, ExternalID: r.Key, TransactionID: r.TransactionID}
		}
		if err := store.AddRows(ctx, batchID, entries); err != nil {
			return err
		}
		t, err := jobs.NewChunkTask(jobs.ChunkPayload{BatchID: batchID, Kind: opts.Reader.Kind.String(), Chunk: c.index, DryRun: opts.DryRun, Rows: c.rows}, opts.Queue)
		if err != nil {
			return err
		}
		if _, err := q.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueue chunk %d of batch %s: %w", c.index, batchID, err)
		}
	}
	_, err := store.Record(ctx, batchID, c.invalid...)
	return err
}
