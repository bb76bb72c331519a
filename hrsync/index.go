package hrsync

import (
	"cmp"
	"math/bits"
	"slices"
)

// snapshotIndex is a plan's table of the snapshot's keys: per key the
// 64-bit hash of its name and its row fingerprint, 16 bytes a key in one
// slice sorted by hash, so that a million keys take 16 MB (a Go map of
// the same took 49 MB). A directory of the hashes' top bits narrows a
// look-up to about 8 neighbouring entries.
type snapshotIndex struct {
	entries []indexEntry
	dir     []uint32 // dir[p]: the first entry whose hash's top bits are >= p
	shift   uint     // 64 - the directory's bits
	seen    []uint64 // bit i: entries[i]'s key was in the source
	misses  map[uint64]int
}

type indexEntry struct{ hash, fp uint64 }

// add records a key of the snapshot: its hash, row fingerprint and
// consecutive runs missed. Call build once every key is added.
func (x *snapshotIndex) add(hash, fp uint64, misses int) {
	x.entries = append(x.entries, indexEntry{hash, fp})
	if misses > 0 {
		if x.misses == nil {
			x.misses = map[uint64]int{}
		}
		x.misses[hash] = misses
	}
}

// build sorts the entries and makes the directory.
func (x *snapshotIndex) build() {
	slices.SortFunc(x.entries, func(a, b indexEntry) int { return cmp.Compare(a.hash, b.hash) })
	n := len(x.entries)
	b := bits.Len(uint(n / 8))
	x.shift = uint(64 - b) // a shift by 64 gives 0: one slot
	x.dir = make([]uint32, 1<<b+1)
	p := 0
	for i, e := range x.entries {
		for top := int(e.hash >> x.shift); p <= top; p++ {
			x.dir[p] = uint32(i)
		}
	}
	for ; p < len(x.dir); p++ {
		x.dir[p] = uint32(n)
	}
	x.seen = make([]uint64, (n+63)/64)
}

// find returns the position of hash's entry, or -1.
func (x *snapshotIndex) find(hash uint64) int {
	if len(x.entries) == 0 {
		return -1
	}
	top := hash >> x.shift
	lo, hi := int(x.dir[top]), int(x.dir[top+1])
	i, ok := slices.BinarySearchFunc(x.entries[lo:hi], hash, func(e indexEntry, h uint64) int { return cmp.Compare(e.hash, h) })
	if !ok {
		return -1
	}
	return lo + i
}

// fp returns the row fingerprint of the entry at i.
func (x *snapshotIndex) fp(i int) uint64 { return x.entries[i].fp }

// missed returns how many consecutive runs the key of the entry at i was
// missing from.
func (x *snapshotIndex) missed(i int) int { return x.misses[x.entries[i].hash] }

// see marks the entry at i as named by the source, and reports whether it
// was not yet.
func (x *snapshotIndex) see(i int) bool {
	w, bit := i/64, uint64(1)<<(i%64)
	if x.seen[w]&bit != 0 {
		return false
	}
	x.seen[w] |= bit
	return true
}

// seenAt reports whether the entry at i was named by the source.
func (x *snapshotIndex) seenAt(i int) bool { return x.seen[i/64]&(1<<(i%64)) != 0 }
