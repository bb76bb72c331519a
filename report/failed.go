package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/jobs"
)

// FailedRows collects the failed rows of a ledger, by row index, for
// [WriteFailed]. It is a [Sink].
type FailedRows map[int]jobs.Outcome

// Row implements Sink.
func (f FailedRows) Row(o jobs.Outcome) error {
	if o.Status == jobs.StatusFailed {
		f[o.Row] = o
	}
	return nil
}

// Close implements Sink.
func (f FailedRows) Close() error { return nil }

// WriteFailed reads the input again and writes its failed rows to w in
// the input's own format, with error_line and error_code added: CSV gets
// two more columns, JSON objects two more keys (as a JSON array). The
// original cells are kept verbatim so the file can be fixed and imported
// again.
func WriteFailed(in io.Reader, opts importers.Options, failed FailedRows, w io.Writer) error {
	r, err := importers.NewReader(in, opts)
	if err != nil {
		return err
	}
	var cw *csv.Writer
	if r.Format() == importers.FormatCSV {
		cw = csv.NewWriter(w)
		if err := cw.Write(append(append([]string(nil), r.Header()...), "error_line", "error_code")); err != nil {
			return err
		}
	} else if _, err := io.WriteString(w, "[\n"); err != nil {
		return err
	}
	first := true
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the input again: %w", err)
		}
		o, ok := failed[row.Index]
		if !ok {
			continue
		}
		cells, object := r.Raw()
		if cw != nil {
			rec := append(append([]string(nil), cells...), strconv.Itoa(o.Line), o.ErrorCode)
			if err := cw.Write(rec); err != nil {
				return err
			}
			continue
		}
		if !first {
			if _, err := io.WriteString(w, ",\n"); err != nil {
				return err
			}
		}
		first = false
		if _, err := w.Write(withErrorKeys(object, o)); err != nil {
			return err
		}
	}
	if cw != nil {
		cw.Flush()
		return cw.Error()
	}
	_, err = io.WriteString(w, "\n]\n")
	return err
}

// withErrorKeys adds error_line and error_code to a JSON object; a row
// that is not an object is wrapped as {"row": ..., ...}.
func withErrorKeys(object []byte, o jobs.Outcome) []byte {
	extra := fmt.Sprintf(`"error_line":%d,"error_code":%q`, o.Line, o.ErrorCode)
	trimmed := bytes.TrimSpace(object)
	if len(trimmed) > 1 && trimmed[0] == '{' && json.Valid(trimmed) {
		body := bytes.TrimSpace(trimmed[1 : len(trimmed)-1])
		if len(body) == 0 {
			return []byte("{" + extra + "}")
		}
		return []byte("{" + string(body) + "," + extra + "}")
	}
	raw, _ := json.Marshal(string(object))
	return []byte(`{"row":` + string(raw) + "," + extra + "}")
}
