package importers

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// These check the shortcuts of value.go against the encoding/json calls
// they stand for. They are internal because the shortcuts are.

func FuzzObjectValue(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"cost_center":"ENG-42"}`, `{ "cost_center" : "ENG-42" }`, "{\n\t\"a\": [1, 2],\r\n\"b\": {}\n}",
		`{"a b":"c d"}`, `{"a":"say \"hi there\""}`, `{"a":"\\"," b":1}`, `{"a":"\\\" x"}`, `[1, 2]`, `"x"`, `{"a":`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := bytes.TrimSpace([]byte(s))
		field := &Field{Name: "metadata", Type: Object}
		got, rerr := objectValue(1, field, []byte(s), s)
		if !json.Valid(raw) || raw[0] != '{' {
			require.NotNil(t, rerr)
			return
		}
		var want bytes.Buffer
		require.NoError(t, json.Compact(&want, raw))
		if rerr != nil {
			require.ErrorIs(t, rerr, ErrInvalidUTF8) // encoding/json lets bytes that are not UTF-8 through
			return
		}
		require.Equal(t, want.String(), got.s)
		got, rerr = objectValue(1, field, []byte(s), "")
		require.Nil(t, rerr)
		require.Equal(t, want.String(), got.s)
	})
}

// FuzzDatetimeLayouts checks that trying only datetimeLayouts(text)
// parses exactly what trying every layout of dateLayouts does.
func FuzzDatetimeLayouts(f *testing.F) {
	for _, s := range []string{
		"2024-01-15", "2024-01-15T09:30:00Z", "2024-01-15T09:30:00.5+02:00", "2024-01-15T09:30:00",
		"2024-01-15T09:30:00.123", "2024-01-15 09:30:00", "2024-01-15   09:30:00", "2024-01-15 09:30:00-05:00",
		"2024-01-15 09:30:00Z", "2024-01-15 09:30:00.25", "2024-01-15t09:30:00z", "+024-01-15", "2024-1-15",
		"2024-01-15T", "2024-01-15 ", "20240115", "",
	} {
		f.Add(s)
	}
	parse := func(layouts []string, text string) (time.Time, bool) {
		for _, layout := range layouts {
			if t, err := time.Parse(layout, text); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	}
	f.Fuzz(func(t *testing.T, text string) {
		want, wantOK := parse(dateLayouts[:], text)
		got, gotOK := parse(datetimeLayouts(text), text)
		require.Equal(t, wantOK, gotOK, "%q", text)
		require.True(t, want.Equal(got), "%q: %v, want %v", text, got, want)
	})
}

func FuzzPlainJSONString(f *testing.F) {
	for _, s := range []string{`"acme"`, `""`, `"a\"b"`, `"tab\there"`, "\"raw\ttab\"", `"é"`, `"`, `"x`, `x"`, `"a"b"`, `"\u00e9"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := plainJSONString(raw)
		if !ok || !utf8.Valid(raw) { // the caller rejects invalid UTF-8 first
			return
		}
		var want string
		require.NoError(t, json.Unmarshal(raw, &want), "%q is taken as plain", raw)
		require.Equal(t, want, got)
	})
}

func TestWholeNumber(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		num, text string
		whole     bool
	}{
		{"1E+2", "100", true},
		{"1e2", "100", true},
		{"1.0", "1", true},
		{"12.50e1", "125", true},
		{"100e-2", "1", true},
		{"-2.5e1", "-25", true},
		{"0.0", "0", true},
		{"-0e-7", "0", true},
		{"0.000e99999999999", "0", true},
		{"9223372036854775807.0", "9223372036854775807", true},
		{"123e65", "", true},
		{"1e99999999999", "", true},
		{"1.5", "", false},
		{"1e-3", "", false},
		{"12.0001e3", "", false},
		{"1e-99999999999", "", false},
	} {
		t.Run(tt.num, func(t *testing.T) {
			t.Parallel()
			text, whole := wholeNumber(tt.num)
			require.Equal(t, tt.whole, whole)
			require.Equal(t, tt.text, text)
		})
	}
}

// FuzzWholeNumber checks wholeNumber against math/big's exact value of
// the number.
func FuzzWholeNumber(f *testing.F) {
	for _, s := range []string{"1E+2", "1.0", "-0.0", "12.5", "1e-3", "123e65", "100e-2", "0.1e1", "-9223372036854775808.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, num string) {
		if !json.Valid([]byte(num)) || num != strings.TrimSpace(num) || (num[0] != '-' && (num[0] < '0' || num[0] > '9')) {
			return // not a JSON number
		}
		if i := strings.IndexAny(num, "eE"); i >= 0 && len(strings.TrimLeft(num[i+1:], "+-")) > 4 {
			return // big.Rat would take long to build 10^e
		}
		var want big.Rat
		_, ok := want.SetString(num)
		require.True(t, ok, num)
		text, whole := wholeNumber(num)
		require.Equal(t, want.IsInt(), whole, num)
		if !whole {
			return
		}
		if len(strings.TrimPrefix(want.Num().String(), "-")) <= 19 {
			require.Equal(t, want.Num().String(), text, num)
		} else {
			require.Empty(t, text, num)
		}
	})
}
