package service

import (
	"net/http"
)

// Error codes of the service's JSON error answers. They are stable: new
// ones are added, none is renamed.
const (
	codeUnauthorized     = "unauthorized"       // 401: no token, or not the service's
	codeNotFound         = "not_found"          // 404: no such endpoint or batch
	codeMethodNotAllowed = "method_not_allowed" // 405
	codeInvalidJSON      = "invalid_json"       // 400: the body is not JSON
	codeInvalidRequest   = "invalid_request"    // 400: fields missing or wrong (DRF shape)
	codeInvalidParameter = "invalid_parameter"  // 400: a query parameter is wrong
	codeTooLarge         = "too_large"          // 413: the body is over --max-upload
	codeUnreadableFile   = "unreadable_file"    // 422: the file cannot be read as a whole
	codeBatchFinished    = "batch_finished"     // 409: the batch is done: nothing to cancel
	codeUnavailable      = "unavailable"        // 503: Redis is not reachable
	codeInternal         = "internal"           // 500: anything else
)

// writeError writes {"detail": detail, "code": code} with status.
func writeError(w http.ResponseWriter, status int, code, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail, "code": code})
}

// writeFieldErrors writes the Data Manager's DRF shape of field errors,
// {"field": ["message"], ...}, with "code": invalid_request, as a 400.
func writeFieldErrors(w http.ResponseWriter, fields map[string][]string) {
	body := make(map[string]any, len(fields)+1)
	for k, v := range fields {
		body[k] = v
	}
	body["code"] = codeInvalidRequest
	writeJSON(w, http.StatusBadRequest, body)
}

// methodNotAllowed answers a method the endpoint does not take, as DRF
// words it.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, `Method "`+r.Method+`" not allowed.`)
}
