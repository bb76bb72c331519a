package importers

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// csvSource reads rows from CSV with a header row.
type csvSource struct {
	r      *csv.Reader
	br     *bufio.Reader // what r reads from
	m      *meter
	lim    Limits
	header []string // as written in the file
	cols   []int    // column -> schema field index, -1 to ignore
	record []string // the last record read
	last   int      // line of the last field read
}

func newCSVSource(br *bufio.Reader, m *meter, schema *Schema, opts Options) (*csvSource, *Schema, error) {
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	switch {
	case errors.Is(err, io.EOF):
		return nil, nil, fileErr(0, ErrEmptyFile, "the file is empty")
	case errors.Is(err, errRowTooLarge):
		return nil, nil, fileErr(1, ErrTooLarge, "the header row is longer than %d bytes", opts.Limits.MaxRowBytes)
	case err != nil:
		return nil, nil, fileErr(1, ErrBadHeader, "cannot read the header row: %v", err)
	case r.InputOffset() > int64(opts.Limits.MaxRowBytes):
		return nil, nil, fileErr(1, ErrTooLarge, "the header row is longer than %d bytes", opts.Limits.MaxRowBytes)
	}
	if len(header) > opts.Limits.MaxColumns {
		return nil, nil, fileErr(1, ErrBadHeader, "%d columns, more than the limit of %d", len(header), opts.Limits.MaxColumns)
	}
	header = append([]string(nil), header...)
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
		if header[i] == "" {
			return nil, nil, fileErr(1, ErrBadHeader, "column %d has no name", i+1)
		}
	}
	if schema == nil {
		if schema, err = detect(header, opts.NameHint); err != nil {
			return nil, nil, kindErr(1, err)
		}
	}
	s := &csvSource{r: r, br: br, m: m, lim: opts.Limits, header: header, cols: make([]int, len(header))}
	s.last, _ = r.FieldPos(len(header) - 1) // the header's last line: rows start after it
	seen := make(map[string]bool, len(header))
	var unknown []string
	for i, h := range header {
		name := schema.canonical(h)
		if name == "" {
			s.cols[i] = -1
			unknown = append(unknown, h)
			continue
		}
		if seen[name] {
			return nil, nil, fileErr(1, ErrBadHeader, "column %q appears twice", name)
		}
		seen[name] = true
		s.cols[i] = schema.index(name)
	}
	if len(unknown) > 0 && !opts.IgnoreUnknown {
		return nil, nil, fileErr(1, ErrBadHeader, "unknown columns for %s: %s (pass --ignore-unknown to skip them)", schema.Kind, strings.Join(unknown, ", "))
	}
	m.mark = r.InputOffset()
	return s, schema, nil
}

func (s *csvSource) next(vals *rowValues) (*RowError, error) {
	rec, rerr, err := s.read(vals)
	if rerr != nil || err != nil {
		return rerr, err
	}
	if s.m.crlf.any() {
		s.keepCRLF(rec)
	}
	if len(rec) != len(s.cols) {
		return rowErr(vals.line, "", ErrFieldCount, "%d cells, the header has %d columns", len(rec), len(s.cols)), nil
	}
	var first *RowError
	for i, cell := range rec {
		fi := s.cols[i]
		if fi < 0 {
			continue
		}
		v, rerr := vals.schema.Fields[fi].fromText(vals.line, cell, s.lim)
		if rerr != nil && first == nil {
			first = rerr
		}
		vals.vals[fi] = v
	}
	return first, nil
}

// read reads the next record and sets vals.line. A record that is not
// valid CSV is a row error.
func (s *csvSource) read(vals *rowValues) ([]string, *RowError, error) {
	start := s.r.InputOffset()
	rec, err := s.r.Read()
	defer func() { s.m.mark = s.r.InputOffset() }()
	s.record = rec
	if err != nil {
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe) && s.r.InputOffset()-start > int64(s.lim.MaxRowBytes):
			return nil, nil, fileErr(pe.StartLine, ErrTooLarge, "a row longer than %d bytes (raise --max-row-bytes)", s.lim.MaxRowBytes)
		case errors.As(err, &pe):
			vals.line, s.last = pe.StartLine, pe.Line
			s.m.crlf.forget(pe.StartLine)
			return nil, rowErr(pe.StartLine, "", ErrMalformedCSV, "%s", s.malformed(pe, rec)), nil
		case errors.Is(err, io.EOF):
			return nil, nil, io.EOF
		case errors.Is(err, errRowTooLarge):
			return nil, nil, fileErr(s.last+1, ErrTooLarge, "a row longer than %d bytes (raise --max-row-bytes)", s.lim.MaxRowBytes)
		default:
			return nil, nil, fmt.Errorf("read csv: %w", err)
		}
	}
	vals.line, _ = s.r.FieldPos(0)
	s.last, _ = s.r.FieldPos(len(rec) - 1)
	s.m.crlf.forget(vals.line)
	if s.r.InputOffset()-start > int64(s.lim.MaxRowBytes) {
		return nil, nil, fileErr(vals.line, ErrTooLarge, "a row longer than %d bytes (raise --max-row-bytes)", s.lim.MaxRowBytes)
	}
	return rec, nil, nil
}

// malformed explains why a record is not valid CSV. A quoted cell that
// is not closed makes encoding/csv read the rest of the file into that
// cell, so that the rows after it are lost to that one error: it says so,
// and from which line. rec holds the cells read before the error.
func (s *csvSource) malformed(pe *csv.ParseError, rec []string) string {
	if !errors.Is(pe.Err, csv.ErrQuote) {
		return pe.Err.Error()
	}
	// The cell in error starts on the line where the cell before it ends.
	line := pe.StartLine
	if n := len(rec); n > 0 {
		start, _ := s.r.FieldPos(n - 1)
		line = start + strings.Count(rec[n-1], "\n")
	}
	if _, err := s.br.Peek(1); line == pe.Line || !errors.Is(err, io.EOF) {
		return pe.Err.Error()
	}
	return fmt.Sprintf("the quoted cell that starts on line %d is not closed (a quote closes a cell only before a comma or a line end; a quote inside a cell is written twice), so the rest of the file, from line %d to line %d, was read as part of that cell", line, line+1, pe.Line)
}

// keepCRLF gives the cells of the last record the line breaks they were
// written with: a newline in a cell is a line end inside quotes, and
// encoding/csv has turned each "\r\n" into "\n".
func (s *csvSource) keepCRLF(rec []string) {
	for i, cell := range rec {
		if strings.IndexByte(cell, '\n') < 0 {
			continue
		}
		line, _ := s.r.FieldPos(i)
		var b strings.Builder
		b.Grow(len(cell) + strings.Count(cell, "\n"))
		for {
			j := strings.IndexByte(cell, '\n')
			if j < 0 {
				break
			}
			b.WriteString(cell[:j])
			if s.m.crlf.at(line) {
				b.WriteByte('\r')
			}
			b.WriteByte('\n')
			cell = cell[j+1:]
			line++
		}
		b.WriteString(cell)
		rec[i] = b.String()
	}
}

func (s *csvSource) skip() error {
	var vals rowValues
	_, _, err := s.read(&vals)
	return err
}

func (s *csvSource) raw() ([]string, []byte) { return s.record, nil }
