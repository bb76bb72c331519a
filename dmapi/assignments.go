package dmapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// GroupAssignment is a license assignment to a group, as the API returns it
// (*GroupAssignmentDetail). PlatformKey comes with user licenses only; the
// fields after it with program licenses only.
type GroupAssignment struct {
	ID          int64           `json:"id"`
	GroupID     int64           `json:"group_id"`
	GroupName   string          `json:"group_name"`
	Active      bool            `json:"active"`
	Fulfilled   bool            `json:"fulfilled"`
	RedirectTo  string          `json:"redirect_to,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	LicenseID   int64           `json:"license_id"`
	LicenseName string          `json:"license_name"`
	PlatformKey string          `json:"platform_key"`

	Created       *time.Time `json:"created,omitempty"`
	Modified      *time.Time `json:"modified,omitempty"`
	ProgramKey    string     `json:"program_key,omitempty"`
	ProgramName   string     `json:"program_name,omitempty"`
	UserCount     int        `json:"user_count,omitempty"`
	AssignedCount int        `json:"assigned_count,omitempty"`
}

// UserAssignment is a license assignment to a user, as the API returns it
// (*LicenseAssignmentDetail). PlatformKey comes with user licenses only; the
// fields after it with program licenses only.
type UserAssignment struct {
	ID          int64           `json:"id"`
	UserID      int64           `json:"user_id"`
	Username    string          `json:"username"`
	Email       string          `json:"email"`
	Active      bool            `json:"active"`
	Fulfilled   bool            `json:"fulfilled"`
	RedirectTo  string          `json:"redirect_to,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	LicenseID   int64           `json:"license_id"`
	LicenseName string          `json:"license_name"`
	PlatformKey string          `json:"platform_key"`

	Name       string     `json:"name,omitempty"`
	Direct     bool       `json:"direct,omitempty"`
	Created    *time.Time `json:"created,omitempty"`
	Modified   *time.Time `json:"modified,omitempty"`
	ProgramKey string     `json:"program_key,omitempty"`
}

// GroupAssignmentQuery filters a group assignment list.
type GroupAssignmentQuery struct {
	LicenseID   int64 // required
	GroupID     int64 // documented for program licenses only; 0 = any group
	PlatformKey string
	Page        int // 1-based; 0 = first
	PageSize    int // 0 = the API's default
}

func (o GroupAssignmentQuery) query() url.Values {
	q := url.Values{}
	setInt(q, "license_id", o.LicenseID)
	setInt(q, "group_id", o.GroupID)
	setStr(q, "platform_key", o.PlatformKey)
	setPage(q, o.Page, o.PageSize)
	return q
}

// UserAssignmentQuery filters a user assignment list.
type UserAssignmentQuery struct {
	LicenseID   int64  // required
	UserID      int64  // documented for program licenses only; 0 = any user
	Email       string // documented for program licenses only
	PlatformKey string
	Page        int // 1-based; 0 = first
	PageSize    int // 0 = the API's default
}

func (o UserAssignmentQuery) query() url.Values {
	q := url.Values{}
	setInt(q, "license_id", o.LicenseID)
	setInt(q, "user_id", o.UserID)
	setStr(q, "email", o.Email)
	setStr(q, "platform_key", o.PlatformKey)
	setPage(q, o.Page, o.PageSize)
	return q
}

// RemoveQuery names the assignment a Remove call deletes. It becomes the
// DELETE's query string, which carries exactly these documented parameters.
type RemoveQuery struct {
	AssignmentID int64 // required
	LicenseID    int64 // required
	PlatformKey  string
	PlatformOrg  string
	// RemoveUserAssignments says whether removing a program group
	// assignment also removes the user assignments it created; nil leaves
	// the API's default (true). Other assignments do not take it.
	RemoveUserAssignments *bool
}

func (o RemoveQuery) query() url.Values {
	q := url.Values{}
	setInt(q, "assignment_id", o.AssignmentID)
	setInt(q, "license_id", o.LicenseID)
	setStr(q, "platform_key", o.PlatformKey)
	setStr(q, "platform_org", o.PlatformOrg)
	if o.RemoveUserAssignments != nil {
		q.Set("remove_user_assignments", strconv.FormatBool(*o.RemoveUserAssignments))
	}
	return q
}

// errRemoveUserAssignments rejects RemoveQuery.RemoveUserAssignments where
// the API does not document it.
var errRemoveUserAssignments = errors.New("remove_user_assignments applies to program group assignments only")

func userAssignmentPath(kind LicenseKind) string  { return licensePath(kind, "assignment/") }
func groupAssignmentPath(kind LicenseKind) string { return licensePath(kind, "assignment/group/") }

// ListGroupAssignments returns one page of a license's group assignments.
func (c *Client) ListGroupAssignments(ctx context.Context, kind LicenseKind, q GroupAssignmentQuery) (Page[GroupAssignment], error) {
	var p Page[GroupAssignment]
	err := c.do(ctx, "list "+string(kind)+" group assignments", http.MethodGet, groupAssignmentPath(kind), q.query(), nil, &p)
	return p, err
}

// AssignGroup creates or updates the assignment of a license to a group
// from a request body with the API's field names (license_id and group_id
// required). license_id is sent in the query too, as the schema asks.
func (c *Client) AssignGroup(ctx context.Context, kind LicenseKind, body map[string]any) (*GroupAssignment, error) {
	var a GroupAssignment
	if err := c.do(ctx, "assign "+string(kind)+" license to group", http.MethodPost, groupAssignmentPath(kind), bodyQuery(body, "license_id"), body, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// RemoveGroupAssignment deletes a group assignment. A 404 (already gone) is
// returned as an *Error with Status 404 for the caller to judge.
func (c *Client) RemoveGroupAssignment(ctx context.Context, kind LicenseKind, q RemoveQuery) error {
	op := "remove " + string(kind) + " group assignment"
	if kind != ProgramLicense && q.RemoveUserAssignments != nil {
		return fmt.Errorf("%s: %w", op, errRemoveUserAssignments)
	}
	return c.do(ctx, op, http.MethodDelete, groupAssignmentPath(kind), q.query(), nil, nil)
}

// FindGroupAssignment returns the assignment of a license to a group, or
// nil, nil when there is none. Program lists are filtered by the server;
// others are paged through.
func (c *Client) FindGroupAssignment(ctx context.Context, kind LicenseKind, licenseID, groupID int64, platformKey string) (*GroupAssignment, error) {
	q := GroupAssignmentQuery{LicenseID: licenseID, PlatformKey: platformKey, PageSize: scanPageSize}
	if kind == ProgramLicense {
		q.GroupID = groupID
	}
	a, err := first(ctx, func(ctx context.Context, page int) (Page[GroupAssignment], error) {
		q.Page = page
		return c.ListGroupAssignments(ctx, kind, q)
	}, func(a *GroupAssignment) bool { return a.GroupID == groupID })
	if err != nil {
		return nil, fmt.Errorf("find %s license %d assignment to group %d: %w", kind, licenseID, groupID, err)
	}
	return a, nil
}

// ListUserAssignments returns one page of a license's user assignments.
func (c *Client) ListUserAssignments(ctx context.Context, kind LicenseKind, q UserAssignmentQuery) (Page[UserAssignment], error) {
	var p Page[UserAssignment]
	err := c.do(ctx, "list "+string(kind)+" user assignments", http.MethodGet, userAssignmentPath(kind), q.query(), nil, &p)
	return p, err
}

// AssignUser creates or updates the assignment of a license to a user from
// a request body with the API's field names (license_id and user_id or
// email required). license_id is sent in the query too, as the schema asks.
func (c *Client) AssignUser(ctx context.Context, kind LicenseKind, body map[string]any) (*UserAssignment, error) {
	var a UserAssignment
	if err := c.do(ctx, "assign "+string(kind)+" license to user", http.MethodPost, userAssignmentPath(kind), bodyQuery(body, "license_id"), body, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// RemoveUserAssignment deletes a user assignment. A 404 (already gone) is
// returned as an *Error with Status 404 for the caller to judge.
func (c *Client) RemoveUserAssignment(ctx context.Context, kind LicenseKind, q RemoveQuery) error {
	op := "remove " + string(kind) + " user assignment"
	if q.RemoveUserAssignments != nil {
		return fmt.Errorf("%s: %w", op, errRemoveUserAssignments)
	}
	return c.do(ctx, op, http.MethodDelete, userAssignmentPath(kind), q.query(), nil, nil)
}

// FindUserAssignment returns the assignment of a license to the user with
// userID (when not 0) and email (when not empty, compared without case), or
// nil, nil when there is none. Program lists are filtered by the server;
// others are paged through.
func (c *Client) FindUserAssignment(ctx context.Context, kind LicenseKind, licenseID, userID int64, email, platformKey string) (*UserAssignment, error) {
	if userID == 0 && email == "" {
		return nil, fmt.Errorf("find %s license %d user assignment: a user id or an email is required", kind, licenseID)
	}
	who := email
	if userID != 0 {
		who = strconv.FormatInt(userID, 10)
	}
	q := UserAssignmentQuery{LicenseID: licenseID, PlatformKey: platformKey, PageSize: scanPageSize}
	if kind == ProgramLicense {
		q.UserID, q.Email = userID, email
	}
	a, err := first(ctx, func(ctx context.Context, page int) (Page[UserAssignment], error) {
		q.Page = page
		return c.ListUserAssignments(ctx, kind, q)
	}, func(a *UserAssignment) bool {
		return (userID == 0 || a.UserID == userID) && (email == "" || strings.EqualFold(a.Email, email))
	})
	if err != nil {
		return nil, fmt.Errorf("find %s license %d assignment to user %s: %w", kind, licenseID, who, err)
	}
	return a, nil
}
