package importers

import (
	"math"
	"math/bits"
)

// keySet remembers the 64-bit hashes of the keys a file has used, each with
// the line of its first row. It is an open-addressing table with linear
// probing, 12 bytes a slot: about a third of a Go map of the same keys, so
// that the keys of a file of millions of rows stay within an import's
// memory budget.
type keySet struct {
	hashes []uint64 // 0 marks an empty slot; a hash of 0 is stored as 1
	lines  []uint32 // saturated at math.MaxUint32
	n      int
}

// keySetLoad bounds the share of used slots (in tenths), which keeps
// probe sequences short.
const keySetLoad = 7

// newKeySet returns a set sized for hint keys without growing. The table
// is sized to the hint, not to a power of two, which would waste up to
// half of it.
func newKeySet(hint int) keySet {
	size := max(16, hint*10/keySetLoad+1)
	return keySet{hashes: make([]uint64, size), lines: make([]uint32, size)}
}

// add records hash h, first seen on line, unless the set holds it. It
// returns whether the set held it, and then the line of its first row.
func (s *keySet) add(h uint64, line int) (first int, dup bool) {
	if h == 0 {
		h = 1
	}
	if (s.n+1)*10 > len(s.hashes)*keySetLoad {
		s.grow()
	}
	// The slot is h scaled to the table's size (h is uniform), then
	// linear probing, wrapping at the end.
	i, _ := bits.Mul64(h, uint64(len(s.hashes)))
	for ; ; i++ {
		if i == uint64(len(s.hashes)) {
			i = 0
		}
		switch s.hashes[i] {
		case 0:
			s.hashes[i], s.lines[i] = h, uint32(min(line, math.MaxUint32))
			s.n++
			return 0, false
		case h:
			return int(s.lines[i]), true
		}
	}
}

// grow doubles the table.
func (s *keySet) grow() {
	old := *s
	*s = keySet{hashes: make([]uint64, 2*len(old.hashes)), lines: make([]uint32, 2*len(old.hashes))}
	for i, h := range old.hashes {
		if h != 0 {
			s.add(h, int(old.lines[i]))
		}
	}
}
