// Package importers turns roster files into validated rows.
//
// A [Reader] streams CSV (header row, RFC 4180, UTF-8 with optional BOM,
// CRLF or LF), a JSON array of objects, or NDJSON (one object a line) from
// any [io.Reader] and yields one [Row] at a time, so memory does not grow
// with the size of the file. Every row carries its line number: for CSV the
// physical line where the record starts (the header is line 1, quoted
// newlines count), for JSON the line where the object starts. A line break
// inside a quoted CSV cell is kept as written ("\r\n" or "\n").
//
// # Kinds and schemas
//
// Each kind of file (program-licenses, user-licenses, ...) has a [Schema]:
// its fields with their types, which are required, the key that must be
// unique within a file, and cross-field checks. The reader converts every
// value to its type and emits the row as a canonical JSON object whose keys
// are the API's field names.
//
// # Errors
//
// Problems with a single row never stop the reader: the row is returned with
// a [RowError] whose [RowError.Code] is a stable code such as
// "missing_field:platform_key". Problems with the file itself (not CSV or
// JSON, no header, a line longer than the limits allow) are returned as a
// [FileError] from [Reader.Next] and end the read.
package importers
