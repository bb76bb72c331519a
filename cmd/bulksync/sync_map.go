package main

import (
	"io"
	"os"
	"strings"

	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/ingest"
	"github.com/bulksync/bulksync/mapping"
)

// mapFlag collects the values of import --map (repeatable).
type mapFlag []string

func (m *mapFlag) String() string { return strings.Join(*m, " ") }

func (m *mapFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}

// importMapping compiles import's --map values and sets the importer's
// options for the mapped stream: JSON (the mapper's output) and the
// spec's defaults (under --platform-key's). It returns nil when no --map
// was given.
func importMapping(values mapFlag, ropts *importers.Options) (*mapping.Mapper, error) {
	if len(values) == 0 {
		return nil, nil
	}
	spec, err := mapping.ParseFlags(values)
	if err != nil {
		return nil, usagef("--map: %v", err)
	}
	m, err := mapping.New(spec)
	if err != nil {
		return nil, usagef("--map: %v", err)
	}
	ropts.Format = importers.FormatJSON
	defaults := map[string]string{}
	for k, v := range spec.Defaults {
		defaults[k] = v
	}
	for k, v := range ropts.Defaults {
		defaults[k] = v
	}
	ropts.Defaults = defaults
	return m, nil
}

// mappedOpener opens path through the mapper, for each of ingest's
// passes.
func mappedOpener(path string, m *mapping.Mapper) ingest.Opener {
	return func() (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		st, err := m.Open(f, mapping.FormatAuto)
		if err != nil {
			f.Close()
			if err == io.EOF {
				// Let the importers report the empty file as they do.
				return io.NopCloser(strings.NewReader("")), nil
			}
			return nil, usagef("%s: %v", path, err)
		}
		return closeBoth{st, f}, nil
	}
}

// closeBoth closes the mapped stream, then its file.
type closeBoth struct {
	*mapping.Stream
	f *os.File
}

func (c closeBoth) Close() error {
	err := c.Stream.Close()
	_ = c.f.Close()
	return err
}
