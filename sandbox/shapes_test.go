package sandbox

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// shape is the documented keys of a JSON object: each key maps to the shape
// of its value, nil when the value is not checked further (a scalar or a
// free-form object such as metadata). A shape whose only key is each is an
// array whose every element has that key's shape.
type shape map[string]shape

const each = "[]"

func arrayOf(elem shape) shape { return shape{each: elem} }

// with returns a copy of sh with the keys of more added.
func (sh shape) with(more shape) shape {
	out := maps.Clone(sh)
	maps.Copy(out, more)
	return out
}

// requireShape fails unless v has exactly the keys of want, recursively.
func requireShape(t *testing.T, where string, v any, want shape) {
	t.Helper()
	if elem, ok := want[each]; ok && len(want) == 1 {
		items, isArray := v.([]any)
		require.True(t, isArray, "%s: want an array, got %T", where, v)
		require.NotEmpty(t, items, "%s: an empty array checks nothing", where)
		for _, item := range items {
			requireShape(t, where+"[]", item, elem)
		}
		return
	}
	obj, isObject := v.(map[string]any)
	require.True(t, isObject, "%s: want an object, got %T", where, v)
	require.Equal(t, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(obj)), "%s: keys", where)
	for k, sub := range want {
		if sub != nil {
			requireShape(t, where+"."+k, obj[k], sub)
		}
	}
}

// keys is a shape whose values are not checked further.
func keys(names ...string) shape {
	sh := shape{}
	for _, n := range names {
		sh[n] = nil
	}
	return sh
}

// The documented response shapes. Where the seeds give no response schema,
// the vendor's generated client (@iblai/iblai-api 4.90.4-ai) is the source.
var (
	// Seed 001 (UserLicenseDetail response schema).
	userLicenseShape = keys("id", "created", "started", "expired", "name", "count", "active", "metadata",
		"source", "external_id", "platform_key", "usage_count")
	// Seed 000 (ProgramLicenseDetail response example): the user license plus the program.
	programLicenseShape = userLicenseShape.with(keys("program_id", "program_key", "program_name"))
	// Seed 001: "assignments: Assignment counts by status (only included in verbose mode)";
	// the counts as api-reference.md §2.1 (license detail shape) gives them.
	verboseShape = shape{"assignments": keys("total", "active", "pending")}
	// api-reference.md §2.2; npm UserLicenseAssignmentDetail.
	userAssignmentShape = keys("id", "user_id", "username", "email", "active", "fulfilled", "redirect_to",
		"metadata", "license_id", "license_name", "platform_key")
	// npm ProgramLicenseAssignmentDetail: no platform_key.
	programAssignmentShape = keys("id", "user_id", "username", "name", "email", "active", "fulfilled", "direct",
		"redirect_to", "metadata", "created", "modified", "license_id", "license_name", "program_key")
	// api-reference.md §2.2; npm UserLicenseGroupAssignmentDetail.
	userGroupAssignmentShape = keys("id", "group_id", "group_name", "active", "fulfilled", "redirect_to",
		"metadata", "license_id", "license_name", "platform_key")
	// npm ProgramLicenseGroupAssignmentDetail: no platform_key.
	programGroupAssignmentShape = keys("id", "group_id", "group_name", "active", "fulfilled", "redirect_to",
		"metadata", "created", "modified", "license_id", "license_name", "program_key", "program_name",
		"user_count", "assigned_count")
	// api-reference.md §2.3 (single create or update); npm ProgramSuggestionDetail.
	suggestionShape = keys("id", "user_id", "username", "name", "platform_key", "accepted", "visible",
		"created", "modified", "metadata", "program_key", "program_name")
	// Seed 002 (ProgramGroupSuggestionDetail).
	groupSuggestionShape = keys("id", "group_id", "group_name", "platform_key", "accepted", "visible",
		"created", "modified", "metadata", "program_key", "program_name", "user_count")
	// Seed 002 (bulk response schema).
	bulkShape = keys("successes", "error_codes")
	// Seed 003 (Issuer response schema).
	issuerShape = keys("name", "org", "entityId", "signatories", "url", "iconImage", "allowed_template_tags")
	// Seed 003 (docstrings): {"status": {"success", "description"}, ...}.
	statusShape = keys("success", "description")
	// Seed 004 (response body of a successful allocation).
	allocationShape = keys("groupId", "organizationId", "useExternalLicense", "userBundleCodes")
	// api-reference.md §4 (client credentials answer).
	tokenShape = keys("access_token", "expires_in", "token_type", "scope")
	// api-reference.md §4 (ROPC answer).
	ropcShape = keys("result", "targetUrl", "success", "error", "unAuthorizedRequest", "__abp")
	// api-reference.md §3 (DRF error bodies).
	detailShape = keys("detail")
)

// catalogPage is a catalog list page of items: seed 002's group list schema,
// npm Paginated* models.
func catalogPage(item shape) shape {
	return shape{"count": nil, "next_page": nil, "previous_page": nil, "results": arrayOf(item)}
}

// TestDocumentedShapes calls every endpoint the sandbox serves, over loopback
// HTTP, and checks that each answer has exactly the documented keys. The rows
// run in order: later rows use what earlier rows created.
func TestDocumentedShapes(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	const (
		lic      = "/api/catalog/licenses/"
		sugg     = "/api/catalog/suggestions/program/manage/"
		issuers  = "/api/credentials/orgs/acme/users/7/issuers/"
		lease    = "/lease_/api/account/acct/user-license/group/"
		orgLease = "/acme-org" + lease
	)
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	var bearer http.Header // set by the token row

	tests := []struct {
		name   string
		method string
		path   string
		body   any
		header http.Header // nil: the Api-Token header
		status int
		want   shape // nil: no body
	}{
		{"ProgramLicenseCreate", "POST", lic + "program/create/", programLicense("p1"), nil, 200, programLicenseShape},
		{"ProgramLicenseUpdate", "POST", lic + "program/update/", map[string]any{"external_id": "p1", "count": 5, "enrollment_config": map[string]any{"a": 1}}, nil, 200, programLicenseShape},
		{"UserLicenseCreate", "POST", lic + "user/create/", map[string]any{"platform_key": "acme", "external_id": "u1", "transaction_id": "t"}, nil, 200, userLicenseShape},
		{"UserLicenseUpdate", "POST", lic + "user/update/", map[string]any{"external_id": "u1", "name": "n"}, nil, 200, userLicenseShape},
		{"ProgramAssignmentCreate", "POST", lic + "program/assignment/", map[string]any{"license_id": 1, "user_id": 3}, nil, 200, programAssignmentShape},
		{"UserAssignmentCreate", "POST", lic + "user/assignment/", map[string]any{"license_id": 1, "user_id": 3}, nil, 200, userAssignmentShape},
		{"ProgramGroupAssignmentCreate", "POST", lic + "program/assignment/group/", map[string]any{"license_id": 1, "group_id": 3}, nil, 200, programGroupAssignmentShape},
		{"UserGroupAssignmentCreate", "POST", lic + "user/assignment/group/", map[string]any{"license_id": 1, "group_id": 3}, nil, 200, userGroupAssignmentShape},
		{"ProgramLicenseList", "GET", lic + "program/?external_id=p1", nil, nil, 200, catalogPage(programLicenseShape)},
		{"ProgramLicenseListVerbose", "GET", lic + "program/?verbose=true", nil, nil, 200, catalogPage(programLicenseShape.with(verboseShape))},
		{"UserLicenseList", "GET", lic + "user/", nil, nil, 200, catalogPage(userLicenseShape)},
		{"UserLicenseListVerbose", "GET", lic + "user/?verbose=1", nil, nil, 200, catalogPage(userLicenseShape.with(verboseShape))},
		{"ProgramAssignmentList", "GET", lic + "program/assignment/?license_id=1", nil, nil, 200, catalogPage(programAssignmentShape)},
		{"UserAssignmentList", "GET", lic + "user/assignment/?license_id=1", nil, nil, 200, catalogPage(userAssignmentShape)},
		{"ProgramGroupAssignmentList", "GET", lic + "program/assignment/group/?license_id=1", nil, nil, 200, catalogPage(programGroupAssignmentShape)},
		{"UserGroupAssignmentList", "GET", lic + "user/assignment/group/?license_id=1", nil, nil, 200, catalogPage(userGroupAssignmentShape)},
		// Seeds 000 and 001: "Assignment successfully deleted", no body.
		{"ProgramAssignmentDelete", "DELETE", lic + "program/assignment/?assignment_id=1&license_id=1", nil, nil, 200, nil},
		{"UserAssignmentDelete", "DELETE", lic + "user/assignment/?assignment_id=1&license_id=1", nil, nil, 200, nil},
		{"ProgramGroupAssignmentDelete", "DELETE", lic + "program/assignment/group/?assignment_id=1&license_id=1", nil, nil, 200, nil},
		{"UserGroupAssignmentDelete", "DELETE", lic + "user/assignment/group/?assignment_id=1&license_id=1", nil, nil, 200, nil},
		{"SuggestionCreate", "POST", sugg, map[string]any{"platform_key": "acme", "program_key": "p", "user_id": 3}, nil, 201, suggestionShape},
		{"SuggestionList", "GET", sugg + "?platform_key=acme", nil, nil, 200, catalogPage(suggestionShape)},
		// api-reference.md §2.3: "Delete single ... empty".
		{"SuggestionDelete", "DELETE", sugg + "?suggestion_id=1", nil, nil, 200, nil},
		{"SuggestionBulk", "POST", sugg + "bulk/", map[string]any{"platform_key": "acme", "suggestion_data": []any{map[string]any{"program_key": "p", "user_id": 4}, map[string]any{"user_id": 4}}}, nil, 200, bulkShape},
		{"GroupSuggestionCreate", "POST", sugg + "group/", map[string]any{"platform_key": "acme", "program_key": "p", "group_id": 3}, nil, 200, groupSuggestionShape},
		{"GroupSuggestionList", "GET", sugg + "group/?platform_key=acme", nil, nil, 200, catalogPage(groupSuggestionShape)},
		// Seed 002: "DELETE: A success response with status 200".
		{"GroupSuggestionDelete", "DELETE", sugg + "group/?suggestion_id=1&platform_key=acme", nil, nil, 200, nil},
		// Seed 003 (create docstring).
		{"IssuerCreate", "POST", issuers, map[string]any{"entityId": "e1", "iconImage": "i", "email": "a@x"}, nil, 200, shape{"status": statusShape, "result": issuerShape}},
		// Seed 003 (list docstring).
		{"IssuerList", "GET", issuers, nil, nil, 200, shape{"status": statusShape, "result": shape{
			"next": nil, "previous": nil, "count": nil, "data": arrayOf(issuerShape), "num_pages": nil, "page_number": nil, "max_page_size": nil,
		}}},
		// Seed 003 (retrieve and update docstrings: an array).
		{"IssuerGet", "GET", issuers + "e1", nil, nil, 200, arrayOf(issuerShape)},
		{"IssuerUpdate", "PUT", issuers + "e1", map[string]any{"entityId": "e1", "iconImage": "j", "url": "u"}, nil, 200, arrayOf(issuerShape)},
		// Seed 003 (delete docstring).
		{"IssuerDelete", "DELETE", issuers + "e1", nil, nil, 200, shape{"status": statusShape}},
		// Seed 003 (entityId and iconImage required); api-reference.md §3 (DRF field errors).
		{"IssuerCreateInvalid", "POST", issuers, map[string]any{"name": "n"}, nil, 400, keys("entityId", "iconImage")},
		// Seed 003 (404); api-reference.md §3 (DRF {"detail"}).
		{"IssuerUnknownUser", "GET", "/api/credentials/orgs/acme/users/undefined/issuers/", nil, nil, 404, detailShape},
		{"Unauthenticated", "GET", lic + "program/", nil, http.Header{}, 401, detailShape},
		{"UiPathToken", "POST", "/identity_/connect/token", "grant_type=client_credentials&client_id=sandbox-client&client_secret=sandbox-secret&scope=PM.License.Write", form, 200, tokenShape},
		{"UiPathROPC", "POST", "/api/account/authenticate", map[string]any{"TenancyName": "t", "UsernameOrEmailAddress": "admin", "Password": "sandbox-password"}, http.Header{}, 200, ropcShape},
		{"UiPathROPCOrgTenant", "POST", "/acme-org/t/api/account/authenticate", map[string]any{"UsernameOrEmailAddress": "admin", "Password": "sandbox-password"}, http.Header{}, 200, ropcShape},
		{"UiPathAllocate", "PUT", lease + "g1", map[string]any{"userBundleCodes": []string{"IDU"}, "useExternalLicense": false}, nil, 200, allocationShape},
		{"UiPathAllocateOrg", "PUT", orgLease + "g2", map[string]any{"userBundleCodes": []string{"IDU"}}, nil, 200, allocationShape},
	}
	for _, tt := range tests {
		header := tt.header
		switch {
		case header == nil && (tt.path == lease+"g1" || tt.path == orgLease+"g2"):
			header = bearer
		case header == nil:
			header = http.Header{"Authorization": {"Api-Token " + testToken}}
		}
		res := b.callWith(t, tt.method, tt.path, tt.body, header)
		require.Equal(t, tt.status, res.status, "%s: %s", tt.name, res.raw)
		if tt.want == nil {
			require.Empty(t, res.raw, tt.name)
			continue
		}
		var v any
		require.NoError(t, json.Unmarshal(res.raw, &v), tt.name)
		requireShape(t, tt.name, v, tt.want)
		if tt.name == "UiPathToken" {
			bearer = http.Header{"Authorization": {"Bearer " + res.body["access_token"].(string)}}
		}
	}

	// Every endpoint the sandbox serves was called.
	for endpoint, n := range b.srv.Stats().ByEndpoint {
		require.Positive(t, n, "%s is not in the table", endpoint)
	}
}
