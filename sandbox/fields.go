package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DRF validation messages.
const (
	msgRequired = "This field is required."
	msgNull     = "This field may not be null."
	msgBlank    = "This field may not be blank."
	msgString   = "Not a valid string."
	msgInteger  = "A valid integer is required."
	msgBoolean  = "Must be a valid boolean."
	msgMinZero  = "Ensure this value is greater than or equal to 0."
	msgDatetime = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)

// fields reads typed values from a JSON object (or a query string) with DRF's
// coercion rules and collects DRF-style errors per field.
type fields struct {
	raw  map[string]json.RawMessage
	errs map[string][]string
}

// bodyFields decodes the JSON object in r's body. An empty body is an empty
// object. It answers 415 for non-JSON content and 400 for malformed JSON.
func bodyFields(r *http.Request) (*fields, *response) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			resp := errorDetail(http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request.", ct))
			return nil, &resp
		}
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			resp := errorDetail(http.StatusRequestEntityTooLarge, "Request body is too large.")
			return nil, &resp
		}
		resp := errorDetail(http.StatusBadRequest, "Could not read request body.")
		return nil, &resp
	}
	f := &fields{raw: map[string]json.RawMessage{}}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return f, nil
	}
	var top json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		resp := errorDetail(http.StatusBadRequest, "JSON parse error - "+err.Error())
		return nil, &resp
	}
	if top[0] != '{' {
		resp := nonFieldError(fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", pythonType(top)))
		return nil, &resp
	}
	if err := json.Unmarshal(top, &f.raw); err != nil {
		resp := errorDetail(http.StatusBadRequest, "JSON parse error - "+err.Error())
		return nil, &resp
	}
	return f, nil
}

// queryFields reads the first value of each query parameter as a string field.
func queryFields(q url.Values) *fields {
	f := &fields{raw: make(map[string]json.RawMessage, len(q))}
	for k, vs := range q {
		f.raw[k], _ = json.Marshal(vs[0])
	}
	return f
}

// fallBack copies name from q when the fields lack it.
func (f *fields) fallBack(q url.Values, name string) {
	if _, ok := f.raw[name]; !ok && q.Has(name) {
		f.raw[name], _ = json.Marshal(q.Get(name))
	}
}

func (f *fields) has(name string) bool {
	_, ok := f.raw[name]
	return ok
}

func (f *fields) isNull(name string) bool {
	raw, ok := f.raw[name]
	return ok && string(raw) == "null"
}

func (f *fields) fail(name, msg string) {
	if f.errs == nil {
		f.errs = map[string][]string{}
	}
	f.errs[name] = append(f.errs[name], msg)
}

// failed answers 400 with the collected errors, or nil when there are none.
func (f *fields) failed() *response {
	if len(f.errs) == 0 {
		return nil
	}
	return &response{status: http.StatusBadRequest, body: f.errs}
}

// value returns the raw value of name, recording "required" and "null" errors.
func (f *fields) value(name string, required bool) (json.RawMessage, bool) {
	raw, ok := f.raw[name]
	switch {
	case !ok:
		if required {
			f.fail(name, msgRequired)
		}
		return nil, false
	case string(raw) == "null":
		f.fail(name, msgNull)
		return nil, false
	}
	return raw, true
}

// str reads a string; numbers are accepted as their text. Required strings may
// not be blank; surrounding space is trimmed.
func (f *fields) str(name string, required bool) (string, bool) {
	raw, ok := f.value(name, required)
	if !ok {
		return "", false
	}
	var s string
	switch raw[0] {
	case '"':
		_ = json.Unmarshal(raw, &s)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		s = string(raw)
	default:
		f.fail(name, msgString)
		return "", false
	}
	s = strings.TrimSpace(s)
	if required && s == "" {
		f.fail(name, msgBlank)
		return "", false
	}
	return s, true
}

// nullableStr reads a string that may be null; blank reads as null.
func (f *fields) nullableStr(name string) (*string, bool) {
	if f.isNull(name) {
		return nil, true
	}
	s, ok := f.str(name, false)
	if !ok || s == "" {
		return nil, ok
	}
	return &s, true
}

// integer reads an integer from a JSON number or a numeric string.
func (f *fields) integer(name string, required bool) (int, bool) {
	raw, ok := f.value(name, required)
	if !ok {
		return 0, false
	}
	text := string(raw)
	if raw[0] == '"' {
		_ = json.Unmarshal(raw, &text)
		text = strings.TrimSpace(text)
	}
	if n, err := strconv.Atoi(text); err == nil {
		return n, true
	}
	if x, err := strconv.ParseFloat(text, 64); err == nil && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
		return int(x), true
	}
	f.fail(name, msgInteger)
	return 0, false
}

// count reads a non-negative integer.
func (f *fields) count(name string, required bool) (int, bool) {
	n, ok := f.integer(name, required)
	if ok && n < 0 {
		f.fail(name, msgMinZero)
		return 0, false
	}
	return n, ok
}

// boolean reads true/false, 1/0 or strings such as "true", "yes", "on", "0".
func (f *fields) boolean(name string) (bool, bool) {
	raw, ok := f.value(name, false)
	if !ok {
		return false, false
	}
	text := string(raw)
	if raw[0] == '"' {
		_ = json.Unmarshal(raw, &text)
	}
	switch strings.ToLower(text) {
	case "true", "t", "yes", "y", "on", "1":
		return true, true
	case "false", "f", "no", "n", "off", "0":
		return false, true
	}
	f.fail(name, msgBoolean)
	return false, false
}

// datetime reads an ISO 8601 date-time; one without a zone is UTC.
func (f *fields) datetime(name string, required bool) (time.Time, bool) {
	raw, ok := f.value(name, required)
	if !ok {
		return time.Time{}, false
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		f.fail(name, msgDatetime)
		return time.Time{}, false
	}
	t, err := parseDatetime(s)
	if err != nil {
		f.fail(name, msgDatetime)
		return time.Time{}, false
	}
	return t, true
}

// nullableDatetime reads a date-time that may be null.
func (f *fields) nullableDatetime(name string) (*time.Time, bool) {
	if f.isNull(name) {
		return nil, true
	}
	t, ok := f.datetime(name, false)
	if !ok {
		return nil, false
	}
	return &t, true
}

// object reads a JSON object, returned compacted.
func (f *fields) object(name string) (json.RawMessage, bool) {
	raw, ok := f.value(name, false)
	if !ok {
		return nil, false
	}
	if raw[0] != '{' {
		f.fail(name, fmt.Sprintf("Expected a dictionary of items but got type %q.", pythonType(raw)))
		return nil, false
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, raw)
	return buf.Bytes(), true
}

// list reads a JSON array.
func (f *fields) list(name string, required bool) ([]json.RawMessage, bool) {
	raw, ok := f.value(name, required)
	if !ok {
		return nil, false
	}
	var items []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
		f.fail(name, fmt.Sprintf("Expected a list of items but got type %q.", pythonType(raw)))
		return nil, false
	}
	return items, true
}

var datetimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseDatetime parses the ISO 8601 forms DRF accepts ("T" or a space between
// date and time); a value without a zone is UTC. The result is in UTC,
// truncated to microseconds like a database column.
func parseDatetime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range datetimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Microsecond), nil
		}
	}
	return time.Time{}, fmt.Errorf("parse datetime %q: unsupported format", s)
}

// pythonType names the Python type of a JSON value, as DRF messages do.
func pythonType(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "str"
	case '{':
		return "dict"
	case '[':
		return "list"
	case 't', 'f':
		return "bool"
	case 'n':
		return "NoneType"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return "float"
	}
	return "int"
}
