package hrsync

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/mapping"
)

// Actions of a plan's changes.
const (
	ActionCreate     = "create"     // a key not in the snapshot
	ActionUpdate     = "update"     // a key whose row changed (Fields names what)
	ActionDeactivate = "deactivate" // a key missing for missing_runs_before_deactivate runs
	ActionReconcile  = "reconcile"  // sync run --reconcile: an unchanged key looked up in the API anyway
	ActionMissing    = "missing"    // a key missing, not yet for long enough: its count grows (no API call)
	ActionReturned   = "returned"   // a key that was missing is back unchanged: its count resets (no API call)
)

// sends reports whether an action becomes a row of the batch.
func sends(action string) bool {
	return action == ActionCreate || action == ActionUpdate || action == ActionDeactivate || action == ActionReconcile
}

// Change is one planned change.
type Change struct {
	Action  string          `json:"action"`
	Key     string          `json:"key"`
	Line    int             `json:"line,omitempty"`    // the source row's line (not for deactivate and missing)
	Fields  []string        `json:"fields,omitempty"`  // update: the fields that changed
	Missing int             `json:"missing,omitempty"` // missing, deactivate: consecutive runs missing, this one included
	Row     json.RawMessage `json:"row,omitempty"`     // the kind's row sent, for actions that send one
	// FP is the snapshot's row fingerprint of a missing or returned key,
	// which its run writes back with the new count.
	FP uint64 `json:"fp,omitempty"`
}

// Problem is a source row that was not planned: its line, its key when
// known, and the importers' error code.
type Problem struct {
	Line   int    `json:"line"`
	Key    string `json:"key,omitempty"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// Counts are a plan's numbers of keys per action.
type Counts struct {
	Create     int `json:"create"`
	Update     int `json:"update"`
	Deactivate int `json:"deactivate"`
	Unchanged  int `json:"unchanged"`
	Reconcile  int `json:"reconcile,omitempty"`
	Missing    int `json:"missing"` // missing, not deactivated yet
	Invalid    int `json:"invalid"`
}

// Changes is what a plan sends to the API: creates, updates and
// deactivations.
func (c Counts) Changes() int { return c.Create + c.Update + c.Deactivate }

// Plan is what a run of a sync would do. Its changes are kept in a
// temporary file (a large export plans more than fits in memory); Close
// removes it.
type Plan struct {
	Sync         string    `json:"sync"`
	Kind         string    `json:"kind"`
	Created      time.Time `json:"created"`
	Source       string    `json:"source"`        // the file or URL read
	SourceSHA256 string    `json:"source_sha256"` // of the source's bytes
	Snapshot     string    `json:"snapshot"`      // the snapshot's digest: keys:hash
	SnapshotKeys int       `json:"snapshot_keys"`
	First        bool      `json:"first"` // no snapshot yet: no deactivations, no change limit
	Reconcile    bool      `json:"reconcile,omitempty"`
	Rows         int       `json:"rows"`     // source rows read
	Filtered     int       `json:"filtered"` // left out by the filter
	Counts       Counts    `json:"counts"`
	// Problems are the first invalid rows (Counts.Invalid has them all).
	Problems []Problem `json:"problems,omitempty"`
	// Samples are the first changes of each action.
	Samples []Change `json:"samples,omitempty"`
	// Refused says why the plan must not be run, or is empty.
	Refused string `json:"refused,omitempty"`
	// Forcible tells a refusal --force may override (a limit), from one
	// it may not (an empty source).
	Forcible bool `json:"forcible,omitempty"`
	// ContentHash is the SHA-256 of the plan's settings and every change.
	ContentHash string `json:"content_hash"`

	changes *os.File
	n       int // changes written
}

// Close removes the plan's temporary file.
func (p *Plan) Close() error {
	if p.changes == nil {
		return nil
	}
	_ = p.changes.Close()
	return os.Remove(p.changes.Name())
}

// EachChange calls fn with every change of the plan, in order.
func (p *Plan) EachChange(fn func(Change) error) error {
	if p.changes == nil {
		return nil
	}
	if _, err := p.changes.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sc := bufio.NewScanner(p.changes)
	sc.Buffer(make([]byte, 64<<10), importers.DefaultMaxRowBytes*2)
	for sc.Scan() {
		var c Change
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Planner makes plans.
type Planner struct {
	// Snapshots is the applied-state store holding the syncs' snapshots
	// and their runs.
	Snapshots applied.ValueStore
	// API is the base URL of the API the syncs apply to. A snapshot
	// belongs to one API: a sync pointed at another starts from nothing
	// there rather than taking its keys for applied. Empty: snapshots
	// are named by the sync alone.
	API string
	// Getenv reads the environment (credentials of URL sources). Defaults
	// to os.Getenv.
	Getenv func(string) string
	// HTTP fetches URL sources. Defaults to a client with a 5-minute
	// timeout.
	HTTP *http.Client
	// Samples is how many changes of each action, and how many invalid
	// rows, a plan keeps to show. Defaults to 5.
	Samples int
	// Now tells the time. Defaults to time.Now.
	Now func() time.Time
}

// namespace is the applied-state namespace of s's snapshot on p's API.
func (p *Planner) namespace(s *Sync) string {
	if p.API == "" {
		return s.Namespace()
	}
	return applied.Namespace(p.API, s.Namespace())
}

func (p *Planner) getenv() func(string) string {
	if p.Getenv != nil {
		return p.Getenv
	}
	return os.Getenv
}

func (p *Planner) httpClient() *http.Client {
	if p.HTTP != nil {
		return p.HTTP
	}
	return &http.Client{Timeout: 5 * time.Minute}
}

func (p *Planner) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Plan reads the sync's source and snapshot and plans the run. A source
// that cannot be read is an error; one that holds no rows gives a plan
// refused for good. With reconcile, every unchanged key is sent too (the
// workers look it up and write only what differs).
func (p *Planner) Plan(ctx context.Context, s *Sync, reconcile bool) (*Plan, error) {
	schema, err := importers.Lookup(s.Kind)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Sync: s.Name, Kind: string(s.Kind), Created: p.now().UTC(), Reconcile: reconcile}
	samples := cmp.Or(p.Samples, 5)

	// The snapshot's index: key hash -> fingerprint and misses.
	seed := maphash.MakeSeed()
	idx := &snapshotIndex{}
	var digest uint64
	err = p.scanSnapshot(ctx, s, func(key []byte, fp uint64, misses int) error {
		idx.add(maphash.Bytes(seed, key), fp, misses)
		digest += digestEntry(key, fp, misses)
		plan.SnapshotKeys++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the snapshot of %s: %w", s.Name, err)
	}
	idx.build()
	plan.Snapshot = digestString(digest, plan.SnapshotKeys)
	plan.First = plan.SnapshotKeys == 0

	if plan.changes, err = os.CreateTemp("", "bulksync-plan-*.ndjson"); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = plan.Close()
		}
	}()
	w := &changeWriter{plan: plan, bw: bufio.NewWriterSize(plan.changes, 64<<10), h: sha256.New(), samples: samples, kept: map[string]int{}}
	w.header()

	src, err := s.open(ctx, p.getenv(), p.httpClient())
	if err != nil {
		return nil, err
	}
	defer src.Close()
	plan.Source = src.name
	sum := sha256.New()
	tee := io.TeeReader(src, sum)
	m, err := mapping.New(s.Spec)
	if err != nil {
		return nil, err
	}
	stream, err := m.Open(tee, src.format)
	if errors.Is(err, io.EOF) {
		return p.refuseEmpty(plan, w, &ok)
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.name, err)
	}
	defer stream.Close()
	defaults := map[string]string{}
	for k, v := range s.Defaults {
		defaults[k] = v
	}
	// A synced license is active unless the export says otherwise, so that
	// a key deactivated earlier comes back active.
	if deactivation(schema) == deactivateActive && s.Mapping["active"] == "" && defaults["active"] == "" {
		defaults["active"] = "true"
	}
	rd, err := importers.NewReader(stream, importers.Options{Kind: s.Kind, Format: importers.FormatJSON, Defaults: defaults, ExpectedRows: plan.SnapshotKeys})
	if errors.Is(err, importers.ErrEmptyFile) {
		plan.Rows, plan.Filtered = stream.Stats().Rows, stream.Stats().Filtered
		return p.refuseEmpty(plan, w, &ok)
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.name, err)
	}
	valid, seen := 0, 0 // valid rows; snapshot keys the source named
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, importers.ErrEmptyFile) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", src.name, err)
		}
		if row.Index%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		h := maphash.String(seed, row.Key)
		i, fp := idx.find(h)
		if row.Err != nil {
			plan.Counts.Invalid++
			if len(plan.Problems) < samples {
				plan.Problems = append(plan.Problems, problem(row))
			}
			// A key whose row is invalid is not missing: a bad cell never
			// deactivates anyone.
			if i >= 0 && row.Key != "" && idx.see(i) {
				seen++
			}
			continue
		}
		valid++
		c := Change{Key: row.Key, Line: row.Line, Row: row.Data}
		switch {
		case i < 0:
			c.Action = ActionCreate
			plan.Counts.Create++
		case fp != fingerprint(row.Data):
			c.Action = ActionUpdate
			plan.Counts.Update++
			rec, _, err := p.Snapshots.Get(ctx, p.namespace(s), row.Key)
			if err != nil {
				return nil, err
			}
			c.Fields = changedFields(rec, row.Data)
		case reconcile:
			c.Action = ActionReconcile
			plan.Counts.Reconcile++
		default:
			plan.Counts.Unchanged++
			c = Change{Action: ActionReturned, Key: row.Key, Line: row.Line, FP: fp}
			if idx.missed(h) == 0 {
				c.Action = ""
			}
		}
		if i >= 0 && idx.see(i) {
			seen++
		}
		if c.Action != "" {
			if err := w.add(c); err != nil {
				return nil, err
			}
		}
	}
	st := stream.Stats()
	plan.Rows, plan.Filtered = st.Rows, st.Filtered
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, fmt.Errorf("source %s: %w", src.name, err)
	}
	plan.SourceSHA256 = hex.EncodeToString(sum.Sum(nil))
	if valid == 0 {
		plan.Refused = fmt.Sprintf("the source has no valid rows (%d rows, %d invalid): it never counts as everyone left", plan.Rows, plan.Counts.Invalid)
		return p.finish(plan, w, &ok)
	}

	// The keys of the snapshot the source did not name, if any: an
	// unchanged export does not read the snapshot twice.
	if seen == plan.SnapshotKeys {
		plan.Refused, plan.Forcible = s.limits(plan)
		return p.finish(plan, w, &ok)
	}
	// A deactivation's row comes from the key's record, read once the scan
	// is over (the state file allows no read inside the scan).
	var deactivate []Change
	err = p.Snapshots.ScanValues(ctx, p.namespace(s)+valuesSuffix, func(key, v []byte) error {
		if i, _ := idx.find(maphash.Bytes(seed, key)); i >= 0 && idx.seenAt(i) {
			return nil
		}
		fp, misses, err := decodeValue(v)
		if err != nil {
			return fmt.Errorf("snapshot of %s: %w", key, err)
		}
		c := Change{Action: ActionMissing, Key: string(key), Missing: misses + 1, FP: fp}
		if s.DeactivateMissing && c.Missing >= s.missingRuns() {
			deactivate = append(deactivate, c)
			return nil
		}
		plan.Counts.Missing++
		return w.add(c)
	})
	if err != nil {
		return nil, err
	}
	how := deactivation(schema)
	for _, c := range deactivate {
		rec, _, err := p.Snapshots.Get(ctx, p.namespace(s), c.Key)
		if err != nil {
			return nil, err
		}
		if c.Row, err = deactivationRow(how, rec); err != nil {
			return nil, fmt.Errorf("snapshot of %s: %w", c.Key, err)
		}
		c.Action = ActionDeactivate
		plan.Counts.Deactivate++
		if err := w.add(c); err != nil {
			return nil, err
		}
	}
	plan.Refused, plan.Forcible = s.limits(plan)
	return p.finish(plan, w, &ok)
}

// valuesSuffix ends the name of a snapshot's values namespace.
const valuesSuffix = ":fp"

// scanSnapshot calls fn with every key of the sync's snapshot, its row
// fingerprint and its runs missed, from the snapshot's values. A snapshot
// kept before the values existed is upgraded first.
func (p *Planner) scanSnapshot(ctx context.Context, s *Sync, fn func(key []byte, fp uint64, misses int) error) error {
	ns := p.namespace(s) + valuesSuffix
	for try := 0; ; try++ {
		n := 0
		err := p.Snapshots.ScanValues(ctx, ns, func(key, v []byte) error {
			fp, misses, err := decodeValue(v)
			if err != nil {
				return fmt.Errorf("snapshot of %s: %w", key, err)
			}
			n++
			return fn(key, fp, misses)
		})
		if err != nil || n > 0 || try > 0 {
			return err
		}
		if upgraded, err := p.upgrade(ctx, s); err != nil || !upgraded {
			return err
		}
	}
}

// upgrade writes the values of a snapshot kept as records alone (before
// the values existed), and reports whether there were any. It holds the
// values in memory (about 60 bytes a key) once.
func (p *Planner) upgrade(ctx context.Context, s *Sync) (bool, error) {
	var writes []applied.Write
	err := p.Snapshots.Scan(ctx, p.namespace(s), func(key string, r applied.Record) error {
		if v, ok := legacyValue(r); ok {
			writes = append(writes, applied.Write{Key: key, Value: v})
		}
		return nil
	})
	found := len(writes) > 0
	for len(writes) > 0 && err == nil {
		n := min(len(writes), snapshotBatch)
		err = p.Snapshots.Apply(ctx, p.namespace(s)+valuesSuffix, writes[:n])
		writes = writes[n:]
	}
	if err != nil {
		return false, fmt.Errorf("upgrade the snapshot of %s: %w", s.Name, err)
	}
	return found, nil
}

// refuseEmpty ends the plan of a source without rows.
func (p *Planner) refuseEmpty(plan *Plan, w *changeWriter, ok *bool) (*Plan, error) {
	plan.Refused = "the source holds no rows: an empty export never counts as everyone left"
	return p.finish(plan, w, ok)
}

// finish flushes the changes and seals the plan's hash.
func (p *Planner) finish(plan *Plan, w *changeWriter, ok *bool) (*Plan, error) {
	if err := w.bw.Flush(); err != nil {
		return nil, err
	}
	plan.ContentHash = w.sum()
	*ok = true
	return plan, nil
}

// limits checks a plan against the sync's safety settings. The first
// run has nothing to compare with, and is not limited.
func (s *Sync) limits(plan *Plan) (reason string, forcible bool) {
	c := plan.Counts
	if d := s.MaxDeactivate; d != nil && c.Deactivate > *d {
		return fmt.Sprintf("%d deactivations planned, over max_deactivate %d by %d", c.Deactivate, *d, c.Deactivate-*d), true
	}
	if plan.First {
		return "", false
	}
	pct := 100 * float64(c.Changes()) / float64(plan.SnapshotKeys)
	if limit := s.maxChangePercent(); pct > limit {
		return fmt.Sprintf("%d changes planned (%d create, %d update, %d deactivate) are %.1f%% of the %d keys in the snapshot, over max_change_percent %g%% by %.1f points",
			c.Changes(), c.Create, c.Update, c.Deactivate, pct, plan.SnapshotKeys, limit, pct-limit), true
	}
	return "", false
}

// problem describes an invalid row; a repeated key is duplicate_target
// for every kind.
func problem(row importers.Row) Problem {
	code := row.Err.Code()
	if errors.Is(row.Err, importers.ErrDuplicateKey) {
		code = importers.ErrDuplicateTarget.Error()
	}
	return Problem{Line: row.Line, Key: row.Key, Code: code, Detail: row.Err.Detail}
}

// changeWriter writes a plan's changes to its file, hashing them and
// keeping the first of each action.
type changeWriter struct {
	plan    *Plan
	bw      *bufio.Writer
	h       hash.Hash
	samples int
	kept    map[string]int
}

// header hashes the plan's settings; the source and snapshot digests are
// hashed by sum, once known.
func (w *changeWriter) header() {
	fmt.Fprintf(w.h, "bulksync sync plan v1\x00%s\x00%s\x00%t\x00", w.plan.Sync, w.plan.Kind, w.plan.Reconcile)
}

func (w *changeWriter) add(c Change) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, _ = w.h.Write(b)
	if _, err := w.bw.Write(b); err != nil {
		return err
	}
	w.plan.n++
	if w.kept[c.Action] < w.samples && c.Action != ActionReturned {
		w.kept[c.Action]++
		w.plan.Samples = append(w.plan.Samples, c)
	}
	return nil
}

func (w *changeWriter) sum() string {
	fmt.Fprintf(w.h, "\x00%s\x00%s\x00%s", w.plan.SourceSHA256, w.plan.Snapshot, w.plan.Refused)
	return hex.EncodeToString(w.h.Sum(nil))
}
