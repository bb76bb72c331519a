package hrsync

import (
	"cmp"
	"slices"
)

// snapshotIndex is a plan's table of the snapshot's keys: per key the
// 64-bit hash of its name and its row fingerprint, 16 bytes a key, so
// that a million keys take 16 MB (a Go map of the same took 49 MB). The
// entries sit in 4,096 slices by the top bits of their hashes, each
// sorted once complete: the table grows a slice at a time while the
// snapshot is read, never all of it at once, and a look-up is a binary
// search among a few hundred neighbours.
type snapshotIndex struct {
	buckets [1 << indexBits][]indexEntry
	start   [1<<indexBits + 1]int // start[b]: the position of buckets[b]'s first entry
	seen    []uint64              // bit p: the entry at position p was named by the source
	misses  map[uint64]int        // by hash: consecutive runs missed, when any
}

type indexEntry struct{ hash, fp uint64 }

const indexBits = 12

// add records a key of the snapshot: its hash, row fingerprint and
// consecutive runs missed. Call build once every key is added.
func (x *snapshotIndex) add(hash, fp uint64, misses int) {
	b := &x.buckets[hash>>(64-indexBits)]
	*b = append(*b, indexEntry{hash, fp})
	if misses > 0 {
		if x.misses == nil {
			x.misses = map[uint64]int{}
		}
		x.misses[hash] = misses
	}
}

// build sorts the entries and numbers them.
func (x *snapshotIndex) build() {
	for i, b := range x.buckets {
		slices.SortFunc(b, func(a, b indexEntry) int { return cmp.Compare(a.hash, b.hash) })
		x.start[i+1] = x.start[i] + len(b)
	}
	x.seen = make([]uint64, (x.start[len(x.buckets)]+63)/64)
}

// find returns the position of hash's entry and its row fingerprint, or
// -1.
func (x *snapshotIndex) find(hash uint64) (pos int, fp uint64) {
	top := hash >> (64 - indexBits)
	b := x.buckets[top]
	i, ok := slices.BinarySearchFunc(b, hash, func(e indexEntry, h uint64) int { return cmp.Compare(e.hash, h) })
	if !ok {
		return -1, 0
	}
	return x.start[top] + i, b[i].fp
}

// missed returns how many consecutive runs the key of hash was missing
// from.
func (x *snapshotIndex) missed(hash uint64) int { return x.misses[hash] }

// see marks the entry at pos as named by the source, and reports whether
// it was not yet.
func (x *snapshotIndex) see(pos int) bool {
	w, bit := pos/64, uint64(1)<<(pos%64)
	if x.seen[w]&bit != 0 {
		return false
	}
	x.seen[w] |= bit
	return true
}

// seenAt reports whether the entry at pos was named by the source.
func (x *snapshotIndex) seenAt(pos int) bool { return x.seen[pos/64]&(1<<(pos%64)) != 0 }
