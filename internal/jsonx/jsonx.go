// Package jsonx appends JSON text to byte slices by hand, for the hot paths
// (row and chunk encoding) where encoding/json's reflection costs too much.
package jsonx

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// AppendString appends s as a JSON string, exactly as json.Marshal writes it.
func AppendString(dst []byte, s string) []byte {
	if !marshalsVerbatim(s) {
		b, _ := json.Marshal(s) // strings always marshal
		return append(dst, b...)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// marshalsVerbatim reports whether json.Marshal writes s between quotes
// unchanged: valid UTF-8 without control characters, '"', '\\', the HTML
// characters <, > and &, or U+2028 and U+2029.
func marshalsVerbatim(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
		} else if c < 64 && verbatimLow&(1<<c) == 0 || c >= 64 && verbatimHigh&(1<<(c-64)) == 0 {
			return false
		}
	}
	return ascii || (utf8.ValidString(s) && !strings.Contains(s, "\u2028") && !strings.Contains(s, "\u2029"))
}

// verbatimLow and verbatimHigh are the ASCII bytes json.Marshal writes as
// they are, as bit sets of bytes 0-63 and 64-127: all but those below 0x20
// and " & < > \.
const (
	verbatimLow  = ^uint64(0) &^ (1<<0x20 - 1) &^ (1 << '"') &^ (1 << '&') &^ (1 << '<') &^ (1 << '>')
	verbatimHigh = ^uint64(0) &^ (1 << ('\\' - 64))
)
