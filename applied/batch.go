package applied

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Write is one change of [Batcher.Apply]: a record to store, a value to
// store (in a namespace of values, see [ValueStore]), or, with neither, a
// key to forget.
type Write struct {
	Key    string
	Record *Record
	Value  []byte
}

// encode returns what w stores, or nil when it forgets its key.
func (w Write) encode() ([]byte, error) {
	switch {
	case w.Record != nil:
		return json.Marshal(w.Record)
	case w.Value != nil:
		return w.Value, nil
	}
	return nil, nil
}

// Batcher is a [Store] that applies many writes in one go: one
// transaction of the state file, one round trip to Redis. A scheduled
// sync advances thousands of keys of its snapshot at once.
type Batcher interface {
	Apply(ctx context.Context, ns string, writes []Write) error
}

// Apply implements [Batcher] in one transaction.
func (f *File) Apply(_ context.Context, ns string, writes []Write) error {
	err := f.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		for _, w := range writes {
			v, err := w.encode()
			if err != nil {
				return err
			}
			if v == nil {
				if err := b.Delete([]byte(w.Key)); err != nil {
					return err
				}
				continue
			}
			if err := b.Put([]byte(w.Key), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store applied state of %s: %w", ns, err)
	}
	return nil
}

// Apply implements [Batcher] in one pipeline.
func (s *Redis) Apply(ctx context.Context, ns string, writes []Write) error {
	pipe := s.rdb.Pipeline()
	for _, w := range writes {
		v, err := w.encode()
		if err != nil {
			return fmt.Errorf("applied state of %s: %w", w.Key, err)
		}
		if v == nil {
			pipe.HDel(ctx, s.key(ns), w.Key)
			continue
		}
		pipe.HSet(ctx, s.key(ns), w.Key, v)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store applied state of %s: %w", ns, err)
	}
	return nil
}
