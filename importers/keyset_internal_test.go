package importers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeySet(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		hint int
		keys int
	}{
		{"no hint, grows", 0, 50_000},
		{"exact hint", 50_000, 50_000},
		{"hint too small", 10, 5_000},
		{"hint too large", 1_000_000, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, uint64(tt.keys)))
			s := newKeySet(tt.hint)
			want := map[uint64]int{}
			for line := 2; len(want) < tt.keys; line++ {
				h := rng.Uint64() % (2 * uint64(tt.keys)) // about half the adds repeat a key
				first, dup := s.add(h+2, line)
				if prev, ok := want[h+2]; ok {
					require.True(t, dup, "hash %d was added on line %d", h+2, prev)
					require.Equal(t, prev, first)
					continue
				}
				require.False(t, dup, "hash %d is new on line %d", h+2, line)
				want[h+2] = line
			}
			require.Equal(t, len(want), s.n)
			require.LessOrEqual(t, s.n*10, len(s.hashes)*keySetLoad)
		})
	}
}

func TestKeySetEdges(t *testing.T) {
	t.Parallel()
	s := newKeySet(0)
	_, dup := s.add(0, 2)
	require.False(t, dup)
	first, dup := s.add(0, 3)
	require.True(t, dup, "a hash of 0 is a key like any other")
	require.Equal(t, 2, first)
	_, dup = s.add(math.MaxUint64, math.MaxInt64)
	require.False(t, dup)
	first, dup = s.add(math.MaxUint64, 9)
	require.True(t, dup)
	require.Equal(t, math.MaxUint32, first, "lines beyond 32 bits saturate")
}
