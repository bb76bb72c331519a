package worker

import (
	"errors"
	"strconv"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/jobs"
)

// halts reports whether a row failing with code halts its batch: no
// further request could succeed, or be trusted.
func halts(code string) bool {
	return code == jobs.CodeUnauthorized || code == jobs.CodeForbidden || code == jobs.CodeLookupUnsupported
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
		out.ErrorCode = jobs.CodeLookupUnsupported
	case errors.As(err, &imm):
		out.ErrorCode = jobs.CodeImmutablePrefix + imm.field
	case errors.As(err, &ex):
		out.ErrorCode = jobs.CodeRetriesExhausted
	case errors.As(err, &nf):
		out.ErrorCode, out.HTTPStatus = jobs.CodeNotFound, nf.status
	case apiErr != nil && apiErr.CredentialsRefused:
		out.ErrorCode = jobs.CodeUnauthorized // a token endpoint refused the credentials
	case out.HTTPStatus == 400:
		out.ErrorCode = jobs.CodeRejected
	case out.HTTPStatus == 401:
		out.ErrorCode = jobs.CodeUnauthorized
	case out.HTTPStatus == 403:
		out.ErrorCode = jobs.CodeForbidden
	case out.HTTPStatus == 404:
		out.ErrorCode = jobs.CodeNotFound
	case out.HTTPStatus == 409:
		out.ErrorCode = jobs.CodeConflict
	case out.HTTPStatus != 0:
		out.ErrorCode = "http_" + strconv.Itoa(out.HTTPStatus)
	case dmapi.ClassOf(err) == dmapi.Retryable:
		out.ErrorCode = jobs.CodeRetriesExhausted
	default:
		// No request was answered: the row could not be sent as it is.
		out.ErrorCode = jobs.CodeInvalidPayload
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
