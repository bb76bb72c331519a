package uipath

import (
	"encoding/json"
	"strings"
)

// message flattens an error body: the lease API's {"message": "..."}, an
// OAuth {"error": "code", "error_description": "..."} or ROPC's {"error":
// {"message": "...", "details": "..."}}; other bodies are kept as text.
func message(body []byte) string {
	var b struct {
		Message     string          `json:"message"`
		Error       json.RawMessage `json:"error"`
		Description string          `json:"error_description"`
	}
	if json.Unmarshal(body, &b) == nil {
		var code string
		var abp struct{ Message, Details string }
		switch {
		case b.Message != "":
			return truncate(b.Message)
		case json.Unmarshal(b.Error, &code) == nil && code != "":
			return truncate(join(code, b.Description))
		case json.Unmarshal(b.Error, &abp) == nil && abp.Message != "":
			return truncate(join(abp.Message, abp.Details))
		}
	}
	return truncate(strings.TrimSpace(string(body)))
}

// join joins a message and its optional details.
func join(msg, details string) string {
	if details == "" {
		return msg
	}
	return msg + ": " + details
}

func truncate(s string) string {
	if len(s) > maxMessage {
		return s[:maxMessage] + "…"
	}
	return s
}
