package importers_test

import (
	"strings"
	"testing"

	"github.com/bulksync/bulksync/importers"
	"github.com/stretchr/testify/require"
)

// kindRowTests cover the kinds beyond licenses: actions and their
// defaults, one-of requirements, lists, defaults from Options and
// duplicate targets. Format says how Input is written.
var kindRowTests = []struct {
	Name   string
	Format string // "csv" or "json"
	Opts   importers.Options
	Input  string
	Want   []row
}{
	{
		Name: "GroupAssignments", Format: "csv",
		Input: "action,platform_key,license_id,license_external_id,group_id,assignment_id,active,metadata,remove_user_assignments\n" +
			",acme,,lic-1,5,,true,,\n" +
			"REMOVE,acme,12,,,99,,,yes\n" +
			"delete,acme,12,,5,,,,\n" +
			"assign,acme,,,5,,,,\n" +
			"assign,acme,12,,,,,,\n" +
			"remove,acme,12,,,,,,\n" +
			"assign,acme,,lic-1,5,,false,,\n" +
			"assign,acme,0,,5,,,,\n",
		Want: []row{
			good(2, "lic-1/group_id=5", `{"action":"assign","platform_key":"acme","license_external_id":"lic-1","group_id":5,"active":true}`),
			good(3, "license_id=12/assignment_id=99", `{"action":"remove","platform_key":"acme","license_id":12,"assignment_id":99,"remove_user_assignments":true}`),
			bad(4, "", "invalid_value:action"),
			bad(5, "", "missing_field:license_id|license_external_id"),
			bad(6, "", "missing_field:group_id"),
			bad(7, "", "missing_field:assignment_id|group_id"),
			bad(8, "", "duplicate_target"),
			bad(9, "", "out_of_range:license_id"),
		},
	},
	{
		Name: "UserAssignments", Format: "csv", Opts: importers.Options{Kind: importers.UserUserAssignments},
		Input: "platform_key,license_id,user_id,email\n" +
			"acme,3,,ada@example.com\n" +
			"acme,3,,not-an-email\n" +
			"acme,3,,\n" +
			"acme,3,42,\n",
		Want: []row{
			good(2, "license_id=3/email=ada@example.com", `{"action":"assign","platform_key":"acme","license_id":3,"email":"ada@example.com"}`),
			bad(3, "", "invalid_value:email"),
			bad(4, "", "missing_field:user_id|email"),
			good(5, "license_id=3/user_id=42", `{"action":"assign","platform_key":"acme","license_id":3,"user_id":42}`),
		},
	},
	{
		Name: "PlatformKeyDefault", Format: "csv",
		Opts:  importers.Options{Kind: importers.UserGroupAssignments, Defaults: map[string]string{"platform_key": "acme"}},
		Input: "license_id,group_id,platform_key\n1,2,\n1,3,globex\n",
		Want: []row{
			good(2, "license_id=1/group_id=2", `{"action":"assign","platform_key":"acme","license_id":1,"group_id":2}`),
			good(3, "license_id=1/group_id=3", `{"action":"assign","platform_key":"globex","license_id":1,"group_id":3}`),
		},
	},
	{
		// The API's issuer request requires entityId and iconImage on
		// create and update; a delete needs only entityId.
		Name: "Issuers", Format: "csv",
		Input: "action,org,user_id,entityId,name,iconImage,allowed_template_tags\n" +
			",acme,7,iss-1,Acme Academy,https://acme.example/i.png,cert; badge ;;\n" +
			"create,acme,7,,Acme Academy,https://acme.example/i.png,\n" +
			"create,acme,7,iss-2,Acme Academy,,\n" +
			"update,acme,7,,Acme Academy,https://acme.example/i.png,\n" +
			"update,acme,7,iss-1,,,\n" +
			"update,acme,7,iss-3,,https://acme.example/3.png,\n" +
			"delete,acme,7,,Acme Academy,,\n" +
			"delete,acme,7,iss-4,,,\n" +
			"delete,acme,7,iss-3,,,\n",
		Want: []row{
			good(2, "acme/entityId=iss-1", `{"action":"create","org":"acme","user_id":"7","entityId":"iss-1","name":"Acme Academy","iconImage":"https://acme.example/i.png","allowed_template_tags":["cert","badge"]}`),
			bad(3, "", "missing_field:entityId"),
			bad(4, "", "missing_field:iconImage"),
			bad(5, "", "missing_field:entityId"),
			bad(6, "", "missing_field:iconImage"),
			good(7, "acme/entityId=iss-3", `{"action":"update","org":"acme","user_id":"7","entityId":"iss-3","iconImage":"https://acme.example/3.png"}`),
			bad(8, "", "missing_field:entityId"),
			good(9, "acme/entityId=iss-4", `{"action":"delete","org":"acme","user_id":"7","entityId":"iss-4"}`),
			bad(10, "", "duplicate_target"),
		},
	},
	{
		Name: "UiPath", Format: "csv",
		Input: "account_id,group_id,user_bundle_codes,use_external_license\n" +
			"acct-1,g-1,RPADEVPRONU; IDU,false\n" +
			"acct-1,g-2,,\n",
		Want: []row{
			good(2, "acct-1/group=g-1", `{"account_id":"acct-1","group_id":"g-1","user_bundle_codes":["RPADEVPRONU","IDU"],"use_external_license":false}`),
			bad(3, "", "missing_field:user_bundle_codes"),
		},
	},
	{
		Name: "GroupSuggestions", Format: "csv",
		Input: "action,platform_key,program_key,group_id,suggestion_id,visible\n" +
			"create,acme,prog-1,4,,no\n" +
			"delete,acme,,,77,\n" +
			"delete,acme,prog-1,5,,\n" +
			"create,acme,prog-1,,,\n",
		Want: []row{
			good(2, "acme/prog-1/group_id=4", `{"action":"create","platform_key":"acme","program_key":"prog-1","group_id":4,"visible":false}`),
			good(3, "acme/suggestion_id=77", `{"action":"delete","platform_key":"acme","suggestion_id":77}`),
			good(4, "acme/prog-1/group_id=5", `{"action":"delete","platform_key":"acme","program_key":"prog-1","group_id":5}`),
			bad(5, "", "missing_field:group_id"),
		},
	},
	{
		Name: "UiPathJSON", Format: "json",
		Input: `[{"account_id": "a", "group_id": "g", "user_bundle_codes": ["IDU", " ATTUU "]},
{"account_id": "a", "group_id": "h", "user_bundle_codes": [1]},
{"account_id": "a", "group_id": "i", "user_bundle_codes": "IDU;CTZDEVCU"},
{"account_id": "a", "group_id": "j", "user_bundle_codes": []}]`,
		Want: []row{
			good(1, "a/group=g", `{"account_id":"a","group_id":"g","user_bundle_codes":["IDU","ATTUU"]}`),
			bad(2, "", "invalid_type:user_bundle_codes"),
			good(3, "a/group=i", `{"account_id":"a","group_id":"i","user_bundle_codes":["IDU","CTZDEVCU"]}`),
			bad(4, "", "missing_field:user_bundle_codes"),
		},
	},
	{
		Name: "ActionsJSON", Format: "json", Opts: importers.Options{Kind: importers.Issuers},
		Input: `{"action": "Purge", "org": "acme", "user_id": 7, "entityId": "x"}
{"action": 5, "org": "acme", "user_id": 7, "entityId": "x"}
{"action": "UPDATE", "org": "acme", "user_id": 7, "entityId": "x", "iconImage": "i.png", "allowed_template_tags": ["a"]}`,
		Want: []row{
			bad(1, "", "invalid_value:action"),
			bad(2, "", "invalid_type:action"),
			good(3, "acme/entityId=x", `{"action":"update","org":"acme","user_id":"7","entityId":"x","iconImage":"i.png","allowed_template_tags":["a"]}`),
		},
	},
	{
		Name: "BulkSuggestionBody", Format: "json",
		Input: `{
  "platform_key": "acme",
  "department_mode": false,
  "suggestion_data": [
    {"program_key": "prog-1", "user_id": 12, "accepted": false},
    {"program_key": "prog-1", "user_id": "ada", "visible": "yes",
     "metadata": {"reason": "manager"}},
    {"user_id": 13},
    {"program_key": "prog-1", "user_id": 12, "platform_key": "globex"},
    {"program_key": "prog-1", "user_id": 12}
  ]
}`,
		Want: []row{
			good(5, "acme/prog-1/user_id=12", `{"platform_key":"acme","program_key":"prog-1","user_id":"12","accepted":false}`),
			good(6, "acme/prog-1/user_id=ada", `{"platform_key":"acme","program_key":"prog-1","user_id":"ada","visible":true,"metadata":{"reason":"manager"}}`),
			bad(8, "", "missing_field:program_key"),
			good(9, "globex/prog-1/user_id=12", `{"platform_key":"globex","program_key":"prog-1","user_id":"12"}`),
			bad(10, "", "duplicate_target"),
		},
	},
}

func TestReaderOtherKinds(t *testing.T) {
	t.Parallel()
	for _, tt := range kindRowTests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			got, err := readRows(t, tt.Input, tt.Opts)
			require.NoError(t, err)
			require.Equal(t, tt.Want, got)
		})
	}
}

func TestBulkBodyErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		line     int
	}{
		{"UnknownKey", `{"platform_key": "acme", "limit": 3, "suggestion_data": []}`, 1},
		{"DataNotArray", `{"platform_key": "acme", "suggestion_data": {}}`, 1},
		{"TrailingGarbage", "{\"suggestion_data\": [{\"platform_key\": \"a\", \"program_key\": \"p\", \"user_id\": 1}]}\n}", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := readRows(t, tc.in, importers.Options{})
			requireFileError(t, err, importers.ErrSyntax, tc.line)
		})
	}
}

func TestNameHintBreaksTies(t *testing.T) {
	t.Parallel()
	in := "platform_key,license_id,group_id\nacme,1,2\n"
	_, err := readRows(t, in, importers.Options{})
	requireFileError(t, err, importers.ErrUnknownKind, 1)
	for name, want := range map[string]importers.Kind{
		"/data/user-group-assignments.csv":         importers.UserGroupAssignments,
		"Program-Group-Assignments-2024-bad.csv":   importers.ProgramGroupAssignments,
		"exports/user-group-assignments-march.csv": importers.UserGroupAssignments,
	} {
		r, err := importers.NewReader(strings.NewReader(in), importers.Options{NameHint: name})
		require.NoError(t, err, name)
		require.Equal(t, want, r.Schema().Kind, name)
	}
	_, err = importers.NewReader(strings.NewReader(in), importers.Options{NameHint: "groups.csv"})
	require.ErrorIs(t, err, importers.ErrUnknownKind, "a name that names no kind does not help")
	r, err := importers.NewReader(strings.NewReader("platform_key,external_id\nacme,a\n"), importers.Options{NameHint: "program-licenses.csv"})
	require.NoError(t, err)
	require.Equal(t, importers.UserLicenses, r.Schema().Kind, "the name only breaks ties; it never overrides the columns")
}
