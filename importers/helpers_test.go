package importers_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulksync/bulksync/importers"
)

// row is what a test asserts about one importers.Row.
type row struct {
	Line int
	Key  string
	Tx   string // TransactionID, good rows only
	Code string // RowError.Code(), "" for a good row
	Data string // canonical JSON of a good row
}

// good is a valid row at line with key and canonical data.
func good(line int, key, data string) row { return row{Line: line, Key: key, Data: data} }

// bad is a rejected row at line with key and error code.
func bad(line int, key, code string) row { return row{Line: line, Key: key, Code: code} }

// readRows reads every row of in. The error is the one that ended the read
// (from NewReader or Next), or nil at io.EOF.
func readRows(t *testing.T, in string, opts importers.Options) ([]row, error) {
	t.Helper()
	r, err := importers.NewReader(strings.NewReader(in), opts)
	if err != nil {
		return nil, err
	}
	var rows []row
	for range len(in) + 2 { // a row takes at least one byte
		got, err := r.Next()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, toRow(t, got))
	}
	t.Fatalf("Next did not stop after %d rows", len(in)+2)
	return nil, nil
}

// toRow checks the invariants of one row and reduces it to a row.
func toRow(t *testing.T, got importers.Row) row {
	t.Helper()
	out := row{Line: got.Line, Key: got.Key}
	if got.Err != nil {
		require.Nil(t, got.Data, "a rejected row has no data")
		require.Equal(t, got.Line, got.Err.Line, "the row's line and its error's line")
		out.Code = got.Err.Code()
		return out
	}
	out.Data, out.Tx = string(got.Data), got.TransactionID
	return out
}

// requireFileError asserts that err is a *FileError wrapping sentinel at
// line.
func requireFileError(t *testing.T, err error, sentinel error, line int) {
	t.Helper()
	require.Error(t, err)
	var fe *importers.FileError
	require.ErrorAs(t, err, &fe, "got %v", err)
	require.ErrorIs(t, err, sentinel)
	require.Equal(t, line, fe.Line, "line of %v", err)
}
