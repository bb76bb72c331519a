package hrsync

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulksync/bulksync/mapping"
)

// ErrNoSource is the error of a source that names nothing to read: no
// file in the drop folder matches the glob.
var ErrNoSource = errors.New("nothing to read")

// opened is a source ready to read.
type opened struct {
	io.ReadCloser
	name   string         // the file or URL read (without credentials)
	format mapping.Format // told by content type or extension; auto otherwise
}

// open opens the sync's source: the file, the newest file of the drop
// folder matching the glob, or the URL (GET, with the credentials the
// environment holds). An HTTP answer other than 200 is an error.
func (s *Sync) open(ctx context.Context, getenv func(string) string, client *http.Client) (*opened, error) {
	src := s.Source
	switch {
	case src.File != "":
		p := s.path(src.File)
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		return &opened{ReadCloser: f, name: p, format: formatOfName(p)}, nil
	case src.Dir != "":
		p, err := newest(s.path(src.Dir), src.Glob)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		return &opened{ReadCloser: f, name: p, format: formatOfName(p)}, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("source url: %w", err)
	}
	switch {
	case src.BearerEnv != "":
		tok := getenv(src.BearerEnv)
		if tok == "" {
			return nil, fmt.Errorf("source: %s (bearer_env) is not set", src.BearerEnv)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case src.BasicEnv != "":
		cred := getenv(src.BasicEnv)
		if !strings.Contains(cred, ":") {
			return nil, fmt.Errorf("source: %s (basic_env) must hold user:password", src.BasicEnv)
		}
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	}
	name := redactURL(src.URL)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, errors.Unwrap(err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("source %s: HTTP %s", name, resp.Status)
	}
	format := formatOfType(resp.Header.Get("Content-Type"))
	if format == mapping.FormatAuto {
		format = formatOfName(req.URL.Path)
	}
	return &opened{ReadCloser: resp.Body, name: name, format: format}, nil
}

// newest returns the most recently modified file of dir matching glob
// (the later name on a tie).
func newest(dir, glob string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, glob))
	if err != nil {
		return "", fmt.Errorf("source glob: %w", err)
	}
	var best string
	var bestTime time.Time
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if best == "" || fi.ModTime().After(bestTime) || (fi.ModTime().Equal(bestTime) && m > best) {
			best, bestTime = m, fi.ModTime()
		}
	}
	if best == "" {
		return "", fmt.Errorf("source: %w: no file in %s matches %q", ErrNoSource, dir, glob)
	}
	return best, nil
}

// formatOfName tells the format by a file's extension.
func formatOfName(name string) mapping.Format {
	switch strings.ToLower(path.Ext(name)) {
	case ".csv", ".txt":
		return mapping.FormatCSV
	case ".json", ".ndjson", ".jsonl":
		return mapping.FormatJSON
	}
	return mapping.FormatAuto
}

// formatOfType tells the format by an HTTP Content-Type.
func formatOfType(ct string) mapping.Format {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return mapping.FormatAuto
	}
	switch {
	case mt == "text/csv", mt == "application/csv":
		return mapping.FormatCSV
	case mt == "application/json", mt == "application/x-ndjson", strings.HasSuffix(mt, "+json"):
		return mapping.FormatJSON
	}
	return mapping.FormatAuto
}

// redactURL drops a URL's credentials and query (which may hold a token).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unreadable URL)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
