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
	codeRejected       = "rejected"          // 400: the API refused the row; see the message
	codeNotFound       = "not_found"         // 404, or a reference (a license by external_id) that resolves to nothing
	codeConflict       = "conflict"          // 409: e.g. a UiPath allocation beyond the account's quantities
	codeUnauthorized   = "unauthorized"      // 401, or refused credentials: wrong or missing token; halts the batch
	codeForbidden      = "forbidden"         // 403: the key lacks the role; halts the batch
	codeExhausted      = "retries_exhausted" // transient faults outlived the retry budget
	codeTaskFailed     = "task_failed"       // the chunk's task failed past its retries
	codeImmutablePref  = "immutable_field:"  // the record exists with a value that cannot change
	codeInvalidPayload = "invalid_payload"   // the row cannot be read or sent as it is (a producer and a worker out of step)
	codeNotConfigured  = "not_configured"    // the kind's API client is not configured (UiPath)
	// codeLookupUnsupported: the API's answer to a look-up cannot be
	// trusted (a list that ignores its filter); halts the batch.
	codeLookupUnsupported = "lookup_unsupported"
)

// halts reports whether a row failing with code halts its batch: no
// further request could succeed, or be trusted.
func halts(code string) bool {
	return code == codeUnauthorized || code == codeForbidden || code == codeLookupUnsupported
}

// failure turns an error from the API into a failed outcome.
func failure(out jobs.Outcome, err error) jobs.Outcome {
	out.Status, out.Action = jobs.StatusFailed, jobs.ActionSkipped
	out.Message = err.Error()
	var apiErr *dmapi.Error
	if errors.As(err, &apiErr) {
		out.HTTPStatus = apiErr.Status
	}
	var ex *exhaustedError
	var nf *notFoundError
	var imm *errImmutable
	switch {
	case errors.Is(err, dmapi.ErrLookupUnsupported):
		out.ErrorCode = codeLookupUnsupported
	case errors.As(err, &imm):
		out.ErrorCode = codeImmutablePref + imm.field
	case errors.As(err, &ex):
		out.ErrorCode = codeExhausted
	case errors.As(err, &nf):
		out.ErrorCode, out.HTTPStatus = codeNotFound, nf.status
	case apiErr != nil && apiErr.CredentialsRefused:
		out.ErrorCode = codeUnauthorized // a token endpoint refused the credentials
	case out.HTTPStatus == 400:
		out.ErrorCode = codeRejected
	case out.HTTPStatus == 401:
		out.ErrorCode = codeUnauthorized
	case out.HTTPStatus == 403:
		out.ErrorCode = codeForbidden
	case out.HTTPStatus == 404:
		out.ErrorCode = codeNotFound
	case out.HTTPStatus == 409:
		out.ErrorCode = codeConflict
	case out.HTTPStatus != 0:
		out.ErrorCode = "http_" + strconv.Itoa(out.HTTPStatus)
	case dmapi.ClassOf(err) == dmapi.Retryable:
		out.ErrorCode = codeExhausted
	default:
		// No request was answered: the row could not be sent as it is.
		out.ErrorCode = codeInvalidPayload
	}
	return out
}

// notFoundError is a reference that resolves to nothing, such as a license
// external_id that no license has: a permanent failure, "not_found".
type notFoundError struct {
	what   string
	status int // the HTTP status that said so, if any
}

func (e *notFoundError) Error() string { return e.what + " not found" }
