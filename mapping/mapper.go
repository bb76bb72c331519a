// Package mapping turns the rows of an HR export (any columns) into rows
// of a bulksync kind: each API field takes a source column's value through
// a list of transforms, rows can be filtered on a column, and defaults fill
// what a row leaves empty.
//
// A [Mapper] streams a CSV or JSON source and writes the mapped rows as
// JSON objects, one per source row, each starting on the physical line
// where its source row starts (blank lines fill the gaps). The importers
// read that stream as the kind's JSON, so the mapped rows get the kind's
// validation, error codes and the source's line numbers, as an import
// would give them.
package mapping

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Format is a source's syntax.
type Format string

// Source formats.
const (
	FormatAuto Format = ""     // '[' or '{' first is JSON, anything else CSV
	FormatCSV  Format = "csv"  // a header row, then one record a row
	FormatJSON Format = "json" // an array of objects, or one object after another (NDJSON)
)

// Mapper maps source rows to a kind's fields. It is safe for concurrent
// use: every [Mapper.Open] has its own state.
type Mapper struct {
	fields []fieldMap // sorted by field name
	filter []filterRule
}

type fieldMap struct {
	field, column string
	transforms    []Transform
}

type filterRule struct {
	column string
	values []string
}

// New compiles a spec.
func New(s Spec) (*Mapper, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	m := &Mapper{}
	for _, f := range s.Fields() {
		fm := fieldMap{field: f, column: s.Mapping[f]}
		for _, t := range s.Transforms[f] {
			tr, err := ParseTransform(t)
			if err != nil {
				return nil, err
			}
			fm.transforms = append(fm.transforms, tr)
		}
		if fm.column == "" && len(fm.transforms) == 0 {
			continue // a default alone: the importers fill it
		}
		m.fields = append(m.fields, fm)
	}
	for _, col := range slices.Sorted(maps.Keys(s.Filter)) {
		m.filter = append(m.filter, filterRule{column: col, values: s.Filter[col]})
	}
	return m, nil
}

// Stats count what a [Stream] read.
type Stats struct {
	Rows     int // source rows read
	Filtered int // rows left out by the filter
}

// Stream is the mapped rows of one source, as JSON objects: an
// io.ReadCloser to hand to the importers. Close it to stop reading the
// source early.
type Stream struct {
	pr    *io.PipeReader
	stats Stats
	done  chan struct{}
}

// Read implements io.Reader.
func (s *Stream) Read(p []byte) (int, error) { return s.pr.Read(p) }

// Close stops the stream.
func (s *Stream) Close() error {
	err := s.pr.Close()
	<-s.done
	return err
}

// Stats returns the counts of the rows read; they are final once Read
// returned io.EOF.
func (s *Stream) Stats() Stats {
	<-s.done
	return s.stats
}

// ColumnError is a mapped or filtered column the source's header lacks.
type ColumnError struct {
	Field, Column string
	Header        []string
}

func (e *ColumnError) Error() string {
	return fmt.Sprintf("%s: the source has no column %q (its columns: %s)", e.Field, e.Column, strings.Join(e.Header, ", "))
}

// Open starts mapping src. A CSV source's header is read at once, so that
// a mapped column the header lacks fails here with a *ColumnError; a
// source that is empty fails with io.EOF. Other errors (a CSV syntax error)
// end the stream and come out of its Read.
func (m *Mapper) Open(src io.Reader, format Format) (*Stream, error) {
	br := bufio.NewReaderSize(src, 64<<10)
	if b, _ := br.Peek(3); string(b) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3)
	}
	if format == FormatAuto {
		c, err := firstByte(br)
		if err != nil {
			return nil, err
		}
		format = FormatCSV
		if c == '[' || c == '{' {
			format = FormatJSON
		}
	}
	var next func(*sourceRow) error
	switch format {
	case FormatCSV:
		n, err := m.csvRows(br)
		if err != nil {
			return nil, err
		}
		next = n
	case FormatJSON:
		n, err := jsonRows(br)
		if err != nil {
			return nil, err
		}
		next = n
	default:
		return nil, fmt.Errorf("unknown source format %q (csv or json)", format)
	}
	pr, pw := io.Pipe()
	s := &Stream{pr: pr, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		pw.CloseWithError(m.write(pw, next, &s.stats))
	}()
	return s, nil
}

// sourceRow is one row of the source: its line and a way to read a
// column.
type sourceRow struct {
	line int
	get  func(column string) string
}

// write maps every row of next to w.
func (m *Mapper) write(w io.Writer, next func(*sourceRow) error, st *Stats) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	out, last := 1, 0 // the output's current line; the line of the last object written
	var buf []byte
	var row sourceRow
	for {
		err := next(&row)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		st.Rows++
		if !m.keep(&row) {
			st.Filtered++
			continue
		}
		buf = buf[:0]
		switch {
		case row.line == last:
			buf = append(buf, ' ') // objects that share a line (minified JSON) stay on it
		default:
			if last > 0 {
				buf = append(buf, '\n')
				out++
			}
			for ; out < row.line; out++ {
				buf = append(buf, '\n')
			}
		}
		last = row.line
		buf = m.appendObject(buf, &row)
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	if last > 0 {
		_ = bw.WriteByte('\n')
	}
	return bw.Flush()
}

// keep applies the filter.
func (m *Mapper) keep(row *sourceRow) bool {
	for _, f := range m.filter {
		v := strings.TrimSpace(row.get(f.column))
		if !slices.ContainsFunc(f.values, func(want string) bool { return strings.EqualFold(strings.TrimSpace(want), v) }) {
			return false
		}
	}
	return true
}

// appendObject appends the row's mapped fields as a JSON object of
// strings; a field whose value ends up empty is left out, so that the
// kind's defaults and required-field checks see it as absent.
func (m *Mapper) appendObject(b []byte, row *sourceRow) []byte {
	b = append(b, '{')
	n := 0
	for i := range m.fields {
		f := &m.fields[i]
		v := ""
		if f.column != "" {
			v = strings.TrimSpace(row.get(f.column))
		}
		for _, t := range f.transforms {
			v = t.Apply(v)
		}
		if v == "" {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b, _ = appendJSONString(b, f.field)
		b = append(b, ':')
		b, _ = appendJSONString(b, v)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) ([]byte, error) {
	q, err := json.Marshal(s)
	return append(b, q...), err
}

// csvRows reads a CSV header and returns the reader of its rows. Cells
// are trimmed (HR exports pad them); rows may be shorter than the header
// (missing cells are empty).
func (m *Mapper) csvRows(br *bufio.Reader) (func(*sourceRow) error, error) {
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, err
	}
	header := make([]string, len(head))
	index := make(map[string]int, len(head))
	for i, h := range head {
		header[i] = strings.TrimSpace(h)
		if _, dup := index[strings.ToLower(header[i])]; !dup {
			index[strings.ToLower(header[i])] = i
		}
	}
	for _, f := range m.fields {
		if _, ok := index[strings.ToLower(strings.TrimSpace(f.column))]; f.column != "" && !ok {
			return nil, &ColumnError{Field: "mapping of " + f.field, Column: f.column, Header: header}
		}
	}
	for _, f := range m.filter {
		if _, ok := index[strings.ToLower(strings.TrimSpace(f.column))]; !ok {
			return nil, &ColumnError{Field: "filter", Column: f.column, Header: header}
		}
	}
	var rec []string
	get := func(col string) string {
		i, ok := index[strings.ToLower(strings.TrimSpace(col))]
		if !ok || i >= len(rec) {
			return ""
		}
		return rec[i]
	}
	return func(row *sourceRow) error {
		r, err := cr.Read()
		if err != nil {
			return err
		}
		rec = r
		row.line, _ = cr.FieldPos(0)
		row.get = get
		return nil
	}, nil
}

// jsonRows returns the reader of a JSON array of objects, or of objects one
// after another. Values are read as text: strings as they are, numbers as
// written, true and false, null as empty, and objects and arrays as their
// JSON.
func jsonRows(br *bufio.Reader) (func(*sourceRow) error, error) {
	lt := &lineTracker{r: br, line: 1}
	dec := json.NewDecoder(lt)
	dec.UseNumber()
	c, err := firstByte(br)
	if err != nil {
		return nil, err
	}
	array := c == '['
	if array {
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
	}
	obj := map[string]string{}
	get := func(col string) string { return obj[strings.ToLower(strings.TrimSpace(col))] }
	return func(row *sourceRow) error {
		if array && !dec.More() {
			return io.EOF
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		row.line = lt.lineAt(dec.InputOffset() - int64(len(raw)))
		var vals map[string]any
		if err := json.Unmarshal(raw, &vals); err != nil {
			return fmt.Errorf("line %d: not a JSON object: %w", row.line, err)
		}
		clear(obj)
		for k, v := range vals {
			obj[strings.ToLower(strings.TrimSpace(k))] = text(v)
		}
		row.get = get
		return nil
	}, nil
}

// text is a JSON value as source text.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// lineTracker remembers where the lines of what it reads start, so that
// the line of an offset behind the reading position can be told.
type lineTracker struct {
	r    io.Reader
	off  int64   // bytes read
	nl   []int64 // offsets of the newlines read and not yet counted
	line int     // the line at the last offset asked for
}

func (t *lineTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			t.nl = append(t.nl, t.off+int64(i))
		}
	}
	t.off += int64(n)
	return n, err
}

// lineAt returns the line of offset off; offsets must not go back.
func (t *lineTracker) lineAt(off int64) int {
	i := 0
	for i < len(t.nl) && t.nl[i] < off {
		i++
	}
	t.line += i
	t.nl = t.nl[i:]
	return t.line
}

// firstByte peeks past whitespace for the first significant byte; an empty
// source is io.EOF.
func firstByte(br *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == nil || errors.Is(err, bufio.ErrBufferFull) {
				err = io.EOF
			}
			return 0, err
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return c, nil
		}
	}
}
