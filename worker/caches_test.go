package worker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBatchCache(t *testing.T) {
	t.Parallel()
	errLoad := errors.New("load failed")
	for _, tt := range []struct {
		name      string
		max       int
		sized     bool // values are sized by their length, at most maxSize
		maxSize   int
		gets      []string // keys starting with "!" fail to load
		wantLoads []string
		wantKept  []string // oldest first
		wantHeld  int
	}{
		{
			name:      "KeepsTheNewestKeys",
			max:       2,
			gets:      []string{"a", "b", "c", "b", "a"},
			wantLoads: []string{"a", "b", "c", "a"},
			wantKept:  []string{"c", "a"},
		},
		{
			name:      "KeepsTheNewestValuesBySize",
			max:       10,
			sized:     true,
			maxSize:   5,
			gets:      []string{"aaa", "bb", "cc", "bb", "aaa"},
			wantLoads: []string{"aaa", "bb", "cc", "aaa"},
			wantKept:  []string{"cc", "aaa"},
			wantHeld:  5,
		},
		{
			name:      "KeepsTheValueJustLoaded",
			max:       10,
			sized:     true,
			maxSize:   2,
			gets:      []string{"aaa", "aaa", "b"},
			wantLoads: []string{"aaa", "b"},
			wantKept:  []string{"b"},
			wantHeld:  1,
		},
		{
			name:      "CountLimitWithSizes",
			max:       1,
			sized:     true,
			maxSize:   100,
			gets:      []string{"aa", "bbb"},
			wantLoads: []string{"aa", "bbb"},
			wantKept:  []string{"bbb"},
			wantHeld:  3,
		},
		{
			name:      "FailedLoadIsNotKept",
			max:       10,
			sized:     true,
			maxSize:   10,
			gets:      []string{"!x", "!x", "a", "a"},
			wantLoads: []string{"!x", "!x", "a"},
			wantKept:  []string{"a"},
			wantHeld:  1,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := batchCache[string, string]{max: tt.max, maxSize: tt.maxSize}
			if tt.sized {
				c.size = func(v string) int { return len(v) }
			}
			var loads []string
			for _, key := range tt.gets {
				v, err := c.get(t.Context(), key, func() (string, error) {
					loads = append(loads, key)
					if strings.HasPrefix(key, "!") {
						return "", errLoad
					}
					return key, nil
				})
				if strings.HasPrefix(key, "!") {
					require.ErrorIs(t, err, errLoad)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, key, v)
			}
			require.Equal(t, tt.wantLoads, loads)
			require.Equal(t, tt.wantKept, c.order)
			require.Len(t, c.entries, len(tt.wantKept))
			require.Equal(t, tt.wantHeld, c.held)
		})
	}
}

func TestBatchCacheSharesOneLoad(t *testing.T) {
	t.Parallel()
	c := batchCache[string, int]{max: 10}
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	loads := 0
	load := func() (int, error) {
		mu.Lock()
		loads++
		mu.Unlock()
		close(started)
		<-release
		return 42, nil
	}
	var wg sync.WaitGroup
	got := make([]int, 5)
	wg.Go(func() { got[0], _ = c.get(t.Context(), "k", load) })
	<-started
	for i := 1; i < len(got); i++ {
		wg.Go(func() { got[i], _ = c.get(t.Context(), "k", load) })
	}
	close(release)
	wg.Wait()
	require.Equal(t, []int{42, 42, 42, 42, 42}, got)
	require.Equal(t, 1, loads)
}

// TestBatchCacheCancelledLoad: a load cut short by its caller's context
// is not kept, and another caller loads again instead of getting that
// caller's context error.
func TestBatchCacheCancelledLoad(t *testing.T) {
	t.Parallel()
	c := batchCache[string, int]{max: 10}
	ownerCtx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	ownerDone := make(chan error)
	go func() {
		_, err := c.get(ownerCtx, "k", func() (int, error) {
			close(started)
			<-ownerCtx.Done()
			return 0, ownerCtx.Err()
		})
		ownerDone <- err
	}()
	<-started
	var waiterVal int
	var waiterErr error
	waiterDone := make(chan struct{})
	go func() {
		defer close(waiterDone)
		waiterVal, waiterErr = c.get(t.Context(), "k", func() (int, error) { return 7, nil })
	}()
	cancel()
	require.ErrorIs(t, <-ownerDone, context.Canceled)
	<-waiterDone
	require.NoError(t, waiterErr)
	require.Equal(t, 7, waiterVal)
	require.Equal(t, []string{"k"}, c.order)
}
