package importers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/bulksync/bulksync/importers"
)

// Fuzz options, packed into one byte so that the fuzzer varies them too.
const (
	fuzzKindMask      = 0b0011 // 0: detect, 1: program-licenses, 2: user-licenses
	fuzzIgnoreUnknown = 0b0100
	fuzzSmallLimits   = 0b1000 // limits small enough for fuzz inputs to cross
)

func fuzzOptions(format importers.Format, flags uint8) importers.Options {
	opts := importers.Options{Format: format, IgnoreUnknown: flags&fuzzIgnoreUnknown != 0}
	switch flags & fuzzKindMask {
	case 1:
		opts.Kind = importers.ProgramLicenses
	case 2:
		opts.Kind = importers.UserLicenses
	}
	if flags&fuzzSmallLimits != 0 {
		opts.Limits = importers.Limits{MaxFieldBytes: 16, MaxRowBytes: 96, MaxColumns: 8}
	}
	return opts
}

// fuzzResult is everything a read gives, to compare two reads.
type fuzzResult struct {
	rows []importers.Row
	err  string // the error that ended the read, "" at io.EOF
}

// fuzzRead reads data to the end and checks the reader's invariants:
//   - no panic, and Next stops: a row takes at least one byte of input;
//   - errors are *FileError (or io.EOF), and Next keeps returning io.EOF
//     after the end;
//   - every row has Line >= 1, within the input; lines are strictly
//     increasing, except that JSON rows may share a line ([{...},{...}]);
//   - a row has exactly one of Data and Err; Err.Line is the row's line and
//     Err wraps a known code;
//   - Data is a valid UTF-8 JSON object whose keys are the schema's field
//     names in schema order, without the transaction id, and good rows
//     never repeat a key;
//   - Raw works for every row.
func fuzzRead(t *testing.T, data []byte, opts importers.Options) fuzzResult {
	t.Helper()
	r, err := importers.NewReader(bytes.NewReader(data), opts)
	if err != nil {
		requireFuzzFileError(t, err)
		return fuzzResult{err: err.Error()}
	}
	schema := r.Schema()
	require.NotNil(t, schema)
	if opts.Kind != "" {
		require.Equal(t, opts.Kind, schema.Kind)
	}
	require.Equal(t, opts.Format, r.Format())
	lines := 1 + bytes.Count(data, []byte{'\n'})
	var res fuzzResult
	keys := map[string]bool{}
	prev := 0
	for n := 0; ; n++ {
		require.LessOrEqual(t, n, len(data)+1, "Next does not stop")
		row, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				requireFuzzFileError(t, err)
				res.err = err.Error()
			}
			for range 2 {
				again, err := r.Next()
				require.ErrorIs(t, err, io.EOF)
				require.Equal(t, importers.Row{}, again)
			}
			return res
		}
		res.rows = append(res.rows, row)

		require.GreaterOrEqual(t, row.Line, 1)
		require.LessOrEqual(t, row.Line, lines)
		if opts.Format == importers.FormatCSV {
			require.Greater(t, row.Line, prev, "CSV lines must increase")
		} else {
			require.GreaterOrEqual(t, row.Line, prev, "JSON lines must not go back")
		}
		prev = row.Line

		cells, object := r.Raw()
		if opts.Format == importers.FormatCSV {
			require.Nil(t, object)
		} else {
			require.Nil(t, cells)
			require.NotEmpty(t, object)
		}

		require.True(t, (row.Data == nil) != (row.Err == nil), "exactly one of Data and Err: %+v", row)
		if row.Err != nil {
			require.Equal(t, row.Line, row.Err.Line)
			require.NotEmpty(t, row.Err.Code())
			require.True(t, slices.ContainsFunc(rowSentinels, func(s error) bool { return errors.Is(row.Err, s) }), "unknown code %q", row.Err.Code())
			continue
		}
		requireCanonical(t, schema, row.Data)
		require.NotEmpty(t, row.Key, "a good row has a key")
		require.False(t, keys[row.Key], "a second good row with key %q", row.Key)
		keys[row.Key] = true
	}
}

var rowSentinels = []error{
	importers.ErrMissingField, importers.ErrUnknownField, importers.ErrInvalidInteger,
	importers.ErrOutOfRange, importers.ErrInvalidBoolean, importers.ErrInvalidDatetime,
	importers.ErrInvalidObject, importers.ErrInvalidType, importers.ErrInvalidValue,
	importers.ErrInvalidUTF8, importers.ErrFieldTooLarge, importers.ErrExpiredBeforeStarted,
	importers.ErrDuplicateKey, importers.ErrFieldCount, importers.ErrMalformedCSV,
	importers.ErrMalformedJSON, importers.ErrNotAnObject,
}

var fileSentinels = []error{
	importers.ErrEmptyFile, importers.ErrBadHeader, importers.ErrUnknownKind,
	importers.ErrTooLarge, importers.ErrSyntax,
}

func requireFuzzFileError(t *testing.T, err error) {
	t.Helper()
	var fe *importers.FileError
	require.ErrorAs(t, err, &fe, "not a *FileError: %v", err)
	require.GreaterOrEqual(t, fe.Line, 0)
	require.True(t, slices.ContainsFunc(fileSentinels, func(s error) bool { return errors.Is(err, s) }), "unknown file error %v", err)
}

// requireCanonical checks that data is a UTF-8 JSON object whose keys are
// schema fields in schema order, without the transaction id.
func requireCanonical(t *testing.T, schema *importers.Schema, data []byte) {
	t.Helper()
	require.True(t, json.Valid(data), "invalid JSON: %q", data)
	require.True(t, utf8.Valid(data), "not UTF-8: %q", data)
	require.Equal(t, byte('{'), data[0], "not an object: %q", data)
	var obj map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &obj))
	dec := json.NewDecoder(bytes.NewReader(data))
	_, _ = dec.Token() // {
	last := -1
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(t, err)
		key := tok.(string)
		i := slices.IndexFunc(schema.Fields, func(f importers.Field) bool { return f.Name == key })
		require.Greater(t, i, last, "key %q out of schema order in %s", key, data)
		require.NotEqual(t, "transaction_id", key)
		last = i
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
}

// fuzzCheck reads data twice (the result must not depend on map order or
// anything else) and checks the invariants.
func fuzzCheck(t *testing.T, data []byte, format importers.Format, flags uint8) {
	opts := fuzzOptions(format, flags)
	first := fuzzRead(t, data, opts)
	second := fuzzRead(t, data, opts)
	require.Equal(t, first, second, "two reads of one input differ")
	rows, err := fuzzSkip(t, data, opts)
	require.Equal(t, first.err, err, "Skip and Next end differently")
	if err == "" {
		require.Len(t, first.rows, rows, "Skip and Next count different rows")
	}
}

// fuzzSkip reads data with Skip alone and returns the rows it skipped and
// the text of the error that ended the read ("" at io.EOF).
func fuzzSkip(t *testing.T, data []byte, opts importers.Options) (int, string) {
	t.Helper()
	r, err := importers.NewReader(bytes.NewReader(data), opts)
	if err != nil {
		return 0, err.Error()
	}
	for n := 0; ; n++ {
		require.LessOrEqual(t, n, len(data)+1, "Skip does not stop")
		if err := r.Skip(); err != nil {
			if errors.Is(err, io.EOF) {
				return n, ""
			}
			requireFuzzFileError(t, err)
			return n, err.Error()
		}
	}
}

// seedFile reads a sample from the repository's testdata.
func seedFile(f *testing.F, name string) []byte {
	b, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		f.Fatalf("seed: %v", err)
	}
	return b
}

func FuzzReaderCSV(f *testing.F) {
	seeds := []string{
		string(seedFile(f, "program-licenses.csv")),
		string(seedFile(f, "user-licenses.csv")),
		string(seedFile(f, "program-licenses-bad.csv")),
		string(seedFile(f, "user-licenses-bad.csv")),
		"",
		"\xef\xbb\xbf",
		userCSV,
		userCSV + "acme,Ada,1,2024-01-15,2025-01-15,yes,{},u1\n",
		"\xef\xbb\xbf" + strings.ReplaceAll(userCSV+"acme,\"Grace\nHopper\",2,,,,,u2\n\nacme,Alan,3,,,,,u3", "\n", "\r\n"),
		programCSV + "acme,program-v1:acme+data-science+2024,Data Science,120,2024-01-15T09:00:00+02:00,acme-ds-2024\n",
		fullCSV + "acme,acme,p,N,1,2024-01-01,2023-01-01,maybe,\"{\"\"a\"\":1}\",[],hris,e1,tx1\n",
		userCSV + "acme,\"unterminated,1,,,,,u1\nacme,Ada,1,,,,,u2\n",
		userCSV + "acme,bare \"quote\",1,,,,,u1\n",
		userCSV + "acme,J\xfcrgen,1,,,,,u1\n",
		userCSV + "acme,Ada,1,,,,u1\nacme,Ada,1,,,,,u2,x\n",
		userCSV + "acme,Ada,1e99,,,,,u1\nacme,Ada,-1,,,,,u1\nacme,Ada,99999999999999999999,,,,,u1\n",
		userCSV + "acme,Ada,1,,,,,u1\nacme,Ada,1,,,,,u1\n",
		"platform_key,external_id,External_ID\nacme,u1,u2\n",
		"platform_key,seats,external_id\nacme,5,u1\n",
		"platform_key,,external_id\n",
		"a,b,c,d,e,f,g,h,i,j\n1,2,3,4,5,6,7,8,9,10\n",
		"\"\n\"\n\"\n",
		"platform_key,external_id\r\r\r\nacme,\"\r\n\r\n\"\r\n",
		userCSV + "acme,\"a\r\nb\nc\r\r\nd\r\",1,,,,,u1\r\nacme,\"e\nf\",2,,,,\"{\r\n}\",u2\n",
		" Platform_Key , EXTERNAL_ID \nacme,u1\n",
		"platform_key,external_id\n" + strings.Repeat("acme,"+strings.Repeat("x", 100)+"\n", 3),
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i%16))
	}
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		fuzzCheck(t, data, importers.FormatCSV, flags)
	})
}

func FuzzReaderJSON(f *testing.F) {
	seeds := []string{
		string(seedFile(f, "program-licenses.json")),
		string(seedFile(f, "user-licenses.ndjson")),
		string(seedFile(f, "program-licenses-bad.json")),
		"",
		"[]",
		"[",
		"{",
		"\xef\xbb\xbf[{\"platform_key\": \"acme\", \"external_id\": \"u1\"}]",
		"[\n  {\n    \"platform_key\": \"acme\",\n    \"external_id\": \"u1\"\n  },\n  {\"platform_key\": \"acme\", \"external_id\": \"u2\"}\n]\n",
		"[{\"platform_key\": \"acme\", \"external_id\": \"u1\"},{\"platform_key\": \"acme\", \"external_id\": \"u2\"}]",
		"[{\"platform_key\": \"acme\", \"external_id\": \"u1\"}] trailing",
		"[{\"platform_key\": \"acme\", \"external_id\": \"u1\"}][]",
		"[42, \"x\", null, [1], {\"platform_key\": \"acme\", \"external_id\": \"u1\"}]",
		"{\"platform_key\": \"acme\", \"external_id\": \"u1\"}\n{\"platform_key\": \"acme\", \"external_id\": \"u1\"}\n{broken\n\n[1]\n",
		"{\n\"platform_key\": \"acme\",\n\"external_id\": \"u1\"\n}\n{\n\"platform_key\": \"acme\"}",
		"{\"platform_key\": \"acme\", \"Platform_Key\": \"globex\", \"PLATFORM_KEY\": \"initech\", \"external_id\": \"u1\"}\n",
		"{\"platform_key\": \"J\xfcrgen\", \"metadata\": {\"a\": \"\xe9\"}, \"external_id\": \"u1\"}\n",
		"{\"platform_key\": \"\\ud800\", \"name\": \"\\u00e9\\n\\\"<&>\", \"external_id\": \"u1\"}\n",
		"{\"platform_key\": \"acme\", \"count\": 1e99, \"external_id\": \"u1\"}\n{\"platform_key\": \"acme\", \"count\": -1, \"external_id\": \"u2\"}\n{\"platform_key\": \"acme\", \"count\": 99999999999999999999, \"external_id\": \"u3\"}\n",
		"{\"platform_key\": \"acme\", \"count\": 1.0, \"active\": 1, \"started\": 20240101, \"metadata\": [], \"external_id\": \"u1\"}\n",
		"{\"platform_key\": \"acme\", \"count\": 1E+2, \"external_id\": \"u1\"}\n{\"platform_key\": \"acme\", \"count\": 123e65, \"external_id\": \"u2\"}\n{\"platform_key\": \"acme\", \"count\": 25e-1, \"external_id\": \"u3\"}\n",
		"{\"platform_key\": \"acme\", \"started\": \"2024-06-01\", \"expired\": \"2024-01-01\", \"external_id\": \"u1\"}\n",
		"{\"platform_key\": \"acme\", \"external_id\": \"u1\", \"seats\": 5}\n",
		"{\"platform_key\": \"acme\", \"external_id\": \"u1\"}\r\n\r\n{\"platform_key\": \"acme\", \"external_id\": \"u2\"}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		"{\"platform_key\": \"acme\", \"external_id\": \"u1\", \"metadata\": {\"suggestion_data\": []}}\n{\"suggestion_data\": [{\"platform_key\": \"acme\", \"external_id\": \"u2\"}]}\n",
		"{\"suggestion_data\": [{\"platform_key\": \"acme\", \"external_id\": \"u1\"}], \"platform_key\": \"acme\"}",
		"\n{\"platform_key\": \"acme\", \"external_id\": u1}\n{\"platform_key\": \"acme\", \"external_id\": \"u2\"}\n",
		"[{\"platform_key\": \"acme\", \"name\": \"" + strings.Repeat("x", 120) + "\", \"external_id\": \"u1\"}]",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i%16))
	}
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		fuzzCheck(t, data, importers.FormatJSON, flags)
	})
}
