package importers

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bulksync/bulksync/internal/jsonx"
)

// value is one converted field of a row.
type value struct {
	set bool
	s   string    // String: the text; Object: compact JSON
	i   int64     // Integer
	b   bool      // Boolean
	t   time.Time // Datetime, in UTC
	l   []string  // List
}

// rowValues is a row being validated: one value per schema field.
type rowValues struct {
	schema *Schema
	line   int
	vals   []value
}

// get returns the value of the named field (the zero value when unset).
func (r *rowValues) get(name string) value {
	if i := r.schema.index(name); i >= 0 {
		return r.vals[i]
	}
	return value{}
}

// dateLayouts are the accepted datetime forms, tried in order. Forms
// without a zone are read as UTC.
var dateLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// datetimeLayouts returns the dateLayouts that can match text. Each starts
// with the 10-byte date and the byte after it (none, 'T' or ' ') tells
// them apart, so only those are tried: a failed time.Parse allocates.
func datetimeLayouts(text string) []string {
	switch {
	case len(text) == 10:
		return dateLayouts[4:]
	case len(text) > 10 && text[10] == 'T':
		return dateLayouts[:2]
	case len(text) > 10 && text[10] == ' ':
		return dateLayouts[2:4]
	}
	return dateLayouts[:]
}

// fromText converts a CSV cell (or a JSON string) to the field's type.
// Surrounding spaces are trimmed; an empty cell is an absent value.
func (f *Field) fromText(line int, text string, lim Limits) (value, *RowError) {
	if len(text) > lim.MaxFieldBytes {
		return value{}, rowErr(line, f.Name, ErrFieldTooLarge, "%d bytes, more than the limit of %d", len(text), lim.MaxFieldBytes)
	}
	if !utf8.ValidString(text) {
		return value{}, rowErr(line, f.Name, ErrInvalidUTF8, "the value is not valid UTF-8 (save the file as UTF-8)")
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return value{}, nil
	}
	switch f.Type {
	case Integer:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); (ok && ne.Err == strconv.ErrRange) || f.outOfRange(text) {
				return value{}, rowErr(line, f.Name, ErrOutOfRange, "%q must be between %d and %d", text, f.Min, f.Max)
			}
			return value{}, rowErr(line, f.Name, ErrInvalidInteger, "%q is not a whole number", text)
		}
		if n < f.Min || n > f.Max {
			return value{}, rowErr(line, f.Name, ErrOutOfRange, "%d must be between %d and %d", n, f.Min, f.Max)
		}
		return value{set: true, i: n}, nil
	case Boolean:
		switch strings.ToLower(text) {
		case "true", "1", "yes":
			return value{set: true, b: true}, nil
		case "false", "0", "no":
			return value{set: true, b: false}, nil
		}
		return value{}, rowErr(line, f.Name, ErrInvalidBoolean, "%q is not one of true, false, 1, 0, yes, no", text)
	case Datetime:
		for _, layout := range datetimeLayouts(text) {
			if t, err := time.Parse(layout, text); err == nil {
				return value{set: true, t: t.UTC()}, nil
			}
		}
		return value{}, rowErr(line, f.Name, ErrInvalidDatetime, "%q is not an RFC 3339 date-time (2024-01-31T09:00:00Z) or a date (2024-01-31)", text)
	case Object:
		return objectValue(line, f, []byte(text), text)
	case Enum:
		for _, v := range f.Values {
			if strings.EqualFold(v, text) {
				return value{set: true, s: v}, nil
			}
		}
		return value{}, rowErr(line, f.Name, ErrInvalidValue, "%q is not one of %s", text, strings.Join(f.Values, ", "))
	case List:
		var l []string
		for part := range strings.SplitSeq(text, ";") {
			if part = strings.TrimSpace(part); part != "" {
				l = append(l, part)
			}
		}
		return value{set: len(l) > 0, l: l}, nil
	default:
		return value{set: true, s: text}, nil
	}
}

// outOfRange reports whether text is a decimal number in exponent or
// fraction notation (1e99, -2.5e10, 3000000000.0: JSON writers emit these
// for large numbers) that is a whole number outside [f.Min, f.Max]. Such a
// value is out of range rather than not a number.
func (f *Field) outOfRange(text string) bool {
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c >= '0' && c <= '9', c == '.', c == 'e', c == 'E', c == '+', c == '-':
		default:
			return false
		}
	}
	x, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return false
	}
	return x == math.Trunc(x) && (x < float64(f.Min) || x > float64(f.Max))
}

// objectValue reads a JSON object. text is raw as a string, or "" when the
// caller has none; an object that is already compact is kept as it is.
func objectValue(line int, f *Field, raw []byte, text string) (value, *RowError) {
	raw = bytes.TrimSpace(raw)
	if !utf8.Valid(raw) {
		return value{}, rowErr(line, f.Name, ErrInvalidUTF8, "the value is not valid UTF-8 (save the file as UTF-8)")
	}
	// One scan either way: json.Compact validates as it compacts.
	var compact bytes.Buffer
	valid := false
	if isCompact(raw) {
		valid = json.Valid(raw)
	} else {
		compact.Grow(len(raw))
		valid = json.Compact(&compact, raw) == nil
	}
	if !valid {
		return value{}, rowErr(line, f.Name, ErrInvalidObject, "the value is not valid JSON")
	}
	if raw[0] != '{' {
		return value{}, rowErr(line, f.Name, ErrInvalidObject, "the value must be a JSON object, like {\"tier\": \"gold\"}")
	}
	if compact.Len() > 0 {
		return value{set: true, s: compact.String()}, nil
	}
	if len(text) != len(raw) { // no text, or text before trimming
		text = string(raw)
	}
	return value{set: true, s: text}, nil
}

// isCompact reports whether the valid JSON raw has no white space outside
// its strings, which is all that json.Compact removes.
func isCompact(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inString && c == '\\':
			i++ // skip the escaped byte
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return true
}

// fromJSON converts a JSON value to the field's type. Strings are read like
// CSV cells, so "12" is a valid count and "yes" a valid boolean.
func (f *Field) fromJSON(line int, raw json.RawMessage, lim Limits) (value, *RowError) {
	if len(raw) > lim.MaxFieldBytes {
		return value{}, rowErr(line, f.Name, ErrFieldTooLarge, "%d bytes, more than the limit of %d", len(raw), lim.MaxFieldBytes)
	}
	switch raw[0] {
	case 'n': // null
		return value{}, nil
	case '"':
		// json.Unmarshal would quietly turn bytes that are not UTF-8
		// into U+FFFD; report them like a CSV cell.
		if !utf8.Valid(raw) {
			return value{}, rowErr(line, f.Name, ErrInvalidUTF8, "the value is not valid UTF-8 (save the file as UTF-8)")
		}
		s, ok := plainJSONString(raw)
		if !ok {
			if err := json.Unmarshal(raw, &s); err != nil {
				return value{}, rowErr(line, f.Name, ErrInvalidType, "the value is not a valid JSON string")
			}
		}
		return f.fromText(line, s, lim)
	case '{':
		if f.Type == Object {
			return objectValue(line, f, raw, "")
		}
	case '[':
		if f.Type == List {
			return listValue(line, f, raw)
		}
	case 't', 'f':
		if f.Type == Boolean {
			return value{set: true, b: raw[0] == 't'}, nil
		}
	default: // a number
		if f.Type == Integer && bytes.ContainsAny(raw, ".eE") {
			return f.fromJSONNumber(line, string(raw))
		}
		if f.Type == String || f.Type == Integer {
			return f.fromText(line, string(raw), lim)
		}
	}
	return value{}, rowErr(line, f.Name, ErrInvalidType, "expected %s, got %s", f.Type, jsonTypeName(raw[0]))
}

// fromJSONNumber reads a JSON number with a fraction or an exponent into
// an Integer field: its value counts, not its form, so 1E+2 is 100 and
// 12.0 is 12; a value with a fraction is invalid_integer, a whole one
// beyond the field's range out_of_range.
func (f *Field) fromJSONNumber(line int, num string) (value, *RowError) {
	text, whole := wholeNumber(num)
	if !whole {
		return value{}, rowErr(line, f.Name, ErrInvalidInteger, "%s is not a whole number", num)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < f.Min || n > f.Max {
		return value{}, rowErr(line, f.Name, ErrOutOfRange, "%s must be between %d and %d", num, f.Min, f.Max)
	}
	return value{set: true, i: n}, nil
}

// wholeNumber returns the value of the JSON number num as decimal digits
// with an optional '-' ("100" for 1E+2 or 100.0), shifting its digits by
// its exponent exactly, without floating point. whole is false when the
// value has a fraction. A value of more digits than an int64 holds comes
// back as "" (whole, and beyond every range).
func wholeNumber(num string) (text string, whole bool) {
	neg := strings.HasPrefix(num, "-")
	mant, exp := strings.TrimPrefix(num, "-"), 0
	if i := strings.IndexAny(mant, "eE"); i >= 0 {
		e, err := strconv.Atoi(mant[i+1:])
		if err != nil { // an exponent beyond an int: its sign tells
			e = math.MaxInt32
			if mant[i+1] == '-' {
				e = math.MinInt32
			}
		}
		mant, exp = mant[:i], max(math.MinInt32, min(e, math.MaxInt32))
	}
	digits := mant
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		digits = mant[:i] + mant[i+1:]
		exp -= len(mant) - i - 1
	}
	digits = strings.TrimLeft(digits, "0")
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	switch {
	case trimmed == "":
		return "0", true
	case exp < 0:
		return "", false
	case len(trimmed)+exp > 19:
		return "", true
	}
	text = trimmed + strings.Repeat("0", exp)
	if neg {
		text = "-" + text
	}
	return text, true
}

// plainJSONString returns the string a JSON string literal holds when it
// has no escapes, which is most of them: its bytes between the quotes.
// Others (escapes, control characters, a broken literal) need
// json.Unmarshal.
func plainJSONString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	return string(body), true
}

func jsonTypeName(first byte) string {
	switch first {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case 'n':
		return "null"
	}
	return "a number"
}

// String names the type for messages.
func (t FieldType) String() string {
	switch t {
	case Integer:
		return "a whole number"
	case Boolean:
		return "a boolean"
	case Datetime:
		return "a date-time string"
	case Object:
		return "a JSON object"
	case List:
		return "an array of strings"
	}
	return "a string"
}

// listValue reads a JSON array of strings; an empty array is no value.
func listValue(line int, f *Field, raw json.RawMessage) (value, *RowError) {
	if !utf8.Valid(raw) {
		return value{}, rowErr(line, f.Name, ErrInvalidUTF8, "the value is not valid UTF-8 (save the file as UTF-8)")
	}
	var items []string
	if err := json.Unmarshal(raw, &items); err != nil {
		return value{}, rowErr(line, f.Name, ErrInvalidType, "expected an array of strings")
	}
	var l []string
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			l = append(l, it)
		}
	}
	return value{set: len(l) > 0, l: l}, nil
}

// appendJSON appends the row's set fields as one JSON object, in schema
// order, skipping the transaction id field.
func (r *rowValues) appendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	first := true
	for i, f := range r.schema.Fields {
		v := r.vals[i]
		if !v.set || f.Name == r.schema.TxField {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = jsonx.AppendString(dst, f.Name)
		dst = append(dst, ':')
		switch f.Type {
		case Integer:
			dst = strconv.AppendInt(dst, v.i, 10)
		case Boolean:
			dst = strconv.AppendBool(dst, v.b)
		case Object:
			dst = append(dst, v.s...)
		case Datetime:
			dst = append(dst, '"')
			dst = v.t.AppendFormat(dst, time.RFC3339Nano)
			dst = append(dst, '"')
		case List:
			dst = append(dst, '[')
			for j, it := range v.l {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = jsonx.AppendString(dst, it)
			}
			dst = append(dst, ']')
		default:
			dst = jsonx.AppendString(dst, v.s)
		}
	}
	return append(dst, '}')
}
