package ingest

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

func TestHashingReader(t *testing.T) {
	t.Parallel()
	data := make([]byte, 1<<20+17)
	for i := range data {
		data[i] = byte(rand.N(256))
	}
	for _, tt := range []struct {
		name string
		in   []byte
		wrap func(io.Reader) io.Reader
	}{
		{"empty", []byte{}, func(r io.Reader) io.Reader { return r }},
		{"whole reads", data, func(r io.Reader) io.Reader { return r }},
		{"one byte at a time", data[:100_000], iotest.OneByteReader},
		{"half reads", data, iotest.HalfReader},
		{"data with EOF", data, iotest.DataErrReader},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHashingReader(tt.wrap(bytes.NewReader(tt.in)))
			got, err := io.ReadAll(h)
			require.NoError(t, err)
			require.Equal(t, tt.in, got, "reads pass through unchanged")
			want := sha256.Sum256(tt.in)
			require.Equal(t, want[:], h.Sum())
			h.end() // ending twice is harmless
			_, err = h.Read(make([]byte, 8))
			require.ErrorIs(t, err, io.EOF, "reading after the end is harmless")
		})
	}
}
