package importers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
)

// jsonSource reads rows from a JSON array of objects, from NDJSON (one
// object a line; a broken line is a row error), when the first line is
// not a whole object from a stream of (pretty-printed) objects, or from
// the bulk suggestion endpoint's request body, {"platform_key": ...,
// "suggestion_data": [...]}, whose items are the rows.
type jsonSource struct {
	schema *Schema
	opts   Options
	m      *meter
	dec    *json.Decoder // array and stream modes
	lt     *lineTracker  // array and stream modes: what dec read, by line
	array  bool          // inside a top-level array
	bulk   bool          // the array is a bulk body's suggestion_data
	// envelope holds a bulk body's keys before suggestion_data; they fill
	// the fields its items leave out.
	envelope map[string]json.RawMessage
	lines    *bufio.Scanner // NDJSON mode
	line     int            // NDJSON: current line
	pending  []byte         // a first row peeked while detecting the kind
	pendAt   int
	object   []byte      // the last object read
	claim    []string    // per field: the key that set it in this row
	errs     []*RowError // per field: its error in this row
}

func newJSONSource(br *bufio.Reader, m *meter, schema *Schema, opts Options) (*jsonSource, *Schema, error) {
	s := &jsonSource{opts: opts, m: m}
	first, _ := firstByte(br)
	switch {
	case first == '{' && (schema == nil || schema.Kind == ProgramSuggestions) && isBulkBody(br):
		s.lt = &lineTracker{r: br, line: 1}
		s.dec = json.NewDecoder(s.lt)
		if err := s.openBulk(); err != nil {
			return nil, nil, err
		}
	case first == '[':
		s.lt = &lineTracker{r: br, line: 1}
		s.dec = json.NewDecoder(s.lt)
		if _, err := s.dec.Token(); err != nil {
			return nil, nil, fileErr(1, ErrSyntax, "%v", err)
		}
		s.array = true
	case firstLineIsValue(br):
		// Room for the line's "\r\n"; next holds rows to MaxRowBytes exactly.
		max := opts.Limits.MaxRowBytes + 2
		s.lines = bufio.NewScanner(br)
		s.lines.Buffer(make([]byte, 0, min(64<<10, max)), max)
	default:
		s.lt = &lineTracker{r: br, line: 1}
		s.dec = json.NewDecoder(s.lt)
	}
	if schema == nil {
		// Tell the kind from the first row's keys; keep the row for next.
		raw, line, err := s.read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, nil, fileErr(0, ErrEmptyFile, "the file holds no rows")
			}
			return nil, nil, err
		}
		if err := syntaxError(raw); err != nil {
			return nil, nil, fileErr(line, ErrSyntax, "the first row is not valid JSON (%v), so the kind cannot be told from it; pass --kind to read the file's other rows", err)
		}
		if raw[0] != '{' {
			return nil, nil, fileErr(line, ErrUnknownKind, "the kind cannot be told from the first row, which is %s, not an object; pass --kind", jsonTypeName(raw[0]))
		}
		var keys []string
		if err := objectKeys(json.NewDecoder(bytes.NewReader(raw)), func(k string) bool {
			keys = append(keys, k)
			return true
		}); err != nil {
			return nil, nil, fileErr(line, ErrSyntax, "the first row cannot be read: %v", err)
		}
		if !slices.Contains(keys, "platform_key") && s.envelope["platform_key"] != nil {
			keys = append(keys, "platform_key") // the one envelope key rows take
		}
		slices.Sort(keys)
		if schema, err = detect(keys, opts.NameHint); err != nil {
			return nil, nil, kindErr(line, err)
		}
		s.pending, s.pendAt = raw, line
	}
	s.schema = schema
	return s, schema, nil
}

// bulkKeys are the keys a bulk body may hold besides suggestion_data.
var bulkKeys = map[string]bool{"platform_key": true, "platform_org": true, "department_mode": true}

// isBulkBody reports whether the input starts like a bulk suggestion body:
// an object with a top-level suggestion_data key within the buffered
// start of the input. Keys inside values (a row's metadata, say) do not
// count.
func isBulkBody(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Size())
	found := false
	_ = objectKeys(json.NewDecoder(bytes.NewReader(b)), func(k string) bool {
		found = k == "suggestion_data"
		return !found
	})
	return found
}

// errNotAnObject is objectKeys' error for a value that is not an object.
var errNotAnObject = errors.New("not a JSON object")

// objectKeys reads the JSON object dec is at and calls fn with each of its
// top-level keys, in order, skipping their values, until fn returns false.
func objectKeys(dec *json.Decoder, fn func(key string) bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return errNotAnObject
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if key, _ := tok.(string); !fn(key) {
			return nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

// syntaxError returns why raw is not one valid JSON value, or nil.
func syntaxError(raw []byte) error {
	if json.Valid(raw) {
		return nil
	}
	var v json.RawMessage
	return json.Unmarshal(raw, &v)
}

// openBulk reads a bulk body up to the first item of suggestion_data,
// keeping the keys before it.
func (s *jsonSource) openBulk() error {
	if _, err := s.dec.Token(); err != nil { // {
		return s.syntaxErr(err)
	}
	s.envelope = map[string]json.RawMessage{}
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return s.syntaxErr(err)
		}
		key, ok := tok.(string)
		if !ok {
			return fileErr(s.errLine(), ErrSyntax, "the bulk body has no suggestion_data array")
		}
		if key == "suggestion_data" {
			if tok, err := s.dec.Token(); err != nil || tok != json.Delim('[') {
				return fileErr(s.errLine(), ErrSyntax, "suggestion_data must be an array")
			}
			s.array, s.bulk = true, true
			return nil
		}
		var v json.RawMessage
		if err := s.dec.Decode(&v); err != nil {
			return s.syntaxErr(err)
		}
		if !bulkKeys[key] && !s.opts.IgnoreUnknown {
			return fileErr(s.errLine(), ErrSyntax, "unknown key %q in the bulk body (it takes platform_key, platform_org, department_mode, suggestion_data)", key)
		}
		if key != "department_mode" {
			s.envelope[key] = v
		}
	}
}

// closeBulk reads the rest of a bulk body after suggestion_data's ']'.
// Keys after suggestion_data come too late to fill its items: they are
// checked, not used.
func (s *jsonSource) closeBulk() error {
	for s.dec.More() {
		tok, err := s.dec.Token()
		if err != nil {
			return s.syntaxErr(err)
		}
		var v json.RawMessage
		if err := s.dec.Decode(&v); err != nil {
			return s.syntaxErr(err)
		}
		if key, _ := tok.(string); !bulkKeys[key] && !s.opts.IgnoreUnknown {
			return fileErr(s.errLine(), ErrSyntax, "unknown key %q in the bulk body", key)
		}
	}
	if _, err := s.dec.Token(); err != nil { // }
		return s.syntaxErr(err)
	}
	return nil
}

// firstLineIsValue reports whether the input is line-based (NDJSON): the
// first non-blank line is a complete JSON value, or it is not the start of
// a complete multi-line value (a broken NDJSON line is then one bad row).
func firstLineIsValue(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Size())
	b = bytes.TrimLeft(b, " \t\r\n")
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	}
	if json.Valid(bytes.TrimSpace(line)) {
		return true
	}
	var raw json.RawMessage
	return json.NewDecoder(bytes.NewReader(b)).Decode(&raw) != nil
}

// read returns the next raw row and the line it starts on.
func (s *jsonSource) read() ([]byte, int, error) {
	if s.pending != nil {
		raw, line := s.pending, s.pendAt
		s.pending = nil
		return raw, line, nil
	}
	if s.lines != nil {
		for s.lines.Scan() {
			s.line++
			s.m.mark = s.m.n
			b := bytes.TrimSpace(s.lines.Bytes())
			if len(b) > 0 {
				return b, s.line, nil
			}
		}
		if err := s.lines.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) || errors.Is(err, errRowTooLarge) {
				return nil, 0, fileErr(s.line+1, ErrTooLarge, "a line longer than %d bytes (raise --max-row-bytes)", s.opts.Limits.MaxRowBytes)
			}
			return nil, 0, fileErr(s.line+1, ErrSyntax, "read: %v", err)
		}
		return nil, 0, io.EOF
	}
	if !s.dec.More() {
		if s.array {
			if _, err := s.dec.Token(); err != nil { // the closing ']'
				return nil, 0, s.syntaxErr(err)
			}
		}
		if s.bulk {
			if err := s.closeBulk(); err != nil {
				return nil, 0, err
			}
		}
		if _, err := s.dec.Token(); !errors.Is(err, io.EOF) {
			return nil, 0, fileErr(s.errLine(), ErrSyntax, "unexpected data after the JSON rows")
		}
		return nil, 0, io.EOF
	}
	var raw json.RawMessage
	if err := s.dec.Decode(&raw); err != nil {
		return nil, 0, s.syntaxErr(err)
	}
	end := s.dec.InputOffset() // just past the value; raw is the value's exact bytes
	s.m.mark = end
	return raw, s.lt.lineAt(end - int64(len(raw))), nil
}

// errLine is the line where the decoder stopped: the first byte after its
// position that is not white space (where a broken value or trailing
// data starts).
func (s *jsonSource) errLine() int {
	off := s.dec.InputOffset()
	rest, _ := io.ReadAll(s.dec.Buffered())
	off += int64(len(rest) - len(bytes.TrimLeft(rest, " \t\r\n")))
	return s.lt.lineAt(off)
}

func (s *jsonSource) syntaxErr(err error) error {
	if errors.Is(err, errRowTooLarge) {
		return fileErr(s.errLine(), ErrTooLarge, "a row longer than %d bytes (raise --max-row-bytes)", s.opts.Limits.MaxRowBytes)
	}
	return fileErr(s.errLine(), ErrSyntax, "the JSON cannot be read on: %v", err)
}

func (s *jsonSource) next(vals *rowValues) (*RowError, error) {
	raw, line, err := s.read()
	if err != nil {
		return nil, err
	}
	vals.line = line
	s.object = raw
	if err := s.checkSize(raw, line); err != nil {
		return nil, err
	}
	if raw[0] != '{' {
		if err := syntaxError(raw); err != nil {
			return rowErr(line, "", ErrMalformedJSON, "the line is not valid JSON: %v", err), nil
		}
		return rowErr(line, "", ErrNotAnObject, "each row must be a JSON object, not %s", jsonTypeName(raw[0])), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return rowErr(line, "", ErrMalformedJSON, "%v", err), nil
	}
	// Map order is random: keep per-field results and pick the first
	// error in schema order, so the outcome does not depend on it.
	if s.claim == nil {
		s.claim = make([]string, len(s.schema.Fields))
		s.errs = make([]*RowError, len(s.schema.Fields))
	}
	clear(s.claim)
	clear(s.errs)
	var unknown []string
	for k, v := range obj {
		name := s.schema.canonical(k)
		if name == "" {
			unknown = append(unknown, k)
			continue
		}
		i := s.schema.index(name)
		if prev := s.claim[i]; prev != "" {
			// Two spellings of one field ("name" and "Name"): the exact
			// one, or else the first in byte order, is the field; the
			// other is a key the kind does not know.
			if prev == name || (k != name && prev < k) {
				unknown = append(unknown, k)
				continue
			}
			unknown = append(unknown, prev)
		}
		s.claim[i] = k
		vals.vals[i], s.errs[i] = s.schema.Fields[i].fromJSON(line, v, s.opts.Limits)
	}
	for k, v := range s.envelope {
		if name := s.schema.canonical(k); name != "" {
			if i := s.schema.index(name); !vals.vals[i].set && s.errs[i] == nil {
				vals.vals[i], s.errs[i] = s.schema.Fields[i].fromJSON(line, v, s.opts.Limits)
			}
		}
	}
	if len(unknown) > 0 && !s.opts.IgnoreUnknown {
		slices.Sort(unknown)
		return rowErr(line, unknown[0], ErrUnknownField, "%s does not have the field(s) %s (pass --ignore-unknown to skip them)", s.schema.Kind, strings.Join(unknown, ", ")), nil
	}
	for _, rerr := range s.errs {
		if rerr != nil {
			return rerr, nil
		}
	}
	return nil, nil
}

func (s *jsonSource) skip() error {
	raw, line, err := s.read()
	if err != nil {
		return err
	}
	return s.checkSize(raw, line)
}

// checkSize fails a row beyond the row size limit.
func (s *jsonSource) checkSize(raw []byte, line int) error {
	if len(raw) > s.opts.Limits.MaxRowBytes {
		return fileErr(line, ErrTooLarge, "a row of %d bytes, more than the limit of %d (raise --max-row-bytes)", len(raw), s.opts.Limits.MaxRowBytes)
	}
	return nil
}

func (s *jsonSource) raw() ([]string, []byte) { return nil, s.object }

// lineTracker sits between the input and a json.Decoder and remembers
// where the newlines it passed on are, so that a decoder offset can be
// turned into a line number. Offsets must be asked for in increasing
// order; newlines before the last offset asked for are forgotten, so it
// holds no more than the decoder's buffer.
type lineTracker struct {
	r    io.Reader
	off  int64   // bytes passed on
	line int     // line of the last offset asked for
	nls  []int64 // offsets of the newlines not yet counted in line
	head int     // nls[:head] are counted
}

func (t *lineTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	for b, base := p[:n], t.off; ; {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		t.nls = append(t.nls, base+int64(i))
		b, base = b[i+1:], base+int64(i)+1
	}
	t.off += int64(n)
	return n, err
}

// lineAt returns the line of the byte at offset off.
func (t *lineTracker) lineAt(off int64) int {
	for t.head < len(t.nls) && t.nls[t.head] < off {
		t.head++
		t.line++
	}
	if t.head == len(t.nls) {
		t.nls, t.head = t.nls[:0], 0
	}
	return t.line
}
