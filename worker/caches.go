package worker

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/bulksync/bulksync/dmapi"
)

// Cache sizes.
const (
	// maxLicenseRefs is how many resolved license external ids a worker
	// keeps, over all batches.
	maxLicenseRefs = 10_000
	// listPageSize is the page size of the lists read whole into a
	// snapshot.
	listPageSize = 1000
)

// caches are the look-ups a worker shares between the chunks of a batch.
type caches struct {
	licenses         batchCache[licenseRef, int64]
	suggestions      batchCache[platformKey, *suggestionSnapshot]
	groupSuggestions batchCache[platformKey, *groupSuggestionSnapshot]
}

func newCaches() *caches {
	return &caches{
		licenses:         batchCache[licenseRef, int64]{max: maxLicenseRefs},
		suggestions:      batchCache[platformKey, *suggestionSnapshot]{max: maxSnapshots},
		groupSuggestions: batchCache[platformKey, *groupSuggestionSnapshot]{max: maxSnapshots},
	}
}

// platformKey names a platform's records as seen by one batch.
type platformKey struct{ batch, platform string }

// batchCache computes a value once per key and shares it with concurrent
// callers, who wait for the one load. It keeps the most recent max keys. A
// load that fails is not kept: the next caller loads again. The keys carry
// the batch id, so a batch never sees another's (older) values.
type batchCache[K comparable, V any] struct {
	max int

	mu      sync.Mutex
	entries map[K]*cacheEntry[V]
	order   []K // oldest first
}

type cacheEntry[V any] struct {
	ready chan struct{} // closed once loaded
	val   V
	err   error
}

// get returns key's value, calling load when it has none. A caller whose
// ctx ends while it waits gets ctx's error; one that waited for another
// caller's load cut short by that caller's context loads again.
func (c *batchCache[K, V]) get(ctx context.Context, key K, load func() (V, error)) (V, error) {
	for {
		e, owner := c.entry(key)
		if owner {
			e.val, e.err = load()
			if e.err != nil {
				c.forget(key, e)
			}
			close(e.ready)
		}
		select {
		case <-e.ready:
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
		if !owner && isContextErr(e.err) {
			continue
		}
		return e.val, e.err
	}
}

// entry returns key's entry, making it when absent; owner reports that
// the caller made it and must load it.
func (c *batchCache[K, V]) entry(key K) (e *cacheEntry[V], owner bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		return e, false
	}
	if c.entries == nil {
		c.entries = map[K]*cacheEntry[V]{}
	}
	e = &cacheEntry[V]{ready: make(chan struct{})}
	c.entries[key] = e
	c.order = append(c.order, key)
	if len(c.order) > c.max {
		delete(c.entries, c.order[0])
		c.order = slices.Delete(c.order, 0, 1)
	}
	return e, true
}

// forget drops key's entry e, unless it was replaced meanwhile.
func (c *batchCache[K, V]) forget(key K, e *cacheEntry[V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] != e {
		return
	}
	delete(c.entries, key)
	if i := slices.Index(c.order, key); i >= 0 {
		c.order = slices.Delete(c.order, i, i+1)
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// errTooMany ends a snapshot of a list longer than its limit.
var errTooMany = errors.New("too many records to read whole")

// eachItem calls visit with the items of a paged list in order, from page
// 1, until visit returns false, a page is empty, count items were seen or
// there is no next page. A 404 past page 1 ends the list (DRF's "Invalid
// page"). A list with more than limit items (when limit > 0) ends with
// errTooMany before any item is visited. Errors of list are returned as
// they are: the caller decides on retries.
func eachItem[T any](ctx context.Context, limit int, list func(ctx context.Context, page int) (dmapi.Page[T], error), visit func(*T) bool) error {
	seen := 0
	for page := 1; ; page++ {
		p, err := list(ctx, page)
		if err != nil {
			if page > 1 && dmapi.StatusOf(err) == 404 {
				return nil
			}
			return err
		}
		if page == 1 && limit > 0 && p.Count > limit {
			return errTooMany
		}
		for i := range p.Results {
			if !visit(&p.Results[i]) {
				return nil
			}
		}
		seen += len(p.Results)
		if len(p.Results) == 0 || (p.Count > 0 && seen >= p.Count) || (p.Count == 0 && !p.HasNext()) {
			return nil
		}
	}
}

// retried wraps a page fetch in w.retry, for snapshot loads that run
// outside a row's own retry loop.
func retried[T any](w *Worker, list func(ctx context.Context, page int) (dmapi.Page[T], error)) func(ctx context.Context, page int) (dmapi.Page[T], error) {
	return func(ctx context.Context, page int) (dmapi.Page[T], error) {
		var p dmapi.Page[T]
		_, err := w.retry(ctx, func() error {
			var err error
			p, err = list(ctx, page)
			return err
		})
		return p, err
	}
}
