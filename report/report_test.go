package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/importers"
	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/report"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

const redisDB = 13

func TestNeutralize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                  "",
		"plain":             "plain",
		"=1+1":              "'=1+1",
		"+33 1 23":          "'+33 1 23",
		"-5":                "'-5",
		"@SUM(A1)":          "'@SUM(A1)",
		"\tx":               "'\tx",
		"\rx":               "'\rx",
		"a=b":               "a=b",
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
	} {
		require.Equal(t, want, report.Neutralize(in), "%q", in)
	}
}

func TestBuildAndResults(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, redisDB, sandbox.Config{})
	ctx := context.Background()
	s := env.Store
	_, err := s.Create(ctx, jobs.Meta{ID: "r1", Kind: "user-licenses", Total: 3, Created: time.Now()})
	require.NoError(t, err)
	require.NoError(t, s.AddChunks(ctx, "r1", jobs.ChunkPayload{Rows: []jobs.ChunkRow{{Row: 1, Line: 2, Key: "a", TransactionID: "t2"}, {Row: 3, Line: 4, Key: "=cmd", TransactionID: "t4"}}}))
	_, err = s.Record(ctx, "r1",
		jobs.Outcome{Row: 1, Line: 2, ExternalID: "a", TransactionID: "t2", Action: jobs.ActionCreated, Status: jobs.StatusOK, Attempts: 2},
		jobs.Outcome{Row: 2, Line: 3, ExternalID: "b", Action: jobs.ActionSkipped, Status: jobs.StatusFailed, ErrorCode: "invalid_boolean:active", Message: "\"maybe\" is not one of ..."},
	)
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx, "r1", 1))

	var csvOut, jsonOut bytes.Buffer
	failed := report.FailedRows{}
	sum, err := report.Build(ctx, s, "r1", report.NewResults("r.csv", &csvOut), report.NewResults("r.JSONL", &jsonOut), failed)
	require.NoError(t, err)
	require.Equal(t, report.Summary{
		BatchID: "r1", Kind: "user-licenses", State: jobs.StateRunning, Total: 3, Successes: 1, Failed: 1, Unprocessed: 1,
		ErrorCodes: []string{"line 3: invalid_boolean:active"},
	}, sum)
	require.Equal(t, 1, sum.ExitCode())
	require.Len(t, failed, 1)

	recs, err := csv.NewReader(&csvOut).ReadAll()
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"line", "external_id", "transaction_id", "action", "status", "http_status", "error_code", "message", "attempts"},
		{"2", "a", "t2", "created", "ok", "", "", "", "2"},
		{"3", "b", "", "skipped", "failed", "", "invalid_boolean:active", "\"maybe\" is not one of ...", "0"},
		{"4", "'=cmd", "t4", "skipped", "unprocessed", "", "", "", "0"},
	}, recs)

	lines := strings.Split(strings.TrimSpace(jsonOut.String()), "\n")
	require.Len(t, lines, 3)
	var o jobs.Outcome
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &o))
	require.Equal(t, "=cmd", o.ExternalID, "JSON lines are not neutralised")

	var js bytes.Buffer
	require.NoError(t, report.WriteSummary(&js, sum))
	require.Contains(t, js.String(), `"error_codes": [`)
}

func TestWriteFailed(t *testing.T) {
	t.Parallel()
	failed := report.FailedRows{2: {Row: 2, Line: 3, ErrorCode: "invalid_integer:count", Status: jobs.StatusFailed}, 4: {Row: 4, Line: 6, ErrorCode: "rejected", Status: jobs.StatusFailed}}
	t.Run("CSV", func(t *testing.T) {
		t.Parallel()
		in := "platform_key,external_id,count\r\nacme,a,1\r\nacme,b,x\r\nacme,\"c\nd\",2\r\nacme,e,3\r\n"
		var out bytes.Buffer
		require.NoError(t, report.WriteFailed(strings.NewReader(in), importers.Options{}, failed, &out))
		recs, err := csv.NewReader(&out).ReadAll()
		require.NoError(t, err)
		require.Equal(t, [][]string{
			{"platform_key", "external_id", "count", "error_line", "error_code"},
			{"acme", "b", "x", "3", "invalid_integer:count"},
			{"acme", "e", "3", "6", "rejected"},
		}, recs, "line 6 is the row after a quoted newline")
	})
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		in := "[\n{\"platform_key\":\"acme\",\"external_id\":\"a\"},\n{\"platform_key\":\"acme\",\"external_id\":\"b\",\"count\":\"x\"},\n{}, 7,\n{\"platform_key\":\"acme\",\"external_id\":\"e\"}]"
		failed := report.FailedRows{
			2: {Row: 2, Line: 3, ErrorCode: "invalid_integer:count"},
			4: {Row: 4, Line: 4, ErrorCode: "not_an_object"},
			5: {Row: 5, Line: 5, ErrorCode: "rejected"},
		}
		var out bytes.Buffer
		require.NoError(t, report.WriteFailed(strings.NewReader(in), importers.Options{}, failed, &out))
		var rows []map[string]any
		require.NoError(t, json.Unmarshal(out.Bytes(), &rows), out.String())
		require.Len(t, rows, 3)
		require.Equal(t, "b", rows[0]["external_id"])
		require.EqualValues(t, 3, rows[0]["error_line"])
		require.Equal(t, "invalid_integer:count", rows[0]["error_code"])
		require.Equal(t, "not_an_object", rows[1]["error_code"])
		require.Equal(t, "7", rows[1]["row"], "a row that is not an object is kept as text")
		require.Equal(t, "7", rows[1]["row"], "a row that is not an object is kept as text")
		require.Equal(t, "rejected", rows[2]["error_code"])
	})
}
