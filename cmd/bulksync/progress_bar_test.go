package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/jobs"
	"github.com/stretchr/testify/require"
)

func TestProgressFunc(t *testing.T) {
	t.Parallel()
	steps := []jobs.Meta{
		{ID: "b1", Total: 300, State: jobs.StateRunning},
		{ID: "b1", Total: 300, Done: 120, Successes: 120, State: jobs.StateRunning, Waiting: "the API is down"},
		{ID: "b1", Total: 300, Done: 300, Successes: 299, Failed: 1, State: jobs.StateDone},
	}
	for _, tc := range []struct {
		name string
		bar  bool
		want []string
	}{
		// A file (as a pipe or a log) gets the plain lines.
		{name: "NotATerminal", want: []string{
			"batch b1: 0/300 rows done (0 ok, 0 failed)",
			"batch b1: 120/300 rows done (120 ok, 0 failed)",
			", waiting for the API: the API is down",
			"batch b1: 300/300 rows done (299 ok, 1 failed)",
		}},
		// The bar itself, drawn on any writer.
		{name: "Bar", bar: true, want: []string{
			"batch b1: waiting for the API: the API is down\n",
			"batch b1: the API answers again\n",
			"batch b1 (299 ok, 1 failed)", "100%", "(300/300", "rows/s)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got string
			if tc.bar {
				var buf bytes.Buffer
				update := newProgressBar(&buf, steps[0]).update
				for _, m := range steps {
					update(m)
				}
				got = buf.String()
				require.True(t, strings.HasSuffix(got, "\n"), "the finished bar ends its line")
			} else {
				f, err := os.Create(filepath.Join(t.TempDir(), "progress"))
				require.NoError(t, err)
				update := progressFunc(f, steps[0], time.Now())
				for _, m := range steps {
					update(m)
				}
				require.NoError(t, f.Close())
				b, err := os.ReadFile(f.Name())
				require.NoError(t, err)
				got = string(b)
			}
			for _, w := range tc.want {
				require.Contains(t, got, w)
			}
		})
	}
}
