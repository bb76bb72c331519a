package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/report"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

// lineSink records the lines of the rows it receives.
type lineSink struct{ lines []int }

func (s *lineSink) Row(o jobs.Outcome) error { s.lines = append(s.lines, o.Line); return nil }
func (s *lineSink) Close() error             { return nil }

func TestWrite(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, redisDB, sandbox.Config{})
	ctx := context.Background()
	// A batch of two rows: line 2 ok, line 3 failed.
	batch := func(t *testing.T, id, waiting string) {
		t.Helper()
		_, err := env.Store.Create(ctx, jobs.Meta{ID: id, Kind: "user-licenses", Total: 2, Created: time.Now()})
		require.NoError(t, err)
		_, err = env.Store.Record(ctx, id,
			jobs.Outcome{Row: 1, Line: 2, ExternalID: "a", Action: jobs.ActionCreated, Status: jobs.StatusOK, Attempts: 1},
			jobs.Outcome{Row: 2, Line: 3, ExternalID: "b", Action: jobs.ActionSkipped, Status: jobs.StatusFailed, ErrorCode: "rejected"},
		)
		require.NoError(t, err)
		require.NoError(t, env.Store.Start(ctx, id, 1))
		if waiting != "" {
			require.NoError(t, env.Store.SetWaiting(ctx, id, waiting))
		}
	}
	// failedLines is a WriteFailed that writes the failed rows' lines.
	failedLines := func(failed report.FailedRows, w io.Writer) error {
		for _, o := range failed {
			fmt.Fprintf(w, "%d %s\n", o.Line, o.ErrorCode)
		}
		return nil
	}
	for _, tt := range []struct {
		name        string
		waiting     string                          // the batch's Waiting reason
		out         func(dir string) report.Outputs // the outputs, in a fresh directory
		wantFiles   map[string]string               // file name -> its content (a prefix for results.csv)
		wantLog     string
		wantWaiting string // the summary's waiting
		wantCreate  bool   // a *CreateError
	}{
		{
			name:    "StdoutOnly",
			out:     func(string) report.Outputs { return report.Outputs{} },
			wantLog: "batch B: 2 rows, 1 succeeded, 1 failed, 0 unprocessed\n",
		},
		{
			name: "EveryFile",
			out: func(dir string) report.Outputs {
				return report.Outputs{
					Summary: filepath.Join(dir, "s.json"), Results: filepath.Join(dir, "results.csv"),
					Failed: filepath.Join(dir, "failed.txt"), WriteFailed: failedLines,
				}
			},
			wantFiles: map[string]string{
				"s.json":      "", // checked against stdout
				"results.csv": "line,external_id,transaction_id,action,status,http_status,error_code,message,attempts\n2,a,,created,ok,,,,1\n3,b,,skipped,failed,,rejected,,0\n",
				"failed.txt":  "3 rejected\n",
			},
			wantLog: "batch B: 2 rows, 1 succeeded, 1 failed, 0 unprocessed\n",
		},
		{
			name: "FailedWithoutTheInput",
			out: func(dir string) report.Outputs {
				return report.Outputs{Results: filepath.Join(dir, "results.jsonl"), Failed: filepath.Join(dir, "failed.txt")}
			},
			wantFiles: map[string]string{"results.jsonl": `{"row":1,"line":2,"external_id":"a","transaction_id":"","action":"created","status":"ok","attempts":1}` + "\n"},
			wantLog:   "batch B: 2 rows, 1 succeeded, 1 failed, 0 unprocessed\n",
		},
		{
			name:        "Waiting",
			waiting:     "503 Service Unavailable",
			out:         func(string) report.Outputs { return report.Outputs{} },
			wantLog:     "batch B: 2 rows, 1 succeeded, 1 failed, 0 unprocessed; waiting for the API: 503 Service Unavailable\n",
			wantWaiting: "503 Service Unavailable",
		},
		{
			name: "UncreatableFile",
			out: func(dir string) report.Outputs {
				return report.Outputs{Results: filepath.Join(dir, "no-such-dir", "results.csv")}
			},
			wantCreate: true,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := "write-" + tt.name
			batch(t, id, tt.waiting)
			dir := t.TempDir()
			sink := &lineSink{}
			out := tt.out(dir)
			out.Sinks = []report.Sink{sink}
			var stdout, log bytes.Buffer
			sum, err := report.Write(ctx, env.Store, id, out, &stdout, &log)
			if tt.wantCreate {
				var ce *report.CreateError
				require.ErrorAs(t, err, &ce)
				require.ErrorIs(t, err, os.ErrNotExist)
				require.Contains(t, err.Error(), "results.csv", "the message names the file")
				require.Empty(t, stdout.String())
				return
			}
			require.NoError(t, err)
			require.Equal(t, []int{2, 3}, sink.lines, "extra sinks get every row")
			require.Equal(t, strings.ReplaceAll(tt.wantLog, "batch B", "batch "+id), log.String())
			require.Equal(t, tt.wantWaiting, sum.Waiting)

			var printed report.Summary
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &printed), "stdout is the summary JSON")
			require.Equal(t, sum, printed)
			require.Equal(t, []string{"line 3: rejected"}, sum.ErrorCodes)

			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, len(tt.wantFiles), "no other file is written")
			for name, want := range tt.wantFiles {
				b, err := os.ReadFile(filepath.Join(dir, name))
				require.NoError(t, err)
				if name == "s.json" {
					want = stdout.String()
				}
				if name == "results.jsonl" {
					require.True(t, strings.HasPrefix(string(b), want), "%s:\n%s", name, b)
					continue
				}
				require.Equal(t, want, string(b), name)
			}
		})
	}
}

func TestWriteUnknownBatch(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, redisDB, sandbox.Config{})
	var stdout, log bytes.Buffer
	_, err := report.Write(context.Background(), env.Store, "no-such-batch", report.Outputs{}, &stdout, &log)
	require.Error(t, err)
	var ce *report.CreateError
	require.False(t, errors.As(err, &ce), "an unknown batch is not a file error")
	require.Empty(t, stdout.String())
	require.Empty(t, log.String())
}

func TestSummaryWaitingJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		waiting string
		want    string // in the JSON, or "" when "waiting" must be absent
	}{
		{name: "NotWaiting"},
		{name: "Waiting", waiting: "the API answers 503", want: `"waiting": "the API answers 503"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			require.NoError(t, report.WriteSummary(&b, report.Summary{BatchID: "b", Waiting: tt.waiting, ErrorCodes: []string{}}))
			if tt.want == "" {
				require.NotContains(t, b.String(), "waiting")
				return
			}
			require.Contains(t, b.String(), tt.want)
		})
	}
}

// ExampleSummary_CountsLine prints the line that import and report write
// on stderr after a batch's summary, while the batch waits for the API.
func ExampleSummary_CountsLine() {
	s := report.Summary{BatchID: "b1", Total: 300, Successes: 120, Unprocessed: 180, Waiting: "the API answers 503"}
	fmt.Println(s.CountsLine())
	// Output:
	// batch b1: 300 rows, 120 succeeded, 0 failed, 180 unprocessed; waiting for the API: the API answers 503
}
