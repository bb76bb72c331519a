package report

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/bulksync/bulksync/jobs"
)

// Outputs are where [Write] puts a batch's reports. An empty file name
// writes no such file.
type Outputs struct {
	// Summary names the file of the summary as indented JSON.
	Summary string
	// Results names the file of one result per row: CSV, or JSON lines
	// when the name ends in ".jsonl" (see [NewResults]).
	Results string
	// Failed names the file of the failed rows in the input's format,
	// written by WriteFailed.
	Failed string
	// WriteFailed writes the failed rows to w, typically [WriteFailed]
	// over the input read again. Nil writes no Failed file: the input is
	// not at hand (a batch reported by its id).
	WriteFailed func(failed FailedRows, w io.Writer) error
	// Sinks receive every row of the ledger as well (a dry run's plan).
	Sinks []Sink
}

// CreateError is an output file that could not be created: its name or
// place is wrong, the batch is not at fault.
type CreateError struct{ Err error }

// Error implements error; it is Err's message, which names the file.
func (e *CreateError) Error() string { return e.Err.Error() }

// Unwrap returns the error of os.Create.
func (e *CreateError) Unwrap() error { return e.Err }

// Write builds batch id's reports in one read of its ledger (see [Build]):
// the files of out, synced to disk, then a line of the summary's counts on
// log and the summary as indented JSON on stdout. A file that cannot be
// created is a *CreateError.
func Write(ctx context.Context, store *jobs.Store, id string, out Outputs, stdout, log io.Writer) (Summary, error) {
	var files []*os.File
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	create := func(name string) (*os.File, error) {
		f, err := os.Create(name)
		if err != nil {
			return nil, &CreateError{err}
		}
		files = append(files, f)
		return f, nil
	}
	sinks := out.Sinks[:len(out.Sinks):len(out.Sinks)] // appends never write into the caller's array
	if out.Results != "" {
		f, err := create(out.Results)
		if err != nil {
			return Summary{}, err
		}
		sinks = append(sinks, NewResults(out.Results, f))
	}
	failed := FailedRows{}
	writeFailed := out.Failed != "" && out.WriteFailed != nil
	if writeFailed {
		sinks = append(sinks, failed)
	}
	sum, err := Build(ctx, store, id, sinks...)
	if err != nil {
		return sum, err
	}
	if writeFailed {
		f, err := create(out.Failed)
		if err != nil {
			return sum, err
		}
		if err := out.WriteFailed(failed, f); err != nil {
			return sum, fmt.Errorf("write %s: %w", out.Failed, err)
		}
	}
	if out.Summary != "" {
		f, err := create(out.Summary)
		if err != nil {
			return sum, err
		}
		if err := WriteSummary(f, sum); err != nil {
			return sum, err
		}
	}
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return sum, err
		}
	}
	_, _ = io.WriteString(log, sum.CountsLine()+"\n") // a note beside the summary: stdout's write is the one that counts
	return sum, WriteSummary(stdout, sum)
}

// CountsLine is the summary in one line of text, such as
//
//	batch 38f0a878730f838e43d4: 5 rows, 5 succeeded, 0 failed, 0 unprocessed
//
// ending in "; waiting for the API: REASON" while the batch waits for it.
func (s Summary) CountsLine() string {
	line := fmt.Sprintf("batch %s: %d rows, %d succeeded, %d failed, %d unprocessed", s.BatchID, s.Total, s.Successes, s.Failed, s.Unprocessed)
	if s.Waiting != "" {
		line += "; waiting for the API: " + s.Waiting
	}
	return line
}
