package dmapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Class says what a caller may do about a failed request.
type Class int

// Error classes.
const (
	Retryable Class = iota + 1 // transient: try again later
	Permanent                  // the request is wrong: never retry it
	Fatal                      // the credentials are wrong: stop everything
)

func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case Fatal:
		return "fatal"
	}
	return "unknown"
}

// Error is a failed API request.
type Error struct {
	Op         string        // what was being done, e.g. "create program license"
	Status     int           // HTTP status, 0 for a network failure
	Message    string        // the API's explanation, flattened from its error body
	RetryAfter time.Duration // from a Retry-After header, when present
	Err        error         // the transport error for network failures
	// CredentialsRefused marks a refused credential exchange, such as an
	// OAuth token endpoint's 400 invalid_client: no request can succeed, so
	// the failure is Fatal whatever its Status.
	CredentialsRefused bool
}

// Error implements error.
func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	if e.Message == "" {
		return fmt.Sprintf("%s: HTTP %d", e.Op, e.Status)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Status, e.Message)
}

// Unwrap returns the transport error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Class classifies the failure.
func (e *Error) Class() Class {
	if e.CredentialsRefused || errors.Is(e.Err, ErrLookupUnsupported) {
		return Fatal
	}
	switch s := e.Status; {
	case s == 0, s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500:
		return Retryable
	case s == http.StatusUnauthorized, s == http.StatusForbidden:
		return Fatal
	default:
		return Permanent
	}
}

// ClassOf classifies any error: an *Error by its status, anything else
// (a request that cannot be built, a conflict found by the caller) as
// Permanent.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class()
	}
	return Permanent
}

// StatusOf returns the HTTP status of a failed request, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// maxMessage bounds how much of an error body is kept.
const maxMessage = 500

// message flattens a DRF-style error body: {"detail": "..."},
// {"field": ["msg", ...]} or {"non_field_errors": [...]}; other bodies are
// returned as text.
func message(body []byte) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return truncate(strings.TrimSpace(string(body)))
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		var s string
		var list []string
		switch {
		case json.Unmarshal(obj[k], &s) == nil:
		case json.Unmarshal(obj[k], &list) == nil:
			s = strings.Join(list, " ")
		default:
			s = string(obj[k])
		}
		if k == "detail" || k == "non_field_errors" {
			parts = append(parts, s)
		} else {
			parts = append(parts, k+": "+s)
		}
	}
	return truncate(strings.Join(parts, "; "))
}

func truncate(s string) string {
	if len(s) > maxMessage {
		return s[:maxMessage] + "…"
	}
	return s
}

// RetryAfter reads a Retry-After header (seconds or an HTTP date) as a
// delay from now; 0 when there is none.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
