package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/bulksync/bulksync/jobs"
	"github.com/redis/go-redis/v9"
)

// IdempotencyHeader names the batch a client's first request made, so
// that its retries (whatever their body) get that batch again.
const IdempotencyHeader = "Idempotency-Key"

// idempotencyKey is the Redis key of a client's idempotency key: hashed,
// so that any header value makes a short, safe key.
func (s *Service) idempotencyKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.cfg.Store.Prefix() + "idempotency:" + hex.EncodeToString(sum[:16])
}

// idempotent returns the batch of the first request that carried r's
// Idempotency-Key, when there was one and its batch is still kept.
func (s *Service) idempotent(ctx context.Context, r *http.Request) (string, bool, error) {
	key := r.Header.Get(IdempotencyHeader)
	if key == "" {
		return "", false, nil
	}
	id, err := s.cfg.Store.Client().Get(ctx, s.idempotencyKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read idempotency key: %w", err)
	}
	if _, err := s.cfg.Store.State(ctx, id); errors.Is(err, jobs.ErrBatchNotFound) {
		return "", false, nil
	} else if err != nil {
		return "", false, err
	}
	return id, true, nil
}

// remember records id as the batch of r's Idempotency-Key, for as long as
// batches are kept, unless a concurrent request with the same key got
// there first: then it returns that request's batch.
func (s *Service) remember(ctx context.Context, r *http.Request, id string) (string, error) {
	key := r.Header.Get(IdempotencyHeader)
	if key == "" {
		return id, nil
	}
	rk := s.idempotencyKey(key)
	set, err := s.cfg.Store.Client().SetNX(ctx, rk, id, jobs.DefaultRetention).Result()
	if err != nil {
		return "", fmt.Errorf("record idempotency key: %w", err)
	}
	if set {
		return id, nil
	}
	first, err := s.cfg.Store.Client().Get(ctx, rk).Result()
	if err != nil {
		return "", fmt.Errorf("read idempotency key: %w", err)
	}
	return first, nil
}

// withdraw cancels the batch a request made when a concurrent request with
// the same Idempotency-Key got there first: only the first request's batch
// is applied. A batch that existed before the request (the same body
// imported earlier) is left alone.
func (s *Service) withdraw(ctx context.Context, id string, existed bool) {
	if existed {
		return
	}
	if _, err := s.cfg.Store.Cancel(ctx, id); err != nil {
		s.log.Warn("cannot cancel the batch of a duplicate keyed request", "batch", id, "err", err)
	}
}
