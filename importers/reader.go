package importers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"hash/maphash"
	"io"
)

// Format is the syntax of an input file.
type Format string

// Input formats.
const (
	FormatAuto Format = ""     // told from the first bytes: '[' or '{' is JSON, anything else CSV
	FormatCSV  Format = "csv"  // a header row, then one record a row
	FormatJSON Format = "json" // an array of objects, NDJSON, or a stream of objects
)

// Limits bound what one row may hold, so that no input can make the reader
// use memory without bound. Zero fields take the defaults. A value beyond
// MaxFieldBytes is a row error (field_too_large); a row beyond MaxRowBytes
// ends the read with a [FileError] wrapping [ErrTooLarge], and a header
// beyond MaxColumns with one wrapping [ErrBadHeader].
type Limits struct {
	MaxFieldBytes int // one value; default 1 MiB
	MaxRowBytes   int // one CSV record or JSON object; default 4 MiB
	MaxColumns    int // CSV header columns; default 1,000
}

// Default limits.
const (
	DefaultMaxFieldBytes = 1 << 20
	DefaultMaxRowBytes   = 4 << 20
	DefaultMaxColumns    = 1000
)

func (l Limits) withDefaults() Limits {
	if l.MaxFieldBytes <= 0 {
		l.MaxFieldBytes = DefaultMaxFieldBytes
	}
	if l.MaxRowBytes <= 0 {
		l.MaxRowBytes = DefaultMaxRowBytes
	}
	if l.MaxColumns <= 0 {
		l.MaxColumns = DefaultMaxColumns
	}
	return l
}

// Options configure a [Reader].
type Options struct {
	Kind          Kind   // "" = tell from the header (CSV) or the first object's keys (JSON)
	Format        Format // FormatAuto = tell from the content
	IgnoreUnknown bool   // skip unknown columns and keys instead of rejecting them
	Limits        Limits
	// NameHint is the file's name. When the columns fit several kinds, the
	// kind whose name starts the file's name is taken.
	NameHint string
	// Defaults are values, as CSV text, for fields a row leaves empty
	// (platform_key for every row, say). Fields the kind lacks are ignored.
	Defaults map[string]string
	// ExpectedRows, when known, sizes the table of keys that tells
	// duplicates, so that it need not grow while the file is read.
	ExpectedRows int
}

// Row is one row of the input, valid or not.
type Row struct {
	Index         int             // 1 for the file's first row, 2 for the next, ...
	Line          int             // physical line where the row starts (rows may share one: minified JSON)
	Key           string          // the schema's key (external_id), when present
	TransactionID string          // the row's own transaction_id, when given
	Data          json.RawMessage // canonical JSON object with the API's field names; nil when Err is set
	Err           *RowError       // why the row was rejected, or nil
}

// Reader streams the rows of one file. It is not safe for concurrent use.
type Reader struct {
	opts   Options
	schema *Schema
	format Format
	meter  *meter
	src    rowSource
	rows   int
	seen   keySet // hashes of the keys of valid rows, with their first lines
	seed   maphash.Seed
	buf    []byte
	vals   []value // the row being read, reused
	done   bool
}

// rowSource is one syntax's way of producing rows.
type rowSource interface {
	// next fills vals with the next row's values; it returns io.EOF at the
	// end, a *FileError when the file cannot be read on.
	next(vals *rowValues) (*RowError, error)
	// skip reads past the next row, checking only its syntax.
	skip() error
	// raw returns the last row as read: CSV cells, or JSON object bytes.
	raw() (cells []string, object []byte)
}

// NewReader starts reading r. It reads the CSV header or peeks at the first
// JSON object to settle the format and kind, so it can fail with a
// *FileError before any row is read.
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	opts.Limits = opts.Limits.withDefaults()
	m := &meter{r: r, max: int64(opts.Limits.MaxRowBytes) + 64<<10}
	if opts.Format != FormatJSON {
		m.crlf = &crlfLines{}
	}
	br := bufio.NewReaderSize(m, 64<<10)
	if err := skipBOM(br); err != nil {
		return nil, err
	}
	format := opts.Format
	if format == FormatAuto {
		first, err := firstByte(br)
		if err != nil {
			return nil, err
		}
		format = FormatCSV
		if first == '[' || first == '{' {
			format = FormatJSON
			m.crlf = nil // only CSV cells need their line ends
		}
	}
	var schema *Schema
	if opts.Kind != "" {
		s, err := Lookup(opts.Kind)
		if err != nil {
			return nil, kindErr(0, err)
		}
		schema = s
	}
	rd := &Reader{opts: opts, format: format, meter: m, seen: newKeySet(opts.ExpectedRows), seed: maphash.MakeSeed()}
	var err error
	switch format {
	case FormatCSV:
		rd.src, schema, err = newCSVSource(br, m, schema, opts)
	case FormatJSON:
		rd.src, schema, err = newJSONSource(br, m, schema, opts)
	default:
		return nil, fileErr(0, ErrSyntax, "unknown format %q (csv or json)", format)
	}
	if err != nil {
		return nil, err
	}
	rd.schema = schema
	return rd, nil
}

// Schema returns the schema of the file's kind.
func (r *Reader) Schema() *Schema { return r.schema }

// Format returns the file's format.
func (r *Reader) Format() Format { return r.format }

// Raw returns the last row returned by Next as it was read: its CSV cells
// (valid until the next call to Next) or its JSON object's bytes.
func (r *Reader) Raw() (cells []string, object []byte) { return r.src.raw() }

// Header returns the CSV header as written in the file (nil for JSON).
func (r *Reader) Header() []string {
	if c, ok := r.src.(*csvSource); ok {
		return c.header
	}
	return nil
}

// Next returns the next row. A row that fails validation is returned with
// its Err set and reading goes on. At the end Next returns io.EOF; when the
// file cannot be read on it returns a *FileError. A file without a single
// row is a *FileError wrapping ErrEmptyFile.
func (r *Reader) Next() (Row, error) {
	if r.done {
		return Row{}, io.EOF
	}
	if r.vals == nil {
		r.vals = make([]value, len(r.schema.Fields))
	}
	clear(r.vals)
	vals := rowValues{schema: r.schema, vals: r.vals}
	rerr, err := r.src.next(&vals)
	if err != nil {
		r.done = true
		if errors.Is(err, io.EOF) && r.rows == 0 {
			return Row{}, fileErr(0, ErrEmptyFile, "the file holds no rows")
		}
		return Row{}, err
	}
	r.rows++
	row := Row{Index: r.rows, Line: vals.line}
	if rerr == nil {
		rerr = r.fill(&vals)
	}
	if rerr == nil {
		rerr = r.validate(&vals)
	}
	if rerr != nil {
		row.Err = rerr
		if r.schema.Key != "" {
			row.Key = vals.get(r.schema.Key).s
		}
		return row, nil
	}
	row.Key = r.key(&vals)
	if r.schema.TxField != "" {
		row.TransactionID = vals.get(r.schema.TxField).s
	}
	r.buf = vals.appendJSON(r.buf[:0])
	row.Data = bytes.Clone(r.buf)
	return row, nil
}

// Skip reads past the next row. It checks only what makes the file
// readable (its syntax and size limits): it neither converts nor validates
// the row, nor remembers its key for the duplicate checks of Next. It
// returns io.EOF at the end and a *FileError when the file cannot be read
// on, like Next, so that reading a file with Skip alone tells whether
// reading it with Next will get to its end.
func (r *Reader) Skip() error {
	if r.done {
		return io.EOF
	}
	if err := r.src.skip(); err != nil {
		r.done = true
		if errors.Is(err, io.EOF) && r.rows == 0 {
			return fileErr(0, ErrEmptyFile, "the file holds no rows")
		}
		return err
	}
	r.rows++
	return nil
}

// fill sets the fields a row left empty from Options.Defaults, and Enum
// fields to their first value.
func (r *Reader) fill(vals *rowValues) *RowError {
	for i := range r.schema.Fields {
		f := &r.schema.Fields[i]
		if vals.vals[i].set {
			continue
		}
		if text, ok := r.opts.Defaults[f.Name]; ok {
			v, err := f.fromText(vals.line, text, r.opts.Limits)
			if err != nil {
				return err
			}
			vals.vals[i] = v
		}
		if f.Type == Enum && !vals.vals[i].set {
			vals.vals[i] = value{set: true, s: f.Values[0]}
		}
	}
	return nil
}

// key names a valid row's target: its Key field, or KeyFunc's answer.
func (r *Reader) key(vals *rowValues) string {
	switch {
	case r.schema.Key != "":
		return vals.get(r.schema.Key).s
	case r.schema.KeyFunc != nil:
		return r.schema.KeyFunc(vals)
	}
	return ""
}

// validate runs the required-field, cross-field and duplicate-key checks.
func (r *Reader) validate(vals *rowValues) *RowError {
	for i, f := range r.schema.Fields {
		if f.Required && !vals.vals[i].set {
			return rowErr(vals.line, f.Name, ErrMissingField, "%s is required", f.Name)
		}
	}
	if r.schema.Check != nil {
		if err := r.schema.Check(vals); err != nil {
			return err
		}
	}
	key := r.key(vals)
	if key == "" {
		return nil
	}
	if first, dup := r.seen.add(maphash.String(r.seed, key), vals.line); dup {
		if r.schema.Key != "" {
			return rowErr(vals.line, "", ErrDuplicateKey, "%s %q already appears on line %d, which is the one applied", r.schema.Key, key, first)
		}
		return rowErr(vals.line, "", ErrDuplicateTarget, "line %d already targets %s, and is the one applied", first, key)
	}
	return nil
}

// meter counts what is read from the input and refuses to read far past
// the start of the current row, which bounds the memory a row can take.
type meter struct {
	r    io.Reader
	n    int64 // bytes read
	mark int64 // offset where the current row starts
	max  int64
	crlf *crlfLines // CSV: the lines that end in "\r\n"; nil for JSON
}

var errRowTooLarge = errors.New("row too large")

func (m *meter) Read(p []byte) (int, error) {
	if m.n-m.mark > m.max {
		return 0, errRowTooLarge
	}
	n, err := m.r.Read(p)
	m.n += int64(n)
	if m.crlf != nil {
		m.crlf.scan(p[:n])
	}
	return n, err
}

func skipBOM(br *bufio.Reader) error {
	b, err := br.Peek(3)
	if err != nil && !errors.Is(err, io.EOF) {
		return fileErr(0, ErrSyntax, "read: %v", err)
	}
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	return nil
}

// firstByte peeks past leading whitespace for the first significant byte.
func firstByte(br *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == nil || errors.Is(err, io.EOF) || errors.Is(err, bufio.ErrBufferFull) {
				return 0, fileErr(0, ErrEmptyFile, "the file is empty")
			}
			return 0, fileErr(0, ErrSyntax, "read: %v", err)
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return c, nil
		}
	}
}
