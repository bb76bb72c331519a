package applied

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Write is one change of [Batcher.Apply]: a record to store, or, with a
// nil Record, a key to forget.
type Write struct {
	Key    string
	Record *Record
}

// Batcher is a [Store] that applies many writes in one go: one
// transaction of the state file, one round trip to Redis. A scheduled
// sync advances thousands of keys of its snapshot at once.
type Batcher interface {
	Apply(ctx context.Context, ns string, writes []Write) error
}

// Apply writes every change to ns; it is a [Store]'s Put and Delete in
// a loop when the store is no [Batcher].
func Apply(ctx context.Context, s Store, ns string, writes []Write) error {
	if b, ok := s.(Batcher); ok {
		return b.Apply(ctx, ns, writes)
	}
	for _, w := range writes {
		var err error
		if w.Record == nil {
			err = s.Delete(ctx, ns, w.Key)
		} else {
			err = s.Put(ctx, ns, w.Key, *w.Record)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Apply implements [Batcher] in one transaction.
func (f *File) Apply(_ context.Context, ns string, writes []Write) error {
	err := f.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		for _, w := range writes {
			if w.Record == nil {
				if err := b.Delete([]byte(w.Key)); err != nil {
					return err
				}
				continue
			}
			v, err := json.Marshal(w.Record)
			if err != nil {
				return err
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
		if w.Record == nil {
			pipe.HDel(ctx, s.key(ns), w.Key)
			continue
		}
		v, err := json.Marshal(w.Record)
		if err != nil {
			return fmt.Errorf("applied state of %s: %w", w.Key, err)
		}
		pipe.HSet(ctx, s.key(ns), w.Key, v)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store applied state of %s: %w", ns, err)
	}
	return nil
}
