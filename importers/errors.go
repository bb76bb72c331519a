package importers

import (
	"errors"
	"fmt"
	"strings"
)

// Row error codes. A [RowError]'s code is one of these, followed by
// ":<field>" when the problem concerns one field. They are a stable,
// documented vocabulary (see README.md): add codes, never rename them.
var (
	// ErrMissingField: a required field is absent or empty.
	ErrMissingField = errors.New("missing_field")
	// ErrUnknownField: a field the kind does not know (JSON rows; CSV
	// reports unknown columns as a [FileError]). Allowed by IgnoreUnknown.
	ErrUnknownField = errors.New("unknown_field")
	// ErrInvalidInteger: not a whole number.
	ErrInvalidInteger = errors.New("invalid_integer")
	// ErrOutOfRange: a number outside the field's allowed range.
	ErrOutOfRange = errors.New("out_of_range")
	// ErrInvalidBoolean: not one of true/false/1/0/yes/no.
	ErrInvalidBoolean = errors.New("invalid_boolean")
	// ErrInvalidDatetime: not RFC 3339 or one of the accepted date forms.
	ErrInvalidDatetime = errors.New("invalid_datetime")
	// ErrInvalidObject: not a JSON object where one is required.
	ErrInvalidObject = errors.New("invalid_object")
	// ErrInvalidType: a JSON value of the wrong type (an array for a name).
	ErrInvalidType = errors.New("invalid_type")
	// ErrInvalidValue: a value outside the field's set of allowed values
	// (an action), or not of the field's form (an email address).
	ErrInvalidValue = errors.New("invalid_value")
	// ErrInvalidUTF8: bytes that are not UTF-8 (a Latin-1 export, say).
	ErrInvalidUTF8 = errors.New("invalid_utf8")
	// ErrFieldTooLarge: a value longer than Limits.MaxFieldBytes.
	ErrFieldTooLarge = errors.New("field_too_large")
	// ErrExpiredBeforeStarted: expired is not after started.
	ErrExpiredBeforeStarted = errors.New("expired_before_started")
	// ErrDuplicateKey: the row's key (external_id) already appeared on an
	// earlier valid row of the file; the first occurrence is applied.
	ErrDuplicateKey = errors.New("duplicate_external_id")
	// ErrDuplicateTarget: an earlier valid row of the file has the same
	// target (the same license and group, the same issuer, ...); the first
	// occurrence is applied.
	ErrDuplicateTarget = errors.New("duplicate_target")
	// ErrFieldCount: a CSV record with more or fewer cells than the header.
	ErrFieldCount = errors.New("wrong_field_count")
	// ErrMalformedCSV: a CSV record that cannot be parsed (a stray or
	// unterminated quote).
	ErrMalformedCSV = errors.New("malformed_csv")
	// ErrMalformedJSON: a JSON row that cannot be parsed (a broken NDJSON
	// line).
	ErrMalformedJSON = errors.New("malformed_json")
	// ErrNotAnObject: a JSON row that is not an object.
	ErrNotAnObject = errors.New("not_an_object")
)

// RowError describes why one row was rejected. It wraps one of the Err*
// sentinels of this package.
type RowError struct {
	Line   int    // physical line where the row starts
	Field  string // the field concerned, or "" for the whole row
	Err    error  // one of the Err* sentinels
	Detail string // human-readable explanation
}

// Code is the stable error code, e.g. "missing_field:platform_key".
func (e *RowError) Code() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ":" + e.Field
}

// Error implements error.
func (e *RowError) Error() string {
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Code(), e.Detail)
}

// Unwrap returns the sentinel.
func (e *RowError) Unwrap() error { return e.Err }

func rowErr(line int, field string, err error, format string, args ...any) *RowError {
	return &RowError{Line: line, Field: field, Err: err, Detail: fmt.Sprintf(format, args...)}
}

// File-level problems, wrapped in a [FileError].
var (
	// ErrEmptyFile: the input holds nothing but whitespace.
	ErrEmptyFile = errors.New("empty file")
	// ErrBadHeader: a CSV header that is missing, repeats a column, or names
	// columns the kind does not know.
	ErrBadHeader = errors.New("bad header")
	// ErrUnknownKind: the kind was not given and cannot be told from the
	// header or keys, or the given kind does not exist.
	ErrUnknownKind = errors.New("unknown kind")
	// ErrTooLarge: a line or row beyond the configured limits.
	ErrTooLarge = errors.New("input exceeds limits")
	// ErrSyntax: JSON that cannot be read on (a broken array, trailing
	// data after it), or a broken first row when the kind is to be told
	// from it.
	ErrSyntax = errors.New("syntax error")
)

// FileError is a problem with the file as a whole; reading stops.
type FileError struct {
	Line int   // line where the problem was found, 0 when unknown
	Err  error // one of the file-level sentinels
	Msg  string
}

// Error implements error.
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %v: %s", e.Line, e.Err, e.Msg)
	}
	return fmt.Sprintf("%v: %s", e.Err, e.Msg)
}

// Unwrap returns the sentinel.
func (e *FileError) Unwrap() error { return e.Err }

func fileErr(line int, err error, format string, args ...any) *FileError {
	return &FileError{Line: line, Err: err, Msg: fmt.Sprintf(format, args...)}
}

// kindErr turns an error of Lookup or Detect (which wraps ErrUnknownKind)
// into a *FileError without saying "unknown kind" twice.
func kindErr(line int, err error) *FileError {
	return &FileError{Line: line, Err: ErrUnknownKind, Msg: strings.TrimPrefix(err.Error(), ErrUnknownKind.Error()+": ")}
}
