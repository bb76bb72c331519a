package ingest

import (
	"crypto/sha256"
	"io"
)

// hashingReader passes reads through and hashes what they read with
// SHA-256 in a goroutine of its own, so that hashing adds nothing to the
// time of the goroutine that parses the file. It is used by one goroutine.
type hashingReader struct {
	r     io.Reader
	full  chan []byte // copies of what was read, to hash
	free  chan []byte // copies the hasher is done with
	sum   chan []byte
	ended bool
}

// hashBuffers bounds the copies in flight; free holds every buffer there
// can be (hashBuffers in full, one being hashed, one being filled).
const hashBuffers = 4

func newHashingReader(r io.Reader) *hashingReader {
	h := &hashingReader{
		r:    r,
		full: make(chan []byte, hashBuffers),
		free: make(chan []byte, hashBuffers+2),
		sum:  make(chan []byte, 1),
	}
	go func() {
		d := sha256.New()
		for b := range h.full {
			d.Write(b)
			h.free <- b
		}
		h.sum <- d.Sum(nil)
	}()
	return h
}

// Read reads from the underlying reader and queues a copy for hashing.
func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 && !h.ended {
		var b []byte
		select {
		case b = <-h.free:
		default:
		}
		h.full <- append(b[:0], p[:n]...)
	}
	return n, err
}

// Sum returns the SHA-256 of everything read, once the hasher has caught
// up. Reads after Sum are not hashed.
func (h *hashingReader) Sum() []byte {
	h.end()
	return <-h.sum
}

// end stops the hasher; it may be called more than once.
func (h *hashingReader) end() {
	if !h.ended {
		h.ended = true
		close(h.full)
	}
}
