package service

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/ingest"
)

// imports serves POST /v1/imports?kind=KIND&platform_key=&chunk_size=
// &dry_run=&new_batch=: a CSV or JSON file, as the raw body or the first
// file of a multipart form, spooled to disk as it streams in, then
// imported as bulksync import does. The answer is 202 with the batch.
func (s *Service) imports(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, http.MethodPost)
		return
	}
	opts, perr := importOptions(r)
	if perr != "" {
		writeError(w, http.StatusBadRequest, codeInvalidParameter, perr)
		return
	}
	opts.Queue = s.cfg.ImportQueue
	// A keyed retry is answered before its body is read.
	if id, ok, err := s.idempotent(r.Context(), r); err != nil {
		s.internal(w, err)
		return
	} else if ok {
		m, err := s.cfg.Store.Get(r.Context(), id)
		if err != nil {
			s.batchError(w, err)
			return
		}
		writeAccepted(w, m, true)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload)
	sp, err := newSpool(s.cfg.SpoolDir)
	if err != nil {
		s.internal(w, err)
		return
	}
	defer sp.remove()
	name, err := receive(r, sp)
	switch {
	case tooLarge(err):
		writeTooLarge(w, s.cfg.MaxUpload)
		return
	case errors.Is(err, errNoFile):
		writeError(w, http.StatusBadRequest, codeInvalidParameter, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, codeInvalidRequest, "read the upload: "+err.Error())
		return
	}
	opts.Source, opts.Reader.NameHint = name, name
	res, err := ingest.Import(r.Context(), sp.open, s.cfg.Store, s.cfg.Queue, opts)
	var fe *importers.FileError
	switch {
	case errors.As(err, &fe):
		// The CLI's message: bulksync import prints "FILE: <error>".
		writeError(w, http.StatusUnprocessableEntity, codeUnreadableFile, fmt.Sprintf("%s: %v", name, fe))
		return
	case err != nil && r.Context().Err() != nil:
		return // the client is gone
	case err != nil:
		s.internal(w, err)
		return
	}
	id, err := s.remember(r.Context(), r, res.Meta.ID)
	if err != nil {
		s.internal(w, err)
		return
	}
	m := res.Meta
	if id != m.ID {
		s.withdraw(r.Context(), res.Meta.ID, res.Existing)
		if m, err = s.cfg.Store.Get(r.Context(), id); err != nil {
			s.batchError(w, err)
			return
		}
	}
	writeAccepted(w, m, res.Existing || id != res.Meta.ID)
}

// importOptions reads the import's query parameters; a wrong one is
// described by the returned message.
func importOptions(r *http.Request) (ingest.Options, string) {
	q := r.URL.Query()
	var opts ingest.Options
	if k := q.Get("kind"); k != "" {
		if _, err := importers.Lookup(importers.Kind(k)); err != nil {
			return opts, "kind: " + err.Error()
		}
		opts.Reader.Kind = importers.Kind(k)
	}
	if p := q.Get("platform_key"); p != "" {
		opts.Reader.Defaults = map[string]string{"platform_key": p}
	}
	if v := q.Get("chunk_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > ingest.MaxChunkSize {
			return opts, fmt.Sprintf("chunk_size must be a whole number from 1 to %d (0: chosen from the file)", ingest.MaxChunkSize)
		}
		opts.ChunkSize = n
	}
	for _, b := range []struct {
		name string
		to   *bool
	}{{"dry_run", &opts.DryRun}, {"new_batch", &opts.NewBatch}} {
		if v := q.Get(b.name); v != "" {
			x, err := strconv.ParseBool(v)
			if err != nil {
				return opts, b.name + " must be true or false"
			}
			*b.to = x
		}
	}
	return opts, ""
}

// errNoFile is a multipart form without a file.
var errNoFile = errors.New("the multipart form holds no file (send it as a file field, or as the raw body)")

// receive streams the upload into sp: the first file part of a
// multipart form, or else the raw body. It returns the file's name
// ("upload" for a raw body without ?name=).
func receive(r *http.Request, sp *spool) (string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "upload"
		}
		return name, sp.fill(r.Body)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return "", err
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return "", errNoFile
		}
		if err != nil {
			return "", err
		}
		if part.FileName() == "" {
			_ = part.Close()
			continue
		}
		name := part.FileName()
		err = sp.fill(part)
		_ = part.Close()
		return name, err
	}
}
