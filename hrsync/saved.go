package hrsync

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bulksync/bulksync/importers"
)

// Save writes the plan to path: its header (the Plan as JSON, with its
// content hash) on the first line, then one change a line. bulksync sync
// apply reads it back with [ReadPlan].
func (p *Plan) Save(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	head, err := json.Marshal(p)
	if err != nil {
		f.Close()
		return err
	}
	_, _ = bw.Write(append(head, '\n'))
	if p.changes != nil {
		if _, err := p.changes.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return err
		}
		if _, err := io.Copy(bw, p.changes); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ErrPlanAltered is a saved plan whose content does not match its hash.
var ErrPlanAltered = errors.New("the plan file does not match its content hash (edited after it was saved?)")

// ReadPlan reads a plan saved by [Plan.Save] and checks its content
// hash. Close the plan when done.
func ReadPlan(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), importers.DefaultMaxRowBytes*2)
	if !sc.Scan() {
		return nil, fmt.Errorf("%s: not a saved plan: %w", path, cmpErr(sc.Err(), io.ErrUnexpectedEOF))
	}
	p := &Plan{}
	if err := json.Unmarshal(sc.Bytes(), p); err != nil || p.ContentHash == "" {
		return nil, fmt.Errorf("%s: not a saved plan", path)
	}
	if p.changes, err = os.CreateTemp("", "bulksync-plan-*.ndjson"); err != nil {
		return nil, err
	}
	w := &changeWriter{plan: p, bw: bufio.NewWriter(p.changes), h: sha256.New()}
	w.header()
	for sc.Scan() {
		line := append(sc.Bytes(), '\n')
		_, _ = w.h.Write(line)
		_, _ = w.bw.Write(line)
	}
	if err := cmpErr(sc.Err(), w.bw.Flush()); err != nil {
		_ = p.Close()
		return nil, err
	}
	if w.sum() != p.ContentHash {
		_ = p.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrPlanAltered)
	}
	return p, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Check makes sure a saved plan still holds: made for this sync, on the
// source and snapshot as they are now. Otherwise it returns a
// *RefusedError saying what changed.
func (p *Planner) Check(ctx context.Context, s *Sync, plan *Plan) error {
	refuse := func(format string, args ...any) error {
		return &RefusedError{Sync: s.Name, Reason: fmt.Sprintf(format, args...) + "; make a new plan"}
	}
	if plan.Sync != s.Name || plan.Kind != string(s.Kind) {
		return refuse("the plan is for sync %s (%s), not %s (%s)", plan.Sync, plan.Kind, s.Name, s.Kind)
	}
	src, err := s.open(ctx, p.getenv(), p.httpClient())
	if err != nil {
		return err
	}
	sum := sha256.New()
	_, err = io.Copy(sum, src)
	src.Close()
	if err != nil {
		return fmt.Errorf("source %s: %w", src.name, err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); src.name != plan.Source || got != plan.SourceSHA256 {
		return refuse("the source changed since the plan was made (%s sha256 %.12s, planned %s sha256 %.12s)", src.name, got, plan.Source, plan.SourceSHA256)
	}
	var digest uint64
	n := 0
	err = p.scanSnapshot(ctx, s, func(key []byte, fp uint64, misses int) error {
		digest += digestEntry(key, fp, misses)
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if got := digestString(digest, n); got != plan.Snapshot {
		return refuse("the snapshot changed since the plan was made (now %s, planned %s)", got, plan.Snapshot)
	}
	return nil
}
