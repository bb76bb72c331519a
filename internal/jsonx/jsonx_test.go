package jsonx

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzAppendString checks the shortcut against json.Marshal.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{
		"", "acme", "Data Science 2024 – Engineering", "R&D <Ops>", "quote \" and \\ backslash",
		"tab\tnewline\n", "\x7f", "line\u2028separator\u2029", "M\xfcller", "\xe2\x80", "日本語", "\U0001F600",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(AppendString(nil, s)))
	})
}
