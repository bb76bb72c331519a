package jobs

import (
	"context"
	"errors"
	"fmt"
)

// Recent returns up to limit batches, the most recently created first.
// Batches whose data expired are left out.
func (s *Store) Recent(ctx context.Context, limit int) ([]Meta, error) {
	if limit <= 0 {
		return nil, nil
	}
	// Ask for a few more ids than wanted: the index keeps the ids of
	// expired batches until they are pruned here.
	ids, err := s.rdb.ZRevRange(ctx, s.indexKey(), 0, int64(limit)*2-1).Result()
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	out := make([]Meta, 0, min(limit, len(ids)))
	var gone []any
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		m, err := s.Get(ctx, id)
		if errors.Is(err, ErrBatchNotFound) {
			gone = append(gone, id)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if len(gone) > 0 {
		// Expired batches leave the index; a failure only delays that.
		_ = s.rdb.ZRem(ctx, s.indexKey(), gone...).Err()
	}
	return out, nil
}
