package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// cancelScript moves a batch that is loading, running or halted to
// cancelled, and returns the state it had: "" for an unknown batch. A
// done or cancelled batch is left as it is. KEYS: meta.
var cancelScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return '' end
if st == 'loading' or st == 'running' or st == 'halted' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled')
  redis.call('HDEL', KEYS[1], 'waiting')
end
return st
`)

// Cancel stops a batch: workers skip its chunks not yet started and, in a
// chunk under way, the rows after the one in flight; rows without an
// outcome stay unprocessed. It returns the state the batch had: a batch
// already done (or cancelled) is left as it is, which the caller tells by
// that state. An unknown batch is ErrBatchNotFound.
func (s *Store) Cancel(ctx context.Context, id string) (previous string, err error) {
	st, err := cancelScript.Run(ctx, s.rdb, []string{s.metaKey(id)}).Text()
	if err != nil {
		return "", fmt.Errorf("cancel batch %s: %w", id, err)
	}
	if st == "" {
		return "", fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	return st, nil
}

// State returns a batch's state alone, in one cheap call, for workers
// that watch for a cancel while they work a chunk.
func (s *Store) State(ctx context.Context, id string) (string, error) {
	st, err := s.rdb.HGet(ctx, s.metaKey(id), "state").Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	if err != nil {
		return "", fmt.Errorf("get state of batch %s: %w", id, err)
	}
	return st, nil
}
