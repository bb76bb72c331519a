package dmapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

func ptr[T any](v T) *T { return &v }

func TestGroupAssignments(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		kind            dmapi.LicenseKind
		wantPlatformKey string // program assignments answer no platform_key
		findQuery       string // the query FindGroupAssignment sends
		removeOpt       *bool
		wantRemove      string // the DELETE's exact query
	}{
		{
			kind:       dmapi.ProgramLicense,
			findQuery:  "group_id=7&license_id=1&page=1&page_size=500&platform_key=acme",
			removeOpt:  ptr(false),
			wantRemove: "assignment_id=1&license_id=1&platform_key=acme&platform_org=acme&remove_user_assignments=false",
		},
		{
			kind:            dmapi.UserLicense,
			wantPlatformKey: "acme",
			findQuery:       "license_id=1&page=1&page_size=500&platform_key=acme",
			wantRemove:      "assignment_id=1&license_id=1&platform_key=acme&platform_org=acme",
		},
	} {
		t.Run(string(tt.kind), func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.Config{})
			ctx := t.Context()
			licenseID := b.createLicense(t, tt.kind)

			a, err := b.api.AssignGroup(ctx, tt.kind, map[string]any{"license_id": licenseID, "group_id": 7, "platform_key": "acme"})
			require.NoError(t, err)
			require.Equal(t, int64(7), a.GroupID)
			require.Equal(t, "Group 7", a.GroupName)
			require.Equal(t, licenseID, a.LicenseID)
			require.Equal(t, tt.wantPlatformKey, a.PlatformKey)
			require.True(t, a.Active)
			require.Equal(t, tt.kind == dmapi.ProgramLicense, a.Created != nil)
			req := b.last(t)
			require.Equal(t, "license_id=1", req.query)
			require.JSONEq(t, `{"license_id": 1, "group_id": 7, "platform_key": "acme"}`, string(req.body))

			// A second POST updates the same assignment.
			again, err := b.api.AssignGroup(ctx, tt.kind, map[string]any{"license_id": float64(licenseID), "group_id": 7, "active": false})
			require.NoError(t, err)
			require.Equal(t, a.ID, again.ID)
			require.False(t, again.Active)

			found, err := b.api.FindGroupAssignment(ctx, tt.kind, licenseID, 7, "acme")
			require.NoError(t, err)
			require.Equal(t, again, found)
			require.Equal(t, tt.findQuery, b.last(t).query)

			missing, err := b.api.FindGroupAssignment(ctx, tt.kind, licenseID, 8, "acme")
			require.NoError(t, err)
			require.Nil(t, missing)

			p, err := b.api.ListGroupAssignments(ctx, tt.kind, dmapi.GroupAssignmentQuery{LicenseID: licenseID})
			require.NoError(t, err)
			require.Equal(t, 1, p.Count)
			require.Equal(t, []dmapi.GroupAssignment{*again}, p.Results)

			q := dmapi.RemoveQuery{AssignmentID: a.ID, LicenseID: licenseID, PlatformKey: "acme", PlatformOrg: "acme", RemoveUserAssignments: tt.removeOpt}
			require.NoError(t, b.api.RemoveGroupAssignment(ctx, tt.kind, q))
			req = b.last(t)
			require.Equal(t, http.MethodDelete, req.method)
			require.Equal(t, tt.wantRemove, req.query)

			requireStatus(t, b.api.RemoveGroupAssignment(ctx, tt.kind, q), http.StatusNotFound, dmapi.Permanent)
			gone, err := b.api.FindGroupAssignment(ctx, tt.kind, licenseID, 7, "acme")
			require.NoError(t, err)
			require.Nil(t, gone)

			_, err = b.api.AssignGroup(ctx, tt.kind, map[string]any{"license_id": licenseID + 1, "group_id": 7})
			requireStatus(t, err, http.StatusNotFound, dmapi.Permanent)
		})
	}
}

func TestUserAssignments(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		kind      dmapi.LicenseKind
		findQuery string // the query FindUserAssignment sends
	}{
		{dmapi.ProgramLicense, "email=USER3%40example.com&license_id=1&page=1&page_size=500&platform_key=acme&user_id=3"},
		{dmapi.UserLicense, "license_id=1&page=1&page_size=500&platform_key=acme"},
	} {
		t.Run(string(tt.kind), func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.Config{})
			ctx := t.Context()
			licenseID := b.createLicense(t, tt.kind)

			a, err := b.api.AssignUser(ctx, tt.kind, map[string]any{"license_id": licenseID, "email": "user3@example.com", "platform_key": "acme"})
			require.NoError(t, err)
			require.Equal(t, int64(3), a.UserID)
			require.Equal(t, "user3", a.Username)
			require.Equal(t, "user3@example.com", a.Email)
			require.Equal(t, licenseID, a.LicenseID)
			require.Equal(t, tt.kind == dmapi.ProgramLicense, a.Direct)
			require.Equal(t, "license_id=1", b.last(t).query)

			found, err := b.api.FindUserAssignment(ctx, tt.kind, licenseID, 3, "USER3@example.com", "acme")
			require.NoError(t, err)
			require.Equal(t, a, found)
			require.Equal(t, tt.findQuery, b.last(t).query)

			for _, who := range []struct {
				id    int64
				email string
			}{{4, ""}, {0, "user4@example.com"}, {3, "user4@example.com"}} {
				missing, err := b.api.FindUserAssignment(ctx, tt.kind, licenseID, who.id, who.email, "acme")
				require.NoError(t, err)
				require.Nil(t, missing, "%+v", who)
			}
			_, err = b.api.FindUserAssignment(ctx, tt.kind, licenseID, 0, "", "acme")
			require.ErrorContains(t, err, "a user id or an email is required")

			p, err := b.api.ListUserAssignments(ctx, tt.kind, dmapi.UserAssignmentQuery{LicenseID: licenseID, PlatformKey: "acme"})
			require.NoError(t, err)
			require.Equal(t, []dmapi.UserAssignment{*a}, p.Results)

			q := dmapi.RemoveQuery{AssignmentID: a.ID, LicenseID: licenseID, PlatformKey: "acme"}
			require.NoError(t, b.api.RemoveUserAssignment(ctx, tt.kind, q))
			require.Equal(t, "assignment_id=1&license_id=1&platform_key=acme", b.last(t).query)
			requireStatus(t, b.api.RemoveUserAssignment(ctx, tt.kind, q), http.StatusNotFound, dmapi.Permanent)
		})
	}
}

func TestRemoveUserAssignmentsOnlyForProgramGroups(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	q := dmapi.RemoveQuery{AssignmentID: 1, LicenseID: 1, RemoveUserAssignments: ptr(true)}
	for name, err := range map[string]error{
		"UserGroup":   b.api.RemoveGroupAssignment(t.Context(), dmapi.UserLicense, q),
		"ProgramUser": b.api.RemoveUserAssignment(t.Context(), dmapi.ProgramLicense, q),
		"UserUser":    b.api.RemoveUserAssignment(t.Context(), dmapi.UserLicense, q),
	} {
		require.ErrorContains(t, err, "remove_user_assignments applies to program group assignments only", name)
		require.Equal(t, dmapi.Permanent, dmapi.ClassOf(err), name)
	}
	require.Zero(t, b.count(http.MethodDelete, "/api/catalog/licenses/user/assignment/group/"))
}

func TestFindGroupAssignmentPagesThrough(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	ctx := t.Context()
	licenseID := b.createLicense(t, dmapi.UserLicense)

	// More assignments than one page of the scan holds.
	const n = 520
	groups := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range 16 {
		wg.Go(func() {
			for g := range groups {
				_, err := b.api.AssignGroup(ctx, dmapi.UserLicense, map[string]any{"license_id": licenseID, "group_id": g})
				errs <- err
			}
		})
	}
	for g := 1; g <= n; g++ {
		groups <- g
	}
	close(groups)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	const listPath = "/api/catalog/licenses/user/assignment/group/"
	missing, err := b.api.FindGroupAssignment(ctx, dmapi.UserLicense, licenseID, n+1, "")
	require.NoError(t, err)
	require.Nil(t, missing)
	require.Equal(t, 2, b.count(http.MethodGet, listPath))

	for _, g := range []int64{1, n / 2, n} {
		found, err := b.api.FindGroupAssignment(ctx, dmapi.UserLicense, licenseID, g, "")
		require.NoError(t, err)
		require.Equal(t, g, found.GroupID)
	}

	p, err := b.api.ListGroupAssignments(ctx, dmapi.UserLicense, dmapi.GroupAssignmentQuery{LicenseID: licenseID, Page: 2, PageSize: 500})
	require.NoError(t, err)
	require.Equal(t, n, p.Count)
	require.Len(t, p.Results, n-500)
	require.False(t, p.HasNext())
	require.NotEmpty(t, p.PreviousPage)
}

func TestAssignmentQueryKeepsIntegerForm(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Config{})
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{"license_id": 1000000, "group_id": 1}`), &body))
	_, err := b.api.AssignGroup(t.Context(), dmapi.ProgramLicense, body)
	requireStatus(t, err, http.StatusNotFound, dmapi.Permanent)
	q, err := url.ParseQuery(b.last(t).query)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(1000000), q.Get("license_id"))
}
