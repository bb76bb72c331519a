package service

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// spool is an upload kept on disk while it is imported: the body is
// streamed to it, never held whole in memory, and read back twice by
// ingest.Import.
type spool struct {
	f *os.File
}

// newSpool creates an empty spool file in dir.
func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, "bulksync-upload-*")
	if err != nil {
		return nil, fmt.Errorf("create spool file: %w", err)
	}
	return &spool{f: f}, nil
}

// fill copies r to the spool.
func (s *spool) fill(r io.Reader) error {
	_, err := io.Copy(s.f, r)
	return err
}

// open opens the spooled content afresh: an ingest.Opener.
func (s *spool) open() (io.ReadCloser, error) { return os.Open(s.f.Name()) }

// remove closes and deletes the spool file.
func (s *spool) remove() {
	_ = s.f.Close()
	_ = os.Remove(s.f.Name())
}

// tooLarge reports whether err is http.MaxBytesReader's: the body went
// over the limit.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// writeTooLarge answers 413 for a body over limit bytes.
func writeTooLarge(w http.ResponseWriter, limit int64) {
	writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("The request body is larger than %d bytes (--max-upload).", limit))
}
