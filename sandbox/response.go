package sandbox

import (
	"encoding/json"
	"net/http"
	"time"
)

// response is a handler's answer. Handlers build responses instead of writing
// them so that the server can lose the answer to a write (FailAfterWrite).
type response struct {
	status int
	body   any // encoded as JSON; nil writes no body
	header http.Header
	wrote  bool // the request changed state
}

// detailBody is the DRF error body {"detail": "..."}.
type detailBody struct {
	Detail string `json:"detail"`
}

func detail(msg string) detailBody { return detailBody{Detail: msg} }

func ok(body any) response { return response{status: http.StatusOK, body: body} }

// written is a successful answer to a request that changed state.
func written(status int, body any) response { return response{status: status, body: body, wrote: true} }

func errorDetail(status int, msg string) response { return response{status: status, body: detail(msg)} }

func notFound(msg string) response { return errorDetail(http.StatusNotFound, msg) }

// fieldError is a 400 with DRF's per-field error body {"field": ["msg"]}.
func fieldError(field, msg string) response {
	return response{status: http.StatusBadRequest, body: map[string][]string{field: {msg}}}
}

// nonFieldError is a 400 with DRF's {"non_field_errors": ["msg"]} body.
func nonFieldError(msg string) response { return fieldError("non_field_errors", msg) }

func writeJSON(w http.ResponseWriter, status int, body any) {
	if body == nil {
		w.WriteHeader(status)
		return
	}
	data, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"detail":"A server error occurred."}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// formatTime renders t like DRF: UTC, "Z" suffix, microseconds when non-zero.
func formatTime(t time.Time) string {
	if t.Nanosecond() == 0 {
		return t.UTC().Format("2006-01-02T15:04:05Z")
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

// now is the current time as stored: UTC, microsecond precision.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
