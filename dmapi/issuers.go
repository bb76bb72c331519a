package dmapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Issuer is a credential issuer, as the API returns it. Name, Org, URL
// and Signatories are read-only: they hold the server's values, whatever
// a create or update sent. The answer never holds an email.
type Issuer struct {
	Name     string `json:"name,omitempty"`
	Org      string `json:"org,omitempty"`
	EntityID string `json:"entityId"`
	// Signatories is raw JSON: the schema says an object, the docstring an
	// array.
	Signatories         json.RawMessage `json:"signatories,omitempty"`
	URL                 string          `json:"url,omitempty"`
	IconImage           string          `json:"iconImage,omitempty"`
	AllowedTemplateTags []string        `json:"allowed_template_tags,omitempty"`
}

// issuersPath is the escaped path of an org user's issuers.
func issuersPath(org, user string) (string, error) {
	if org == "" || user == "" {
		return "", errors.New("org and user are required")
	}
	return "/api/credentials/orgs/" + url.PathEscape(org) + "/users/" + url.PathEscape(user) + "/issuers/", nil
}

// issuerPath is the escaped path of one issuer; it has no trailing slash.
func issuerPath(org, user, entityID string) (string, error) {
	if entityID == "" {
		return "", errors.New("entity id is required")
	}
	p, err := issuersPath(org, user)
	return p + url.PathEscape(entityID), err
}

// unwrap returns X from the credentials envelope {"status": ..., "result":
// X}, or data itself when it is bare.
func unwrap(data json.RawMessage) json.RawMessage {
	var env struct {
		Status json.RawMessage `json:"status"`
		Result json.RawMessage `json:"result"`
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) && json.Unmarshal(data, &env) == nil &&
		env.Status != nil && env.Result != nil {
		return env.Result
	}
	return data
}

// decodeIssuer reads an issuer answer: wrapped or bare, an object or an
// array of one. It returns nil for an empty answer or an empty array.
func decodeIssuer(op string, data json.RawMessage) (*Issuer, error) {
	data = bytes.TrimSpace(unwrap(data))
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil, nil
	}
	if data[0] == '[' {
		var list []Issuer
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, &Error{Op: op, Err: fmt.Errorf("decode answer: %w", err)}
		}
		if len(list) == 0 {
			return nil, nil
		}
		return &list[0], nil
	}
	var is Issuer
	if err := json.Unmarshal(data, &is); err != nil {
		return nil, &Error{Op: op, Err: fmt.Errorf("decode answer: %w", err)}
	}
	return &is, nil
}

// requireIssuer is decodeIssuer for writes, whose answer must hold the
// issuer. A write answered without one is a broken answer, like any 2xx
// that cannot be read.
func requireIssuer(op string, data json.RawMessage) (*Issuer, error) {
	is, err := decodeIssuer(op, data)
	if err == nil && is == nil {
		err = &Error{Op: op, Err: errors.New("the answer holds no issuer")}
	}
	return is, err
}

// GetIssuer returns an issuer by entity id (or org identifier), or nil, nil
// when there is none.
func (c *Client) GetIssuer(ctx context.Context, org, user, entityID string) (*Issuer, error) {
	const op = "get issuer"
	path, err := issuerPath(org, user, entityID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var raw json.RawMessage
	if err := c.do(ctx, op, http.MethodGet, path, nil, nil, &raw); err != nil {
		if StatusOf(err) == http.StatusNotFound {
			return nil, nil
		}
		return nil, err
	}
	return decodeIssuer(op, raw)
}

// CreateIssuer creates an issuer from a request body with the API's field
// names: entityId and iconImage (required), and optionally name, email,
// url and allowed_template_tags.
func (c *Client) CreateIssuer(ctx context.Context, org, user string, body map[string]any) (*Issuer, error) {
	const op = "create issuer"
	path, err := issuersPath(org, user)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var raw json.RawMessage
	if err := c.do(ctx, op, http.MethodPost, path, nil, body, &raw); err != nil {
		return nil, err
	}
	return requireIssuer(op, raw)
}

// UpdateIssuer changes the fields of an issuer given in body, which holds
// entityId and iconImage (required) as create's does.
func (c *Client) UpdateIssuer(ctx context.Context, org, user, entityID string, body map[string]any) (*Issuer, error) {
	const op = "update issuer"
	path, err := issuerPath(org, user, entityID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var raw json.RawMessage
	if err := c.do(ctx, op, http.MethodPut, path, nil, body, &raw); err != nil {
		return nil, err
	}
	return requireIssuer(op, raw)
}

// DeleteIssuer deletes an issuer; the API answers 200 or 204. A 404
// (already gone) is returned as an *Error with Status 404 for the caller to
// judge.
func (c *Client) DeleteIssuer(ctx context.Context, org, user, entityID string) error {
	const op = "delete issuer"
	path, err := issuerPath(org, user, entityID)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return c.do(ctx, op, http.MethodDelete, path, nil, nil, nil)
}
