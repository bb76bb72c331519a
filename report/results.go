package report

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/bulksync/bulksync/jobs"
	"github.com/gocarina/gocsv"
)

// resultRow is one line of a CSV results file.
type resultRow struct {
	Line          int    `csv:"line"`
	ExternalID    string `csv:"external_id"`
	TransactionID string `csv:"transaction_id"`
	Action        string `csv:"action"`
	Status        string `csv:"status"`
	HTTPStatus    string `csv:"http_status"`
	ErrorCode     string `csv:"error_code"`
	Message       string `csv:"message"`
	Attempts      int    `csv:"attempts"`
}

// Neutralize defuses a cell that a spreadsheet would run as a formula
// (it starts with =, +, -, @, a tab or a carriage return) by prefixing a
// single quote, as OWASP recommends for CSV injection.
func Neutralize(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvResults writes the results as CSV through gocsv.
type csvResults struct {
	rows chan any
	done chan error
}

// NewResultsCSV returns a sink writing one CSV line per row, with a
// header, to w. Text cells are neutralised against formula injection.
func NewResultsCSV(w io.Writer) Sink {
	c := &csvResults{rows: make(chan any, 256), done: make(chan error, 1)}
	go func() {
		cw := gocsv.NewSafeCSVWriter(csv.NewWriter(w))
		err := gocsv.MarshalChan(c.rows, cw)
		for range c.rows { // drain after an error, so Row never blocks
		}
		c.done <- err
	}()
	return c
}

func (c *csvResults) Row(o jobs.Outcome) error {
	status := ""
	if o.HTTPStatus != 0 {
		status = strconv.Itoa(o.HTTPStatus)
	}
	c.rows <- resultRow{
		Line: o.Line, ExternalID: Neutralize(o.ExternalID), TransactionID: Neutralize(o.TransactionID),
		Action: o.Action, Status: o.Status, HTTPStatus: status, ErrorCode: Neutralize(o.ErrorCode),
		Message: Neutralize(o.Message), Attempts: o.Attempts,
	}
	return nil
}

func (c *csvResults) Close() error {
	close(c.rows)
	return <-c.done
}

// jsonlResults writes the results as JSON lines.
type jsonlResults struct{ enc *json.Encoder }

// NewResultsJSONL returns a sink writing one JSON object per row to w.
func NewResultsJSONL(w io.Writer) Sink { return jsonlResults{json.NewEncoder(w)} }

func (j jsonlResults) Row(o jobs.Outcome) error { return j.enc.Encode(o) }
func (j jsonlResults) Close() error             { return nil }

// NewResults picks the results format from the file name: JSON lines when
// it ends in ".jsonl", CSV otherwise.
func NewResults(name string, w io.Writer) Sink {
	if strings.HasSuffix(strings.ToLower(name), ".jsonl") {
		return NewResultsJSONL(w)
	}
	return NewResultsCSV(w)
}
