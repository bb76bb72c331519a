// Package report turns a batch's ledger into what users read: a summary
// shaped like the Data Manager's own bulk answer ({"successes": N,
// "error_codes": [...]}, plus counts), a per-row results file (CSV, or
// JSON lines), and a file of the failed rows in the input's own format,
// ready to be fixed and imported again.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/bulksync/bulksync/jobs"
)

// Summary is a batch's outcome in numbers.
type Summary struct {
	BatchID     string   `json:"batch_id"`
	Kind        string   `json:"kind"`
	State       string   `json:"state"`
	DryRun      bool     `json:"dry_run,omitempty"`
	HaltReason  string   `json:"halt_reason,omitempty"`
	Waiting     string   `json:"waiting,omitempty"` // why no row is going through (an API outage); empty when rows are
	Total       int      `json:"total"`
	Successes   int      `json:"successes"`
	Failed      int      `json:"failed"`
	Unprocessed int      `json:"unprocessed"`
	ErrorCodes  []string `json:"error_codes"` // "line 12: invalid_datetime:started", one per failed row
}

// ExitCode is the CLI's exit status for the batch: 0 when every row
// succeeded, 1 otherwise.
func (s Summary) ExitCode() int {
	if s.Successes == s.Total {
		return 0
	}
	return 1
}

// ErrorCode formats a failed row's entry of Summary.ErrorCodes.
func ErrorCode(o jobs.Outcome) string {
	return "line " + strconv.Itoa(o.Line) + ": " + o.ErrorCode
}

// Sink receives every row of the ledger, in line order.
type Sink interface {
	Row(jobs.Outcome) error
	Close() error
}

// Build reads the ledger of batch id once, feeding each row to the sinks,
// and returns the summary. It closes the sinks.
func Build(ctx context.Context, store *jobs.Store, id string, sinks ...Sink) (Summary, error) {
	m, err := store.Get(ctx, id)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{BatchID: m.ID, Kind: m.Kind, State: m.State, DryRun: m.DryRun, HaltReason: m.HaltReason, Waiting: m.Waiting, ErrorCodes: []string{}}
	err = store.Ledger(ctx, id, func(o jobs.Outcome) error {
		s.Total++
		switch o.Status {
		case jobs.StatusOK:
			s.Successes++
		case jobs.StatusFailed:
			s.Failed++
			s.ErrorCodes = append(s.ErrorCodes, ErrorCode(o))
		default:
			s.Unprocessed++
		}
		for _, k := range sinks {
			if err := k.Row(o); err != nil {
				return err
			}
		}
		return nil
	})
	for _, k := range sinks {
		if cerr := k.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return s, fmt.Errorf("report batch %s: %w", id, err)
	}
	return s, nil
}

// WriteSummary writes the summary as indented JSON.
func WriteSummary(w io.Writer, s Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
