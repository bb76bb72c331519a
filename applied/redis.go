package applied

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Redis is a [Store] in Redis: one hash a namespace, a field a key, the
// record as JSON. Records do not expire; with Redis's AOF they survive
// restarts.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewRedis returns a store on rdb whose keys start with prefix (e.g.
// "bulksync:").
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	return &Redis{rdb: rdb, prefix: prefix + "applied:"}
}

func (s *Redis) key(ns string) string { return s.prefix + ns }

// Get implements [Store].
func (s *Redis) Get(ctx context.Context, ns, key string) (Record, bool, error) {
	b, err := s.rdb.HGet(ctx, s.key(ns), key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("applied state of %s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, false, fmt.Errorf("applied state of %s: %w", key, err)
	}
	return r, true, nil
}

// Put implements [Store].
func (s *Redis) Put(ctx context.Context, ns, key string, r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("applied state of %s: %w", key, err)
	}
	if err := s.rdb.HSet(ctx, s.key(ns), key, b).Err(); err != nil {
		return fmt.Errorf("store applied state of %s: %w", key, err)
	}
	return nil
}

// Swap implements [Store]: HGET and HSET in one MULTI/EXEC transaction,
// one round trip (cheaper than a script on an in-process Redis).
func (s *Redis) Swap(ctx context.Context, ns, key string, r Record) (Record, bool, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return Record{}, false, fmt.Errorf("applied state of %s: %w", key, err)
	}
	var prev *redis.StringCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		prev = p.HGet(ctx, s.key(ns), key)
		p.HSet(ctx, s.key(ns), key, b)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Record{}, false, fmt.Errorf("store applied state of %s: %w", key, err)
	}
	old, err := prev.Bytes()
	if errors.Is(err, redis.Nil) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("applied state of %s: %w", key, err)
	}
	var rec Record
	if err := json.Unmarshal(old, &rec); err != nil {
		return Record{}, false, fmt.Errorf("applied state of %s: %w", key, err)
	}
	return rec, true, nil
}

// SwapMany implements [Store]: one MULTI/EXEC round trip.
func (s *Redis) SwapMany(ctx context.Context, ns string, recs map[string]Record) (map[string]Record, error) {
	prev := make(map[string]*redis.StringCmd, len(recs))
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for key, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("applied state of %s: %w", key, err)
			}
			prev[key] = p.HGet(ctx, s.key(ns), key)
			p.HSet(ctx, s.key(ns), key, b)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store applied state: %w", err)
	}
	olds := map[string]Record{}
	for key, cmd := range prev {
		b, err := cmd.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("applied state of %s: %w", key, err)
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("applied state of %s: %w", key, err)
		}
		olds[key] = rec
	}
	return olds, nil
}

// Delete implements [Store].
func (s *Redis) Delete(ctx context.Context, ns, key string) error {
	if err := s.rdb.HDel(ctx, s.key(ns), key).Err(); err != nil {
		return fmt.Errorf("forget applied state of %s: %w", key, err)
	}
	return nil
}

// Scan implements [Store].
func (s *Redis) Scan(ctx context.Context, ns string, fn func(key string, r Record) error) error {
	it := s.rdb.HScan(ctx, s.key(ns), 0, "", 1000).Iterator()
	for it.Next(ctx) {
		key := it.Val()
		if !it.Next(ctx) {
			break
		}
		var r Record
		if err := json.Unmarshal([]byte(it.Val()), &r); err != nil {
			return fmt.Errorf("applied state of %s: %w", key, err)
		}
		if err := fn(key, r); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("scan applied state: %w", err)
	}
	return nil
}

// GetValue implements [ValueStore].
func (s *Redis) GetValue(ctx context.Context, ns, key string) ([]byte, bool, error) {
	b, err := s.rdb.HGet(ctx, s.key(ns), key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("applied state of %s: %w", key, err)
	}
	return b, true, nil
}

// valuesPerScan is the COUNT of a values namespace's HSCAN: values are
// short, so a round trip brings many.
const valuesPerScan = 10000

// ScanValues implements [ValueStore].
func (s *Redis) ScanValues(ctx context.Context, ns string, fn func(key, value []byte) error) error {
	it := s.rdb.HScan(ctx, s.key(ns), 0, "", valuesPerScan).Iterator()
	for it.Next(ctx) {
		key := it.Val()
		if !it.Next(ctx) {
			break
		}
		if err := fn([]byte(key), []byte(it.Val())); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("scan applied state: %w", err)
	}
	return nil
}
