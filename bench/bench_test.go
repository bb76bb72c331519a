package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulksync/bulksync/importers"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"Empty", nil, 0},
		{"One", []float64{3}, 3},
		{"Odd", []float64{9, 1, 5}, 5},
		{"Even", []float64{4, 1, 3, 2}, 2.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tc.want, median(tc.in), 1e-9)
		})
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	require.Equal(t, "2.91M", si(2_912_331))
	require.Equal(t, "412k", si(412_345))
	require.Equal(t, "41.2k", si(41_234))
	require.Equal(t, "8.21k", si(8_214))
	require.Equal(t, "480", si(480.2))
	require.Equal(t, "1,000,000", count(1_000_000))
	require.Equal(t, "999", count(999))
	require.Equal(t, "7.8%", percent(0.078))
	require.Equal(t, "56%", percent(0.561))
}

func TestParseCommandStats(t *testing.T) {
	t.Parallel()
	info := "# Commandstats\r\n" +
		"cmdstat_hset:calls=12,usec=34,usec_per_call=2.83,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_evalsha:calls=3,usec=90,usec_per_call=30.00,rejected_calls=0,failed_calls=1\r\n"
	got, err := parseCommandStats(info)
	require.NoError(t, err)
	require.Equal(t, commandStats{"hset": 12, "evalsha": 3}, got)
	require.EqualValues(t, 15, got.total())
	require.Equal(t, commandStats{"hset": 2}, got.sub(commandStats{"hset": 10, "evalsha": 3}))
}

func TestTaskRecorderReadsEnqueueScripts(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"batch_id":"b","rows":[]}`)
	var msg []byte
	msg = protowire.AppendTag(msg, 1, protowire.BytesType)
	msg = protowire.AppendString(msg, "chunk:program-licenses")
	msg = protowire.AppendTag(msg, 2, protowire.BytesType)
	msg = protowire.AppendBytes(msg, payload)
	msg = protowire.AppendTag(msg, 5, protowire.VarintType)
	msg = protowire.AppendVarint(msg, 10)

	r := &taskRecorder{}
	r.see([]any{"evalsha", "abc", 2, "asynq:{q}:t:b:0", "asynq:{q}:pending", msg, "b:0", 123})
	r.see([]any{"evalsha", "def", 2, "bulksync:batch:b", "bulksync:batch:b:outcomes", "3600"}) // not an enqueue
	r.see([]any{"hset", "k", "f", "v", "g", "w"})
	sizes, largest, err := r.result()
	require.NoError(t, err)
	require.Equal(t, []int{len(payload)}, sizes)
	require.Equal(t, payload, largest)
}

func TestGeneratedRowsAreValid(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rows.csv")
	size, err := generate(path, genConfig{Rows: 2000, Platforms: 3, Seed: 7, IDPrefix: "t"})
	require.NoError(t, err)
	require.Positive(t, size)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, err := importers.NewReader(f, importers.Options{})
	require.NoError(t, err)
	require.Equal(t, importers.ProgramLicenses, r.Schema().Kind, "the header alone tells the kind")
	keys := map[string]bool{}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.Nil(t, row.Err, "line %d", row.Line)
		keys[row.Key] = true
	}
	require.Len(t, keys, 2000, "every external_id is distinct")
}
