package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewLogger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, format, level string
		wantJSON            bool
		wantDebug           bool
	}{
		{name: "TextByDefault"},
		{name: "JSON", format: "json", wantJSON: true},
		{name: "JSONAnyCase", format: "JSON", wantJSON: true},
		{name: "UnknownFormatIsText", format: "yaml"},
		{name: "JSONAtDebug", format: "json", level: "debug", wantJSON: true, wantDebug: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			env := map[string]string{"BULKSYNC_LOG_FORMAT": tc.format, "BULKSYNC_LOG": tc.level}
			log := newLogger(&buf, func(k string) string { return env[k] })
			log.Debug("probe", "n", 1)
			log.Info("worker started", "concurrency", 10)
			lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
			want := 1
			if tc.wantDebug {
				want = 2
			}
			require.Len(t, lines, want)
			last := lines[len(lines)-1]
			var rec map[string]any
			if !tc.wantJSON {
				require.Error(t, json.Unmarshal(last, &rec))
				require.Contains(t, string(last), `level=INFO msg="worker started" concurrency=10`)
				return
			}
			require.NoError(t, json.Unmarshal(last, &rec))
			require.Equal(t, "INFO", rec["level"])
			require.Equal(t, "worker started", rec["msg"])
			require.Equal(t, float64(10), rec["concurrency"])
		})
	}
}
