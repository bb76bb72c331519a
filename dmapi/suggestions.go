package dmapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Suggestion is a program suggested to a user, as the API returns it.
type Suggestion struct {
	ID          int64           `json:"id"`
	UserID      int64           `json:"user_id"`
	Username    string          `json:"username"`
	Name        string          `json:"name"`
	PlatformKey string          `json:"platform_key"`
	Accepted    bool            `json:"accepted"`
	Visible     bool            `json:"visible"`
	Created     *time.Time      `json:"created,omitempty"`
	Modified    *time.Time      `json:"modified,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	ProgramKey  string          `json:"program_key"`
	ProgramName string          `json:"program_name"`
}

// GroupSuggestion is a program suggested to a group, as the API returns it.
type GroupSuggestion struct {
	ID          int64           `json:"id"`
	GroupID     int64           `json:"group_id"`
	GroupName   string          `json:"group_name"`
	PlatformKey string          `json:"platform_key"`
	Accepted    bool            `json:"accepted"`
	Visible     bool            `json:"visible"`
	Created     *time.Time      `json:"created,omitempty"`
	Modified    *time.Time      `json:"modified,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	ProgramKey  string          `json:"program_key"`
	ProgramName string          `json:"program_name"`
	UserCount   int             `json:"user_count"`
}

// SuggestionQuery filters the admin list of program suggestions.
type SuggestionQuery struct {
	PlatformKey string // required
	Query       string // search term
	Page        int    // 1-based; 0 = first
	PageSize    int    // 0 = the API's default
}

// GroupSuggestionQuery filters the list of program group suggestions.
type GroupSuggestionQuery struct {
	PlatformKey string // required
	Page        int    // 1-based; 0 = first
	PageSize    int    // 0 = the API's default
}

// BulkRequest is the body of a bulk program suggestion request. All items
// must belong to PlatformKey.
type BulkRequest struct {
	PlatformKey string `json:"platform_key"`
	PlatformOrg string `json:"platform_org,omitempty"`
	// SuggestionData holds one object per suggestion: program_key and
	// user_id, and optionally accepted, visible and metadata.
	SuggestionData []map[string]any `json:"suggestion_data"`
	// DepartmentMode must be set when the key belongs to a department admin.
	DepartmentMode bool `json:"department_mode"`
}

// BulkResponse is the answer to a bulk request. It has no per-item ids and
// does not map error codes to items.
type BulkResponse struct {
	Successes  int      `json:"successes"`
	ErrorCodes []string `json:"error_codes"`
}

const (
	suggestionPath      = "/api/catalog/suggestions/program/manage/"
	bulkSuggestionPath  = suggestionPath + "bulk/"
	groupSuggestionPath = suggestionPath + "group/"
)

// deleteQuery is the query of a suggestion DELETE.
func deleteQuery(suggestionID int64, platformKey string) url.Values {
	q := url.Values{}
	setInt(q, "suggestion_id", suggestionID)
	setStr(q, "platform_key", platformKey)
	return q
}

// UpsertSuggestion creates or updates the suggestion of a program to a user
// from a request body with the API's field names (platform_key, program_key
// and user_id required); platform_key is sent in the query too, as the
// schema asks. created reports a 201 (created) rather than a 200 (updated).
func (c *Client) UpsertSuggestion(ctx context.Context, body map[string]any) (s *Suggestion, created bool, err error) {
	var out Suggestion
	status, err := c.doStatus(ctx, "upsert program suggestion", http.MethodPost, suggestionPath, bodyQuery(body, "platform_key"), body, &out)
	if err != nil {
		return nil, false, err
	}
	return &out, status == http.StatusCreated, nil
}

// BulkSuggestions creates or updates many program suggestions in one
// request.
func (c *Client) BulkSuggestions(ctx context.Context, req BulkRequest) (BulkResponse, error) {
	var res BulkResponse
	err := c.do(ctx, "bulk program suggestions", http.MethodPost, bulkSuggestionPath, nil, req, &res)
	return res, err
}

// ListSuggestions returns one page of a platform's program suggestions.
func (c *Client) ListSuggestions(ctx context.Context, q SuggestionQuery) (Page[Suggestion], error) {
	v := url.Values{}
	setStr(v, "platform_key", q.PlatformKey)
	setStr(v, "query", q.Query)
	setPage(v, q.Page, q.PageSize)
	var p Page[Suggestion]
	err := c.do(ctx, "list program suggestions", http.MethodGet, suggestionPath, v, nil, &p)
	return p, err
}

// DeleteSuggestion deletes a program suggestion. A 404 (already gone) is
// returned as an *Error with Status 404 for the caller to judge.
func (c *Client) DeleteSuggestion(ctx context.Context, suggestionID int64, platformKey string) error {
	return c.do(ctx, "delete program suggestion", http.MethodDelete, suggestionPath, deleteQuery(suggestionID, platformKey), nil, nil)
}

// UpsertGroupSuggestion creates or updates the suggestion of a program to a
// group from a request body with the API's field names (platform_key,
// program_key and group_id required); platform_key is sent in the query
// too, as the schema asks.
func (c *Client) UpsertGroupSuggestion(ctx context.Context, body map[string]any) (*GroupSuggestion, error) {
	var out GroupSuggestion
	if err := c.do(ctx, "upsert program group suggestion", http.MethodPost, groupSuggestionPath, bodyQuery(body, "platform_key"), body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListGroupSuggestions returns one page of a platform's program group
// suggestions.
func (c *Client) ListGroupSuggestions(ctx context.Context, q GroupSuggestionQuery) (Page[GroupSuggestion], error) {
	v := url.Values{}
	setStr(v, "platform_key", q.PlatformKey)
	setPage(v, q.Page, q.PageSize)
	var p Page[GroupSuggestion]
	err := c.do(ctx, "list program group suggestions", http.MethodGet, groupSuggestionPath, v, nil, &p)
	return p, err
}

// FindGroupSuggestion returns the suggestion of a program to a group on a
// platform, or nil, nil when there is none. The list has no filter for
// either, so it is paged through.
func (c *Client) FindGroupSuggestion(ctx context.Context, platformKey, programKey string, groupID int64) (*GroupSuggestion, error) {
	q := GroupSuggestionQuery{PlatformKey: platformKey, PageSize: scanPageSize}
	s, err := first(ctx, func(ctx context.Context, page int) (Page[GroupSuggestion], error) {
		q.Page = page
		return c.ListGroupSuggestions(ctx, q)
	}, func(s *GroupSuggestion) bool { return s.GroupID == groupID && s.ProgramKey == programKey })
	if err != nil {
		return nil, fmt.Errorf("find suggestion of program %q to group %d: %w", programKey, groupID, err)
	}
	return s, nil
}

// DeleteGroupSuggestion deletes a program group suggestion. A 404 (already
// gone) is returned as an *Error with Status 404 for the caller to judge.
func (c *Client) DeleteGroupSuggestion(ctx context.Context, suggestionID int64, platformKey string) error {
	return c.do(ctx, "delete program group suggestion", http.MethodDelete, groupSuggestionPath, deleteQuery(suggestionID, platformKey), nil, nil)
}
