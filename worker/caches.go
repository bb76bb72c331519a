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
	// maxSnapshot is the most records a snapshot holds; a platform with
	// more is looked up row by row.
	maxSnapshot = 200_000
	// maxSnapshots is how many snapshots of each kind a worker keeps at
	// once (a file may name many platforms). The license snapshots
	// together also hold at most maxSnapshot licenses, the oldest going
	// first.
	maxSnapshots = 64
)

// caches are the look-ups a worker shares between the chunks of a batch.
type caches struct {
	licenses         batchCache[licenseRef, int64]
	licenseSnapshots batchCache[licenseSnapshotKey, *licenseSnapshot]
	suggestions      batchCache[platformKey, *suggestionSnapshot]
	groupSuggestions batchCache[platformKey, *groupSuggestionSnapshot]
}

func newCaches() *caches {
	return &caches{
		licenses: batchCache[licenseRef, int64]{max: maxLicenseRefs},
		licenseSnapshots: batchCache[licenseSnapshotKey, *licenseSnapshot]{
			max: maxSnapshots, size: (*licenseSnapshot).size, maxSize: maxSnapshot,
		},
		suggestions:      batchCache[platformKey, *suggestionSnapshot]{max: maxSnapshots},
		groupSuggestions: batchCache[platformKey, *groupSuggestionSnapshot]{max: maxSnapshots},
	}
}

// platformKey names a platform's records as seen by one batch.
type platformKey struct{ batch, platform string }

// batchCache computes a value once per key and shares it with concurrent
// callers, who wait for the one load. It keeps the most recent max keys
// and, when size is set, values of a total size of at most maxSize,
// dropping the oldest first but never the value just loaded. A load that
// fails is not kept: the next caller loads again. The keys carry the batch
// id, so a batch never sees another's (older) values.
type batchCache[K comparable, V any] struct {
	max     int
	size    func(V) int // the size of a loaded value; nil: sizes are not counted
	maxSize int

	mu      sync.Mutex
	entries map[K]*cacheEntry[V]
	order   []K // oldest first
	held    int // the size of the loaded values kept
}

type cacheEntry[V any] struct {
	ready chan struct{} // closed once loaded
	val   V
	err   error
	size  int // counted in held once loaded; 0 while loading
}

// get returns key's value, calling load when it has none. A caller whose
// ctx ends while it waits gets ctx's error; one that waited for another
// caller's load cut short by that caller's context loads again.
func (c *batchCache[K, V]) get(ctx context.Context, key K, load func() (V, error)) (V, error) {
	for {
		e, owner := c.entry(key)
		if owner {
			e.val, e.err = load()
			c.loaded(key, e)
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
	c.trim(key)
	return e, true
}

// loaded settles key's entry e after its load: a failed one is dropped, a
// value's size is counted. An entry dropped meanwhile stays dropped.
func (c *batchCache[K, V]) loaded(key K, e *cacheEntry[V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.entries[key] != e:
	case e.err != nil:
		c.drop(key)
	case c.size != nil:
		e.size = c.size(e.val)
		c.held += e.size
		c.trim(key)
	}
}

// trim drops the oldest entries other than keep while there are more
// than max or, when sizes are counted, they hold more than maxSize.
// Callers hold c.mu.
func (c *batchCache[K, V]) trim(keep K) {
	for i := 0; i < len(c.order) && (len(c.order) > c.max || (c.size != nil && c.held > c.maxSize)); {
		if c.order[i] == keep {
			i++
			continue
		}
		c.drop(c.order[i])
	}
}

// drop removes key's entry. Callers hold c.mu.
func (c *batchCache[K, V]) drop(key K) {
	c.held -= c.entries[key].size
	delete(c.entries, key)
	if i := slices.Index(c.order, key); i >= 0 {
		c.order = slices.Delete(c.order, i, i+1)
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
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
