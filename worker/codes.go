package worker

import (
	"errors"
	"strconv"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// Error codes of rows that failed at the API. With the importers' codes
// they form the documented vocabulary of README.md.
const (
	codeRejected      = "rejected"          // 400: the API refused the row; see the message
	codeNotFound      = "not_found"         // 404
	codeUnauthorized  = "unauthorized"      // 401: wrong or missing token; halts the batch
	codeForbidden     = "forbidden"         // 403: the key lacks the role; halts the batch
	codeExhausted     = "retries_exhausted" // transient faults outlived the retry budget
	codeTaskFailed    = "task_failed"       // the chunk's task failed past its retries
	codeImmutablePref = "immutable_field:"  // the record exists with a value that cannot change
)

// failure turns an error from the API into a failed outcome.
func failure(out jobs.Outcome, err error) jobs.Outcome {
	out.Status, out.Action = jobs.StatusFailed, jobs.ActionSkipped
	out.Message = err.Error()
	var apiErr *dmapi.Error
	if errors.As(err, &apiErr) {
		out.HTTPStatus = apiErr.Status
	}
	var ex *exhaustedError
	switch {
	case errors.As(err, &ex):
		out.ErrorCode = codeExhausted
	case out.HTTPStatus == 400:
		out.ErrorCode = codeRejected
	case out.HTTPStatus == 401:
		out.ErrorCode = codeUnauthorized
	case out.HTTPStatus == 403:
		out.ErrorCode = codeForbidden
	case out.HTTPStatus == 404:
		out.ErrorCode = codeNotFound
	case out.HTTPStatus != 0:
		out.ErrorCode = "http_" + strconv.Itoa(out.HTTPStatus)
	default:
		out.ErrorCode = codeExhausted
	}
	return out
}
