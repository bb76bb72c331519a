package dmapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// LicenseKind is a license family: "program" or "user".
type LicenseKind string

// License families bulksync manages.
const (
	ProgramLicense LicenseKind = "program"
	UserLicense    LicenseKind = "user"
)

// License is a license (seat pool) as the API returns it. Fields the API
// may leave out are pointers or raw JSON, so that "absent" can be told
// from "empty".
type License struct {
	ID               int64           `json:"id"`
	Created          *time.Time      `json:"created,omitempty"`
	Started          *time.Time      `json:"started,omitempty"`
	Expired          *time.Time      `json:"expired,omitempty"`
	Name             *string         `json:"name,omitempty"`
	Count            *int64          `json:"count,omitempty"`
	Active           *bool           `json:"active,omitempty"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
	EnrollmentConfig json.RawMessage `json:"enrollment_config,omitempty"`
	Source           *string         `json:"source,omitempty"`
	ExternalID       *string         `json:"external_id,omitempty"`
	PlatformKey      string          `json:"platform_key"`
	ProgramKey       string          `json:"program_key,omitempty"`
	ProgramID        string          `json:"program_id,omitempty"`
}

// Page is one page of a list endpoint. Both documented envelopes are
// read: {count, next, previous, results} and {count, next_page,
// previous_page, results}.
type Page[T any] struct {
	Count        int    `json:"count"`
	Next         string `json:"next"`
	NextPage     string `json:"next_page"`
	Previous     string `json:"previous"`
	PreviousPage string `json:"previous_page"`
	Results      []T    `json:"results"`
}

// HasNext reports whether a later page exists.
func (p Page[T]) HasNext() bool { return p.Next != "" || p.NextPage != "" }

// ListOptions filter a license list.
type ListOptions struct {
	PlatformKey string
	ExternalID  string
	Page        int // 1-based; 0 = first
	PageSize    int // 0 = the API's default
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.PlatformKey != "" {
		q.Set("platform_key", o.PlatformKey)
	}
	if o.ExternalID != "" {
		q.Set("external_id", o.ExternalID)
	}
	if o.Page > 0 {
		q.Set("page", strconv.Itoa(o.Page))
	}
	if o.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(o.PageSize))
	}
	return q
}

func licensePath(kind LicenseKind, op string) string {
	return "/api/catalog/licenses/" + string(kind) + "/" + op
}

// ListLicenses returns one page of licenses.
func (c *Client) ListLicenses(ctx context.Context, kind LicenseKind, opts ListOptions) (Page[License], error) {
	var p Page[License]
	err := c.do(ctx, "list "+string(kind)+" licenses", "GET", licensePath(kind, ""), opts.query(), nil, &p)
	return p, err
}

// ErrLookupUnsupported is the error of a license look-up whose answer
// holds licenses with other external ids: the server ignores the
// external_id filter, so an answer without the wanted license would not
// mean that it is absent.
var ErrLookupUnsupported = errors.New("the license list ignores the external_id filter")

// FindLicense looks a license up by external_id; it returns nil, nil when
// there is none. An answer that holds licenses with other external ids
// (a server that ignores the filter) still proves that a license it holds
// exists, but not that one it lacks is absent: then FindLicense returns an
// *Error wrapping [ErrLookupUnsupported], never "absent".
func (c *Client) FindLicense(ctx context.Context, kind LicenseKind, platformKey, externalID string) (*License, error) {
	op := fmt.Sprintf("find %s license %q", kind, externalID)
	p, err := c.ListLicenses(ctx, kind, ListOptions{PlatformKey: platformKey, ExternalID: externalID})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var found *License
	filtered := p.Count <= len(p.Results)
	for i := range p.Results {
		l := &p.Results[i]
		if l.ExternalID != nil && *l.ExternalID == externalID {
			found = l
		} else {
			filtered = false
		}
	}
	if found == nil && !filtered {
		return nil, &Error{Op: op, Err: ErrLookupUnsupported}
	}
	return found, nil
}

// CreateLicense creates a license from a request body with the API's
// field names.
func (c *Client) CreateLicense(ctx context.Context, kind LicenseKind, body map[string]any) (*License, error) {
	var l License
	if err := c.do(ctx, "create "+string(kind)+" license", "POST", licensePath(kind, "create/"), nil, body, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// UpdateLicense updates the license named by body's license_id or
// external_id.
func (c *Client) UpdateLicense(ctx context.Context, kind LicenseKind, body map[string]any) (*License, error) {
	var l License
	if err := c.do(ctx, "update "+string(kind)+" license", "POST", licensePath(kind, "update/"), nil, body, &l); err != nil {
		return nil, err
	}
	return &l, nil
}
