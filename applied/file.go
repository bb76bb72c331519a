package applied

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// File is a [Store] in a local file (a bbolt database): one bucket a
// namespace. One process at a time holds the file.
//
// bbolt reads the file through a memory mapping, and on a read fault
// Linux maps the cached pages around the one read too (fault-around, 64
// KB), so scattered reads of a file in the page cache soon map all of it:
// a scan of a million short values mapped 218 MB of a 745 MB file. File
// drops the mapped pages from the process's memory every [readsPerDrop]
// reads and [keysPerDrop] keys scanned, so that its memory does not grow
// with the file.
type File struct {
	db    *bolt.DB
	reads atomic.Int64
}

// How often File drops the mapped pages of the state file: a read maps up
// to a few dozen pages (a leaf and the branches above it, 64 KB around
// each), a key scanned a small share of one. 64 reads map 8 MB at most.
const (
	readsPerDrop = 64
	keysPerDrop  = 4096
)

// read counts a read inside tx, dropping the mapped pages every
// readsPerDrop reads.
func (f *File) read(tx *bolt.Tx) {
	if f.reads.Add(1)%readsPerDrop == 0 {
		dropMapped(f.db, tx)
	}
}

// OpenFile opens (creating it and its directory when absent) the state
// file at path. It fails with [ErrInUse] when another process holds it for
// longer than a few seconds.
func OpenFile(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	return &File{db: db}, nil
}

// DefaultPath is the state file's place when none is given:
// $XDG_STATE_HOME/bulksync/state.db, or ~/.local/state/bulksync/state.db.
func DefaultPath(getenv func(string) string) (string, error) {
	if dir := getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "bulksync", "state.db"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("state file: no XDG_STATE_HOME or home directory: %w", err)
		}
	}
	return filepath.Join(home, ".local", "state", "bulksync", "state.db"), nil
}

// Close releases the file.
func (f *File) Close() error { return f.db.Close() }

// Get implements [Store].
func (f *File) Get(_ context.Context, ns, key string) (Record, bool, error) {
	var r Record
	var found bool
	err := f.db.View(func(tx *bolt.Tx) error {
		defer f.read(tx)
		b := tx.Bucket([]byte(ns))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &r)
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("applied state of %s: %w", key, err)
	}
	return r, found, nil
}

// Put implements [Store].
func (f *File) Put(_ context.Context, ns, key string, r Record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("applied state of %s: %w", key, err)
	}
	err = f.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), v)
	})
	if err != nil {
		return fmt.Errorf("store applied state of %s: %w", key, err)
	}
	return nil
}

// Swap implements [Store].
func (f *File) Swap(_ context.Context, ns, key string, r Record) (Record, bool, error) {
	v, err := json.Marshal(r)
	if err != nil {
		return Record{}, false, fmt.Errorf("applied state of %s: %w", key, err)
	}
	var old Record
	var found bool
	err = f.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		if prev := b.Get([]byte(key)); prev != nil {
			found = true
			if err := json.Unmarshal(prev, &old); err != nil {
				return err
			}
		}
		return b.Put([]byte(key), v)
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("store applied state of %s: %w", key, err)
	}
	return old, found, nil
}

// SwapMany implements [Store]: one transaction.
func (f *File) SwapMany(_ context.Context, ns string, recs map[string]Record) (map[string]Record, error) {
	olds := map[string]Record{}
	err := f.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		for key, r := range recs {
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if prev := b.Get([]byte(key)); prev != nil {
				var old Record
				if err := json.Unmarshal(prev, &old); err != nil {
					return err
				}
				olds[key] = old
			}
			if err := b.Put([]byte(key), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store applied state: %w", err)
	}
	return olds, nil
}

// Delete implements [Store].
func (f *File) Delete(_ context.Context, ns, key string) error {
	err := f.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(ns)); b != nil {
			return b.Delete([]byte(key))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget applied state of %s: %w", key, err)
	}
	return nil
}

// Scan implements [Store].
func (f *File) Scan(ctx context.Context, ns string, fn func(key string, r Record) error) error {
	return f.db.View(func(tx *bolt.Tx) error {
		defer dropMapped(f.db, tx)
		b := tx.Bucket([]byte(ns))
		if b == nil {
			return nil
		}
		n := 0
		return b.ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if n++; n%keysPerDrop == 0 {
				dropMapped(f.db, tx)
			}
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("applied state of %s: %w", k, err)
			}
			return fn(string(k), r)
		})
	})
}

// GetValue implements [ValueStore].
func (f *File) GetValue(_ context.Context, ns, key string) ([]byte, bool, error) {
	var v []byte
	err := f.db.View(func(tx *bolt.Tx) error {
		defer f.read(tx)
		if b := tx.Bucket([]byte(ns)); b != nil {
			if got := b.Get([]byte(key)); got != nil {
				v = bytes.Clone(got)
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("applied state of %s: %w", key, err)
	}
	return v, v != nil, nil
}

// ScanValues implements [ValueStore] with a cursor over the namespace's
// bucket: keys and values come straight from the file's pages.
func (f *File) ScanValues(ctx context.Context, ns string, fn func(key, value []byte) error) error {
	return f.db.View(func(tx *bolt.Tx) error {
		defer dropMapped(f.db, tx)
		b := tx.Bucket([]byte(ns))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n++; n%keysPerDrop == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				dropMapped(f.db, tx)
			}
			if err := fn(k, v); err != nil {
				return err
			}
		}
		return nil
	})
}
