package importers_test

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulksync/bulksync/importers"
)

// rowTest is one input and the rows it must give.
type rowTest struct {
	Name  string
	Opts  importers.Options
	Input string
	Want  []row
}

const (
	// userCSV is a user-licenses header with the shared license fields.
	userCSV = "platform_key,name,count,started,expired,active,metadata,external_id\n"
	// programCSV is a program-licenses header with the required fields.
	programCSV = "platform_key,program_key,name,count,started,external_id\n"
	// fullCSV is a program-licenses header with every field.
	fullCSV = "platform_key,platform_org,program_key,name,count,started,expired,active,metadata,enrollment_config,source,external_id,transaction_id\n"
)

var csvRowTests = []rowTest{
	{
		Name: "CanonicalDataEveryField",
		Input: fullCSV +
			` acme ,acme-eu,program-v1:acme+data-science+2024,Data Science 2024 – R&D <Ops>,0120,2024-01-15T09:00:00+02:00,2025-01-15,YES,"{ ""cost_center"" : ""ENG-42"",` + "\n" +
			` ""tier"": ""gold"" }","{""auto_enroll"": true}",hris,acme-ds-2024,tx-ds-0001` + "\n" +
			"globex,,program-v1:globex+onboarding+2024,Onboarding,0,2024-04-01,,,,,,globex-onb-2024,\n",
		Want: []row{
			{Line: 2, Key: "acme-ds-2024", Tx: "tx-ds-0001", Data: `{"platform_key":"acme","platform_org":"acme-eu","program_key":"program-v1:acme+data-science+2024","name":"Data Science 2024 – R\u0026D \u003cOps\u003e","count":120,"started":"2024-01-15T07:00:00Z","expired":"2025-01-15T00:00:00Z","active":true,"metadata":{"cost_center":"ENG-42","tier":"gold"},"enrollment_config":{"auto_enroll":true},"source":"hris","external_id":"acme-ds-2024"}`},
			good(4, "globex-onb-2024", `{"platform_key":"globex","program_key":"program-v1:globex+onboarding+2024","name":"Onboarding","count":0,"started":"2024-04-01T00:00:00Z","external_id":"globex-onb-2024"}`),
		},
	},
	{
		Name:  "BOMAndCRLF",
		Input: "\xef\xbb\xbf" + strings.ReplaceAll(userCSV+"acme,Ada,1,,,,,u1\nacme,\"Grace\nHopper\",2,,,,,u2\n\nacme,Alan,3,,,,,u3\n", "\n", "\r\n"),
		Want: []row{
			good(2, "u1", `{"platform_key":"acme","name":"Ada","count":1,"external_id":"u1"}`),
			good(3, "u2", `{"platform_key":"acme","name":"Grace\r\nHopper","count":2,"external_id":"u2"}`), // the cell's line break as written
			good(6, "u3", `{"platform_key":"acme","name":"Alan","count":3,"external_id":"u3"}`),
		},
	},
	{
		Name: "QuotedNewlinesCount",
		Input: userCSV +
			"acme,\"line one\nline two\nline three\",1,,,,,u1\n" +
			"acme,\"bad,count\",ten,,,,,u2\n" +
			"acme,,,,,,\"{\n\"\"a\"\": 1\n}\",u3\n" +
			"acme,,,,,,,u4\n",
		Want: []row{
			good(2, "u1", `{"platform_key":"acme","name":"line one\nline two\nline three","count":1,"external_id":"u1"}`),
			bad(5, "u2", "invalid_integer:count"),
			good(6, "u3", `{"platform_key":"acme","metadata":{"a":1},"external_id":"u3"}`),
			good(9, "u4", `{"platform_key":"acme","external_id":"u4"}`),
		},
	},
	{
		Name: "Booleans",
		Input: "platform_key,active,external_id\n" +
			"acme,true,b1\nacme,false,b2\nacme,1,b3\nacme,0,b4\nacme,yes,b5\nacme,no,b6\nacme, TRUE ,b7\nacme,No,b8\n" +
			"acme,maybe,b9\nacme,y,b10\nacme,2,b11\nacme,on,b12\n",
		Want: []row{
			good(2, "b1", `{"platform_key":"acme","active":true,"external_id":"b1"}`),
			good(3, "b2", `{"platform_key":"acme","active":false,"external_id":"b2"}`),
			good(4, "b3", `{"platform_key":"acme","active":true,"external_id":"b3"}`),
			good(5, "b4", `{"platform_key":"acme","active":false,"external_id":"b4"}`),
			good(6, "b5", `{"platform_key":"acme","active":true,"external_id":"b5"}`),
			good(7, "b6", `{"platform_key":"acme","active":false,"external_id":"b6"}`),
			good(8, "b7", `{"platform_key":"acme","active":true,"external_id":"b7"}`),
			good(9, "b8", `{"platform_key":"acme","active":false,"external_id":"b8"}`),
			bad(10, "b9", "invalid_boolean:active"),
			bad(11, "b10", "invalid_boolean:active"),
			bad(12, "b11", "invalid_boolean:active"),
			bad(13, "b12", "invalid_boolean:active"),
		},
	},
	{
		Name: "DatesAccepted",
		Input: "platform_key,started,external_id\n" +
			"acme,2024-01-15,d1\n" +
			"acme,2024-01-15T09:30:00Z,d2\n" +
			"acme,2024-01-15T09:30:00+02:00,d3\n" +
			"acme,2024-01-15T09:30:00.123456-05:00,d4\n" +
			"acme,2024-01-15T09:30:00,d5\n" +
			"acme,2024-01-15 09:30:00,d6\n" +
			"acme,2024-01-15 09:30:00+01:00,d7\n" +
			"acme,2024-01-15 09:30:00Z,d8\n" +
			"acme, 2024-02-29 ,d9\n" +
			"acme,2023-12-31T23:30:00-01:00,d10\n",
		Want: []row{
			good(2, "d1", `{"platform_key":"acme","started":"2024-01-15T00:00:00Z","external_id":"d1"}`),
			good(3, "d2", `{"platform_key":"acme","started":"2024-01-15T09:30:00Z","external_id":"d2"}`),
			good(4, "d3", `{"platform_key":"acme","started":"2024-01-15T07:30:00Z","external_id":"d3"}`),
			good(5, "d4", `{"platform_key":"acme","started":"2024-01-15T14:30:00.123456Z","external_id":"d4"}`),
			good(6, "d5", `{"platform_key":"acme","started":"2024-01-15T09:30:00Z","external_id":"d5"}`),
			good(7, "d6", `{"platform_key":"acme","started":"2024-01-15T09:30:00Z","external_id":"d6"}`),
			good(8, "d7", `{"platform_key":"acme","started":"2024-01-15T08:30:00Z","external_id":"d7"}`),
			good(9, "d8", `{"platform_key":"acme","started":"2024-01-15T09:30:00Z","external_id":"d8"}`),
			good(10, "d9", `{"platform_key":"acme","started":"2024-02-29T00:00:00Z","external_id":"d9"}`),
			good(11, "d10", `{"platform_key":"acme","started":"2024-01-01T00:30:00Z","external_id":"d10"}`),
		},
	},
	{
		Name: "DatesRejected",
		Input: "platform_key,started,external_id\n" +
			"acme,31/01/2024,r1\n" +
			"acme,01/31/2024,r2\n" +
			"acme,2024/01/15,r3\n" +
			"acme,2024-1-5,r4\n" +
			"acme,2023-02-29,r5\n" +
			"acme,2024-13-01,r6\n" +
			"acme,2024-01-15T25:00:00Z,r7\n" +
			"acme,2024-01-15T09:30,r8\n" +
			"acme,Jan 15 2024,r9\n" +
			"acme,1705305600,r10\n" +
			"acme,2024-01-15T09:30:00 UTC,r11\n" +
			"acme,today,r12\n",
		Want: []row{
			bad(2, "r1", "invalid_datetime:started"),
			bad(3, "r2", "invalid_datetime:started"),
			bad(4, "r3", "invalid_datetime:started"),
			bad(5, "r4", "invalid_datetime:started"),
			bad(6, "r5", "invalid_datetime:started"),
			bad(7, "r6", "invalid_datetime:started"),
			bad(8, "r7", "invalid_datetime:started"),
			bad(9, "r8", "invalid_datetime:started"),
			bad(10, "r9", "invalid_datetime:started"),
			bad(11, "r10", "invalid_datetime:started"),
			bad(12, "r11", "invalid_datetime:started"),
			bad(13, "r12", "invalid_datetime:started"),
		},
	},
	{
		Name: "Integers",
		Input: "platform_key,count,external_id\n" +
			"acme,0,n1\nacme,2147483647,n2\nacme, 7 ,n3\nacme,+5,n4\nacme,007,n5\n" +
			"acme,2147483648,n6\nacme,-1,n7\nacme,1e99,n8\nacme,99999999999999999999,n9\nacme,-99999999999999999999,n10\nacme,-2.5e10,n11\n" +
			"acme,ten,n12\nacme,1.5,n13\nacme,12 seats,n14\nacme,0x10,n15\nacme,\"1,000\",n16\nacme,1e3,n17\nacme,inf,n18\nacme,-,n19\n",
		Want: []row{
			good(2, "n1", `{"platform_key":"acme","count":0,"external_id":"n1"}`),
			good(3, "n2", `{"platform_key":"acme","count":2147483647,"external_id":"n2"}`),
			good(4, "n3", `{"platform_key":"acme","count":7,"external_id":"n3"}`),
			good(5, "n4", `{"platform_key":"acme","count":5,"external_id":"n4"}`),
			good(6, "n5", `{"platform_key":"acme","count":7,"external_id":"n5"}`),
			bad(7, "n6", "out_of_range:count"),
			bad(8, "n7", "out_of_range:count"),
			bad(9, "n8", "out_of_range:count"),
			bad(10, "n9", "out_of_range:count"),
			bad(11, "n10", "out_of_range:count"),
			bad(12, "n11", "out_of_range:count"),
			bad(13, "n12", "invalid_integer:count"),
			bad(14, "n13", "invalid_integer:count"),
			bad(15, "n14", "invalid_integer:count"),
			bad(16, "n15", "invalid_integer:count"),
			bad(17, "n16", "invalid_integer:count"),
			bad(18, "n17", "invalid_integer:count"),
			bad(19, "n18", "invalid_integer:count"),
			bad(20, "n19", "invalid_integer:count"),
		},
	},
	{
		Name: "MissingFields",
		Input: programCSV +
			",program-v1:acme+ds+2024,Data Science,10,2024-01-15,m1\n" +
			"acme,,Data Science,10,2024-01-15,m2\n" +
			"acme,program-v1:acme+ds+2024,  ,10,2024-01-15,m3\n" +
			"acme,program-v1:acme+ds+2024,Data Science,,2024-01-15,m4\n" +
			"acme,program-v1:acme+ds+2024,Data Science,10,,m5\n" +
			"acme,program-v1:acme+ds+2024,Data Science,10,2024-01-15,\n" +
			"acme,program-v1:acme+ds+2024,Data Science,10,2024-01-15,m7\n",
		Want: []row{
			bad(2, "m1", "missing_field:platform_key"),
			bad(3, "m2", "missing_field:program_key"),
			bad(4, "m3", "missing_field:name"),
			bad(5, "m4", "missing_field:count"),
			bad(6, "m5", "missing_field:started"),
			bad(7, "", "missing_field:external_id"),
			good(8, "m7", `{"platform_key":"acme","program_key":"program-v1:acme+ds+2024","name":"Data Science","count":10,"started":"2024-01-15T00:00:00Z","external_id":"m7"}`),
		},
	},
	{
		Name: "Objects",
		Input: "platform_key,metadata,external_id\n" +
			"acme,{},o1\n" +
			"acme,\"{\"\"cost_center\"\": \"\"ENG-42\"\", \"\"tags\"\": [1, 2]}\",o2\n" +
			"acme,cost_center=ENG-42,o3\n" +
			"acme,\"[1, 2]\",o4\n" +
			"acme,\"\"\"ENG-42\"\"\",o5\n" +
			"acme,\"{\"\"a\"\":\",o6\n" +
			"acme,null,o7\n",
		Want: []row{
			good(2, "o1", `{"platform_key":"acme","metadata":{},"external_id":"o1"}`),
			good(3, "o2", `{"platform_key":"acme","metadata":{"cost_center":"ENG-42","tags":[1,2]},"external_id":"o2"}`),
			bad(4, "o3", "invalid_object:metadata"),
			bad(5, "o4", "invalid_object:metadata"),
			bad(6, "o5", "invalid_object:metadata"),
			bad(7, "o6", "invalid_object:metadata"),
			bad(8, "o7", "invalid_object:metadata"),
		},
	},
	{
		Name:  "Latin1IsInvalidUTF8",
		Input: userCSV + "acme,J\xfcrgen M\xfcller,1,,,,,u1\nacme,J\u00fcrgen M\u00fcller,1,,,,,u2\nacme,Ana,1,,,,,caf\xe9\n",
		Want: []row{
			bad(2, "u1", "invalid_utf8:name"),
			good(3, "u2", `{"platform_key":"acme","name":"Jürgen Müller","count":1,"external_id":"u2"}`),
			bad(4, "", "invalid_utf8:external_id"),
		},
	},
	{
		Name:  "FieldTooLarge",
		Opts:  importers.Options{Limits: importers.Limits{MaxFieldBytes: 12}},
		Input: userCSV + "acme,Data Science,1,,,,,u1\nacme,Data Science 2024,1,,,,,u2\n",
		Want: []row{
			good(2, "u1", `{"platform_key":"acme","name":"Data Science","count":1,"external_id":"u1"}`),
			bad(3, "u2", "field_too_large:name"),
		},
	},
	{
		Name: "ExpiredBeforeStarted",
		Input: userCSV +
			"acme,,,2024-06-01,2024-01-01,,,e1\n" +
			"acme,,,2024-06-01,2024-06-01,,,e2\n" +
			"acme,,,2024-06-01T10:00:00+02:00,2024-06-01T08:30:00Z,,,e3\n" +
			"acme,,,,2024-01-01,,,e4\n" +
			"acme,,,2024-06-01T10:00:00+02:00,2024-06-01T08:00:00Z,,,e5\n",
		Want: []row{
			bad(2, "e1", "expired_before_started"),
			bad(3, "e2", "expired_before_started"),
			good(4, "e3", `{"platform_key":"acme","started":"2024-06-01T08:00:00Z","expired":"2024-06-01T08:30:00Z","external_id":"e3"}`),
			good(5, "e4", `{"platform_key":"acme","expired":"2024-01-01T00:00:00Z","external_id":"e4"}`),
			bad(6, "e5", "expired_before_started"),
		},
	},
	{
		Name: "DuplicateExternalIDFirstValidWins",
		Input: userCSV +
			"acme,First,1,,,,,k1\n" +
			"acme,Other,1,,,,,k2\n" +
			"acme,Second,1,,,,,k1\n" +
			"acme,Third,1,,,,, k1 \n" +
			"acme,Broken,ten,,,,,k3\n" +
			"acme,Fixed,1,,,,,k3\n" +
			"acme,Again,1,,,,,k3\n" +
			"acme,Case,1,,,,,K1\n",
		Want: []row{
			good(2, "k1", `{"platform_key":"acme","name":"First","count":1,"external_id":"k1"}`),
			good(3, "k2", `{"platform_key":"acme","name":"Other","count":1,"external_id":"k2"}`),
			bad(4, "k1", "duplicate_external_id"),
			bad(5, "k1", "duplicate_external_id"),
			bad(6, "k3", "invalid_integer:count"),
			good(7, "k3", `{"platform_key":"acme","name":"Fixed","count":1,"external_id":"k3"}`),
			bad(8, "k3", "duplicate_external_id"),
			good(9, "K1", `{"platform_key":"acme","name":"Case","count":1,"external_id":"K1"}`),
		},
	},
	{
		Name: "WrongFieldCount",
		Input: userCSV +
			"acme,Ada,1,,,,u1\n" +
			"acme,Ada,1,,,,,u2,extra\n" +
			"acme\n" +
			"acme,Ada,1,,,,,u4\n",
		Want: []row{
			bad(2, "", "wrong_field_count"),
			bad(3, "", "wrong_field_count"),
			bad(4, "", "wrong_field_count"),
			good(5, "u4", `{"platform_key":"acme","name":"Ada","count":1,"external_id":"u4"}`),
		},
	},
	{
		Name: "MalformedCSV",
		Input: userCSV +
			"acme,Ada,1,,,,,u1\n" +
			"acme,The \"Analytical\" Engine,1,,,,,u2\n" +
			"acme,\"Quoted\"tail,1,,,,,u3\n" +
			"acme,Grace,1,,,,,u4\n" +
			"acme,\"Never closed,1,,,,,u5\n" +
			"acme,Swallowed,1,,,,,u6\n",
		Want: []row{
			good(2, "u1", `{"platform_key":"acme","name":"Ada","count":1,"external_id":"u1"}`),
			bad(3, "", "malformed_csv"),
			bad(4, "", "malformed_csv"),
			good(5, "u4", `{"platform_key":"acme","name":"Grace","count":1,"external_id":"u4"}`),
			bad(6, "", "malformed_csv"),
		},
	},
	{
		Name: "FirstErrorInColumnOrder",
		Input: "external_id,platform_key,started,count\n" +
			"f1,acme,yesterday,ten\n" +
			"f2,acme,2024-01-01,ten\n" +
			"f3,,2024-01-01,ten\n",
		Want: []row{
			bad(2, "f1", "invalid_datetime:started"),
			bad(3, "f2", "invalid_integer:count"),
			bad(4, "f3", "invalid_integer:count"), // conversion errors come before missing fields
		},
	},
	{
		Name:  "HeaderInAnyCaseWithSpaces",
		Input: " Platform_Key ,EXTERNAL_ID,  Name\t\nacme,u1,Ada\n",
		Want:  []row{good(2, "u1", `{"platform_key":"acme","name":"Ada","external_id":"u1"}`)},
	},
	{
		Name:  "IgnoreUnknownColumns",
		Opts:  importers.Options{Kind: importers.UserLicenses, IgnoreUnknown: true},
		Input: "platform_key,seats,external_id,notes\nacme,12,u1,\"free text, ignored\"\n",
		Want:  []row{good(2, "u1", `{"platform_key":"acme","external_id":"u1"}`)},
	},
	{
		Name:  "TransactionIDNotInData",
		Input: "platform_key,external_id,transaction_id\nacme,u1,tx-1\nacme,u2,\n",
		Want: []row{
			{Line: 2, Key: "u1", Tx: "tx-1", Data: `{"platform_key":"acme","external_id":"u1"}`},
			good(3, "u2", `{"platform_key":"acme","external_id":"u2"}`),
		},
	},
}

func TestReaderCSVRows(t *testing.T) {
	t.Parallel()
	for _, tt := range csvRowTests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			got, err := readRows(t, tt.Input, tt.Opts)
			require.NoError(t, err)
			require.Equal(t, tt.Want, got)
		})
	}
}

// jsonRowTest lists a JSON file's rows, one value each. It runs as a
// pretty-printed array (row i on line i+2) and as NDJSON (row i on line
// i+1), so the Line of Want is the row's index from 1; NDJSONOnly tests
// rows that an array cannot hold.
type jsonRowTest struct {
	Name       string
	Opts       importers.Options
	Rows       []string
	Want       []row
	NDJSONOnly bool
}

var jsonRowTests = []jsonRowTest{
	{
		Name: "CanonicalData",
		Opts: importers.Options{Kind: importers.ProgramLicenses},
		Rows: []string{
			`{"transaction_id": "tx-ds-0001", "external_id": "acme-ds-2024", "source": "hris", "enrollment_config": {"auto_enroll": true}, "metadata": { "cost_center" : "ENG-42", "tier": "gold" }, "active": "yes", "expired": "2025-01-15", "started": "2024-01-15T09:00:00+02:00", "count": 120, "name": "Data Science 2024 – R&D", "program_key": "program-v1:acme+data-science+2024", "platform_org": "acme-eu", "platform_key": " acme "}`,
			`{"platform_key": "globex", "program_key": "program-v1:globex+onboarding+2024", "name": "Onboarding", "count": "0", "started": "2024-04-01 08:30:00", "active": false, "metadata": "{\"cost_center\": \"OPS-1\"}", "external_id": 12345, "expired": null}`,
		},
		Want: []row{
			{Line: 1, Key: "acme-ds-2024", Tx: "tx-ds-0001", Data: `{"platform_key":"acme","platform_org":"acme-eu","program_key":"program-v1:acme+data-science+2024","name":"Data Science 2024 – R\u0026D","count":120,"started":"2024-01-15T07:00:00Z","expired":"2025-01-15T00:00:00Z","active":true,"metadata":{"cost_center":"ENG-42","tier":"gold"},"enrollment_config":{"auto_enroll":true},"source":"hris","external_id":"acme-ds-2024"}`},
			good(2, "12345", `{"platform_key":"globex","program_key":"program-v1:globex+onboarding+2024","name":"Onboarding","count":0,"started":"2024-04-01T08:30:00Z","active":false,"metadata":{"cost_center":"OPS-1"},"external_id":"12345"}`),
		},
	},
	{
		Name: "Booleans",
		Opts: importers.Options{Kind: importers.UserLicenses},
		Rows: []string{
			`{"platform_key": "acme", "active": true, "external_id": "b1"}`,
			`{"platform_key": "acme", "active": false, "external_id": "b2"}`,
			`{"platform_key": "acme", "active": "1", "external_id": "b3"}`,
			`{"platform_key": "acme", "active": "0", "external_id": "b4"}`,
			`{"platform_key": "acme", "active": "Yes", "external_id": "b5"}`,
			`{"platform_key": "acme", "active": "no", "external_id": "b6"}`,
			`{"platform_key": "acme", "active": "maybe", "external_id": "b7"}`,
			`{"platform_key": "acme", "active": 1, "external_id": "b8"}`,
			`{"platform_key": "acme", "active": [true], "external_id": "b9"}`,
			`{"platform_key": "acme", "active": null, "external_id": "b10"}`,
		},
		Want: []row{
			good(1, "b1", `{"platform_key":"acme","active":true,"external_id":"b1"}`),
			good(2, "b2", `{"platform_key":"acme","active":false,"external_id":"b2"}`),
			good(3, "b3", `{"platform_key":"acme","active":true,"external_id":"b3"}`),
			good(4, "b4", `{"platform_key":"acme","active":false,"external_id":"b4"}`),
			good(5, "b5", `{"platform_key":"acme","active":true,"external_id":"b5"}`),
			good(6, "b6", `{"platform_key":"acme","active":false,"external_id":"b6"}`),
			bad(7, "b7", "invalid_boolean:active"),
			bad(8, "b8", "invalid_type:active"),
			bad(9, "b9", "invalid_type:active"),
			good(10, "b10", `{"platform_key":"acme","external_id":"b10"}`),
		},
	},
	{
		Name: "Integers",
		Opts: importers.Options{Kind: importers.UserLicenses},
		Rows: []string{
			`{"platform_key": "acme", "count": 0, "external_id": "n1"}`,
			`{"platform_key": "acme", "count": 2147483647, "external_id": "n2"}`,
			`{"platform_key": "acme", "count": "42", "external_id": "n3"}`,
			`{"platform_key": "acme", "count": 2147483648, "external_id": "n4"}`,
			`{"platform_key": "acme", "count": -1, "external_id": "n5"}`,
			`{"platform_key": "acme", "count": 1e99, "external_id": "n6"}`,
			`{"platform_key": "acme", "count": 99999999999999999999, "external_id": "n7"}`,
			`{"platform_key": "acme", "count": "2147483648", "external_id": "n8"}`,
			`{"platform_key": "acme", "count": 1E+10, "external_id": "n9"}`,
			`{"platform_key": "acme", "count": 1.5, "external_id": "n10"}`,
			`{"platform_key": "acme", "count": 12.0, "external_id": "n11"}`,
			`{"platform_key": "acme", "count": "ten", "external_id": "n12"}`,
			`{"platform_key": "acme", "count": true, "external_id": "n13"}`,
			`{"platform_key": "acme", "count": {"seats": 4}, "external_id": "n14"}`,
			`{"platform_key": "acme", "count": [4], "external_id": "n15"}`,
			`{"platform_key": "acme", "count": 1E+2, "external_id": "n16"}`,
			`{"platform_key": "acme", "count": 2.5e1, "external_id": "n17"}`,
			`{"platform_key": "acme", "count": 2500e-2, "external_id": "n18"}`,
			`{"platform_key": "acme", "count": -0.0, "external_id": "n19"}`,
			`{"platform_key": "acme", "count": 123e65, "external_id": "n20"}`,
			`{"platform_key": "acme", "count": -1E+2, "external_id": "n21"}`,
			`{"platform_key": "acme", "count": 1e-3, "external_id": "n22"}`,
			`{"platform_key": "acme", "count": 3000000000.5, "external_id": "n23"}`,
			`{"platform_key": "acme", "count": "1E+2", "external_id": "n24"}`,
		},
		Want: []row{
			good(1, "n1", `{"platform_key":"acme","count":0,"external_id":"n1"}`),
			good(2, "n2", `{"platform_key":"acme","count":2147483647,"external_id":"n2"}`),
			good(3, "n3", `{"platform_key":"acme","count":42,"external_id":"n3"}`),
			bad(4, "n4", "out_of_range:count"),
			bad(5, "n5", "out_of_range:count"),
			bad(6, "n6", "out_of_range:count"),
			bad(7, "n7", "out_of_range:count"),
			bad(8, "n8", "out_of_range:count"),
			bad(9, "n9", "out_of_range:count"),
			bad(10, "n10", "invalid_integer:count"),
			good(11, "n11", `{"platform_key":"acme","count":12,"external_id":"n11"}`), // a JSON number's value counts, not its form
			bad(12, "n12", "invalid_integer:count"),
			bad(13, "n13", "invalid_type:count"),
			bad(14, "n14", "invalid_type:count"),
			bad(15, "n15", "invalid_type:count"),
			good(16, "n16", `{"platform_key":"acme","count":100,"external_id":"n16"}`),
			good(17, "n17", `{"platform_key":"acme","count":25,"external_id":"n17"}`),
			good(18, "n18", `{"platform_key":"acme","count":25,"external_id":"n18"}`),
			good(19, "n19", `{"platform_key":"acme","count":0,"external_id":"n19"}`),
			bad(20, "n20", "out_of_range:count"),
			bad(21, "n21", "out_of_range:count"),
			bad(22, "n22", "invalid_integer:count"),
			bad(23, "n23", "invalid_integer:count"), // a fraction, however large
			bad(24, "n24", "invalid_integer:count"), // a string is read as CSV text
		},
	},
	{
		Name: "Dates",
		Opts: importers.Options{Kind: importers.UserLicenses},
		Rows: []string{
			`{"platform_key": "acme", "started": "2024-01-15", "external_id": "d1"}`,
			`{"platform_key": "acme", "started": "2024-01-15T09:30:00.5+01:00", "external_id": "d2"}`,
			`{"platform_key": "acme", "started": "15.01.2024", "external_id": "d3"}`,
			`{"platform_key": "acme", "started": "", "external_id": "d4"}`,
			`{"platform_key": "acme", "started": 20240115, "external_id": "d5"}`,
			`{"platform_key": "acme", "started": {"date": "2024-01-15"}, "external_id": "d6"}`,
		},
		Want: []row{
			good(1, "d1", `{"platform_key":"acme","started":"2024-01-15T00:00:00Z","external_id":"d1"}`),
			good(2, "d2", `{"platform_key":"acme","started":"2024-01-15T08:30:00.5Z","external_id":"d2"}`),
			bad(3, "d3", "invalid_datetime:started"),
			good(4, "d4", `{"platform_key":"acme","external_id":"d4"}`),
			bad(5, "d5", "invalid_type:started"),
			bad(6, "d6", "invalid_type:started"),
		},
	},
	{
		Name: "MissingFields",
		Opts: importers.Options{Kind: importers.ProgramLicenses},
		Rows: []string{
			`{"program_key": "p", "name": "N", "count": 1, "started": "2024-01-15", "external_id": "m1"}`,
			`{"platform_key": null, "program_key": "p", "name": "N", "count": 1, "started": "2024-01-15", "external_id": "m2"}`,
			`{"platform_key": "acme", "program_key": "", "name": "N", "count": 1, "started": "2024-01-15", "external_id": "m3"}`,
			`{"platform_key": "acme", "program_key": "p", "name": "  ", "count": 1, "started": "2024-01-15", "external_id": "m4"}`,
			`{"platform_key": "acme", "program_key": "p", "name": "N", "started": "2024-01-15", "external_id": "m5"}`,
			`{"platform_key": "acme", "program_key": "p", "name": "N", "count": 1, "external_id": "m6"}`,
			`{"platform_key": "acme", "program_key": "p", "name": "N", "count": 1, "started": "2024-01-15"}`,
			`{}`,
		},
		Want: []row{
			bad(1, "m1", "missing_field:platform_key"),
			bad(2, "m2", "missing_field:platform_key"),
			bad(3, "m3", "missing_field:program_key"),
			bad(4, "m4", "missing_field:name"),
			bad(5, "m5", "missing_field:count"),
			bad(6, "m6", "missing_field:started"),
			bad(7, "", "missing_field:external_id"),
			bad(8, "", "missing_field:platform_key"),
		},
	},
	{
		Name: "Objects",
		Opts: importers.Options{Kind: importers.UserLicenses},
		Rows: []string{
			`{"platform_key": "acme", "metadata": {}, "external_id": "o1"}`,
			`{"platform_key": "acme", "metadata": {"cost_center": "ENG-42", "tags": [1, 2]}, "external_id": "o2"}`,
			`{"platform_key": "acme", "metadata": "ENG-42", "external_id": "o3"}`,
			`{"platform_key": "acme", "metadata": "[1, 2]", "external_id": "o4"}`,
			`{"platform_key": "acme", "metadata": [1, 2], "external_id": "o5"}`,
			`{"platform_key": "acme", "metadata": 42, "external_id": "o6"}`,
			`{"platform_key": "acme", "metadata": null, "external_id": "o7"}`,
		},
		Want: []row{
			good(1, "o1", `{"platform_key":"acme","metadata":{},"external_id":"o1"}`),
			good(2, "o2", `{"platform_key":"acme","metadata":{"cost_center":"ENG-42","tags":[1,2]},"external_id":"o2"}`),
			bad(3, "o3", "invalid_object:metadata"),
			bad(4, "o4", "invalid_object:metadata"),
			bad(5, "o5", "invalid_type:metadata"),
			bad(6, "o6", "invalid_type:metadata"),
			good(7, "o7", `{"platform_key":"acme","external_id":"o7"}`),
		},
	},
	{
		Name: "InvalidType",
		Opts: importers.Options{Kind: importers.UserLicenses},
		Rows: []string{
			`{"platform_key": "acme", "name": ["Ada"], "external_id": "t1"}`,
			`{"platform_key": "acme", "name": {"first": "Ada"}, "external_id": "t2"}`,
			`{"platform_key": "acme", "name": true, "external_id": "t3"}`,
			`{"platform_key": "acme", "name": 42, "external_id": "t4"}`,
			`{"platform_key": ["acme"], "external_id": ["t5"]}`,
		},
		Want: []row{
			bad(1, "t1", "invalid_type:name"),
			bad(2, "t2", "invalid_type:name"),
			bad(3, "t3", "invalid_type:name"),
			good(4, "t4", `{"platform_key":"acme","name":"42","external_id":"t4"}`),
			bad(5, "", "invalid_type:platform_key"),
		},
	},
	{
		Name: "Latin1IsInvalidUTF8",
		Opts: importers.Options{Kind: importers.UserLicenses},
		Rows: []string{
			"{\"platform_key\": \"acme\", \"name\": \"J\xfcrgen M\xfcller\", \"external_id\": \"u1\"}",
			"{\"platform_key\": \"acme\", \"metadata\": {\"manager\": \"M\xfcller\"}, \"external_id\": \"u2\"}",
			`{"platform_key": "acme", "name": "J\u00fcrgen M\u00fcller", "external_id": "u3"}`,
		},
		Want: []row{
			bad(1, "u1", "invalid_utf8:name"),
			bad(2, "u2", "invalid_utf8:metadata"),
			good(3, "u3", `{"platform_key":"acme","name":"Jürgen Müller","external_id":"u3"}`),
		},
	},
	{
		Name: "FieldTooLarge",
		Opts: importers.Options{Kind: importers.UserLicenses, Limits: importers.Limits{MaxFieldBytes: 14}},
		Rows: []string{
			`{"platform_key": "acme", "name": "Data Science", "external_id": "u1"}`,
			`{"platform_key": "acme", "name": "Data Science 2024", "external_id": "u2"}`,
			`{"platform_key": "acme", "metadata": {"cost_center": "ENG-42"}, "external_id": "u3"}`,
		},
		Want: []row{
			good(1, "u1", `{"platform_key":"acme","name":"Data Science","external_id":"u1"}`),
			bad(2, "u2", "field_too_large:name"),
			bad(3, "u3", "field_too_large:metadata"),
		},
	},
	{
		Name: "ExpiredBeforeStarted",
		Opts: importers.Options{Kind: importers.UserLicenses},
		Rows: []string{
			`{"platform_key": "acme", "started": "2024-06-01", "expired": "2024-01-01", "external_id": "e1"}`,
			`{"platform_key": "acme", "started": "2024-06-01", "expired": "2024-06-01T00:00:00Z", "external_id": "e2"}`,
			`{"platform_key": "acme", "started": "2024-06-01", "expired": "2024-06-01T00:00:01Z", "external_id": "e3"}`,
		},
		Want: []row{
			bad(1, "e1", "expired_before_started"),
			bad(2, "e2", "expired_before_started"),
			good(3, "e3", `{"platform_key":"acme","started":"2024-06-01T00:00:00Z","expired":"2024-06-01T00:00:01Z","external_id":"e3"}`),
		},
	},
	{
		Name: "DuplicateExternalIDFirstValidWins",
		Opts: importers.Options{Kind: importers.UserLicenses},
		Rows: []string{
			`{"platform_key": "acme", "external_id": "k1"}`,
			`{"platform_key": "acme", "external_id": "k1", "name": "later"}`,
			`{"platform_key": "acme", "external_id": "k2", "count": -5}`,
			`{"platform_key": "acme", "external_id": "k2"}`,
			`{"platform_key": "acme", "external_id": " k2"}`,
		},
		Want: []row{
			good(1, "k1", `{"platform_key":"acme","external_id":"k1"}`),
			bad(2, "k1", "duplicate_external_id"),
			bad(3, "k2", "out_of_range:count"),
			good(4, "k2", `{"platform_key":"acme","external_id":"k2"}`),
			bad(5, "k2", "duplicate_external_id"),
		},
	},
	{
		Name: "UnknownFields",
		Opts: importers.Options{Kind: importers.UserLicenses},
		Rows: []string{
			`{"platform_key": "acme", "seats": 5, "notes": "x", "external_id": "u1"}`,
			`{"platform_key": "acme", "external_id": "u2", "program_key": "program-v1:acme+ds+2024"}`,
			`{"platform_key": "acme", "Platform_Key": "globex", "external_id": "u3"}`,
			`{"platform_key": "acme", "external_id": "u4"}`,
		},
		Want: []row{
			bad(1, "u1", "unknown_field:notes"),
			bad(2, "u2", "unknown_field:program_key"),
			bad(3, "u3", "unknown_field:Platform_Key"),
			good(4, "u4", `{"platform_key":"acme","external_id":"u4"}`),
		},
	},
	{
		Name: "IgnoreUnknownFields",
		Opts: importers.Options{Kind: importers.UserLicenses, IgnoreUnknown: true},
		Rows: []string{
			`{"platform_key": "acme", "seats": 5, "notes": "x", "external_id": "u1"}`,
			`{"PLATFORM_KEY": "globex", "Platform_Key": "initech", "external_id": "u2"}`,
			`{"Platform_Key": "initech", "platform_key": "acme", "PLATFORM_KEY": "globex", "external_id": "u3"}`,
		},
		Want: []row{
			good(1, "u1", `{"platform_key":"acme","external_id":"u1"}`),
			good(2, "u2", `{"platform_key":"globex","external_id":"u2"}`), // no exact spelling: the first in byte order
			good(3, "u3", `{"platform_key":"acme","external_id":"u3"}`),   // the exact spelling wins
		},
	},
	{
		Name: "KeysInAnyCase",
		Opts: importers.Options{Kind: importers.UserLicenses},
		Rows: []string{`{"Platform_Key": "acme", " External_ID ": "u1", "NAME": "Ada"}`},
		Want: []row{good(1, "u1", `{"platform_key":"acme","name":"Ada","external_id":"u1"}`)},
	},
	{
		Name: "FirstErrorInSchemaOrder",
		Opts: importers.Options{Kind: importers.UserLicenses},
		Rows: []string{
			`{"external_id": "f1", "count": "ten", "started": "yesterday", "platform_key": "acme"}`,
			`{"external_id": "f2", "active": "maybe", "started": "yesterday", "platform_key": ["acme"]}`,
			`{"external_id": "f3", "active": "maybe", "count": "ten"}`,
		},
		Want: []row{
			bad(1, "f1", "invalid_integer:count"),
			bad(2, "f2", "invalid_type:platform_key"),
			bad(3, "f3", "invalid_integer:count"), // conversion errors come before missing fields
		},
	},
	{
		Name: "NotAnObject",
		Opts: importers.Options{Kind: importers.UserLicenses, Format: importers.FormatJSON}, // auto would read "42" as CSV
		Rows: []string{`42`, `"acme"`, `null`, `[{"platform_key": "acme", "external_id": "u1"}]`, `true`, `{"platform_key": "acme", "external_id": "u6"}`},
		Want: []row{
			bad(1, "", "not_an_object"),
			bad(2, "", "not_an_object"),
			bad(3, "", "not_an_object"),
			bad(4, "", "not_an_object"),
			bad(5, "", "not_an_object"),
			good(6, "u6", `{"platform_key":"acme","external_id":"u6"}`),
		},
	},
	{
		Name:       "MalformedJSON",
		Opts:       importers.Options{Kind: importers.UserLicenses},
		NDJSONOnly: true,
		Rows: []string{
			`{"platform_key": "acme", "external_id": "u1"}`,
			`{"platform_key": "acme", "external_id": "u2",}`,
			`{"platform_key": "acme", "external_id": "u3"`,
			`platform_key=acme external_id=u4`,
			`{"platform_key": "acme", "external_id": "u5"} {"external_id": "u5b"}`,
			`{'platform_key': 'acme'}`,
			`{"platform_key": "acme", "external_id": "u7"}`,
		},
		Want: []row{
			good(1, "u1", `{"platform_key":"acme","external_id":"u1"}`),
			bad(2, "", "malformed_json"),
			bad(3, "", "malformed_json"),
			bad(4, "", "malformed_json"),
			bad(5, "", "malformed_json"),
			bad(6, "", "malformed_json"),
			good(7, "u7", `{"platform_key":"acme","external_id":"u7"}`),
		},
	},
}

func TestReaderJSONRows(t *testing.T) {
	t.Parallel()
	for _, tt := range jsonRowTests {
		for _, form := range []struct {
			name   string
			input  string
			offset int // line of row 1, less one
		}{
			{"Array", "[\n  " + strings.Join(tt.Rows, ",\n  ") + "\n]\n", 1},
			{"NDJSON", strings.Join(tt.Rows, "\n") + "\n", 0},
		} {
			if tt.NDJSONOnly && form.name == "Array" {
				continue
			}
			t.Run(tt.Name+form.name, func(t *testing.T) {
				t.Parallel()
				want := make([]row, len(tt.Want))
				for i, w := range tt.Want {
					w.Line += form.offset
					want[i] = w
				}
				got, err := readRows(t, form.input, tt.Opts)
				require.NoError(t, err)
				require.Equal(t, want, got)
			})
		}
	}
}

// TestReaderJSONLines checks the line of rows laid out in other ways than
// one a line.
func TestReaderJSONLines(t *testing.T) {
	t.Parallel()
	const (
		u1 = `{"platform_key":"acme","external_id":"u1"}`
		u2 = `{"platform_key":"acme","external_id":"u2"}`
		u3 = `{"platform_key":"acme","external_id":"u3"}`
	)
	pad := strings.Repeat(" ", 3000) // past the decoder's first buffer
	tests := []rowTest{
		{
			Name: "PrettyPrintedArray",
			Input: "[\n" +
				"  {\n    \"platform_key\": \"acme\",\n    \"external_id\": \"u1\"\n  },\n" +
				"  {\n    \"platform_key\": \"acme\",\n    \"count\": \"ten\",\n    \"external_id\": \"u2\"\n  },\n" +
				"  {\"platform_key\": \"acme\", \"external_id\": \"u3\"}\n" +
				"]\n",
			Want: []row{good(2, "u1", u1), bad(6, "u2", "invalid_integer:count"), good(11, "u3", u3)},
		},
		{
			Name:  "BracketOnTheFirstLine",
			Input: "[{\n\"platform_key\": \"acme\",\n\"external_id\": \"u1\"\n}, {\"platform_key\": \"acme\", \"external_id\": \"u2\"},\n\n\n{\"platform_key\": \"acme\",\n \"external_id\": \"u3\"}]",
			Want:  []row{good(1, "u1", u1), good(4, "u2", u2), good(7, "u3", u3)},
		},
		{
			Name:  "BOMAndCRLFArray",
			Input: "\xef\xbb\xbf[\r\n  {\r\n    \"platform_key\": \"acme\",\r\n    \"external_id\": \"u1\"\r\n  },\r\n  {\"platform_key\": \"acme\", \"external_id\": \"u2\"}\r\n]\r\n",
			Want:  []row{good(2, "u1", u1), good(6, "u2", u2)},
		},
		{
			Name:  "LongRowsArray",
			Input: "[\n{\"platform_key\": \"acme\"," + pad + "\"external_id\": \"u1\"},\n\n{\"platform_key\": \"acme\",\n" + pad + "\n\"external_id\": \"u2\"},\n{\"platform_key\": \"acme\", \"external_id\": \"u3\"}\n]",
			Want:  []row{good(2, "u1", u1), good(4, "u2", u2), good(7, "u3", u3)},
		},
		{
			Name:  "StreamOfPrettyObjects",
			Input: "{\n  \"platform_key\": \"acme\",\n  \"external_id\": \"u1\"\n}\n{\n  \"platform_key\": \"acme\",\n  \"external_id\": \"u2\"\n}\n",
			Want:  []row{good(1, "u1", u1), good(5, "u2", u2)},
		},
		{
			Name:  "NDJSONBlankLinesAndCRLF",
			Input: "\r\n" + u1 + "\r\n\r\n   \r\n" + u2 + "\r\n" + u3,
			Want:  []row{good(2, "u1", u1), good(5, "u2", u2), good(6, "u3", u3)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			got, err := readRows(t, tt.Input, tt.Opts)
			require.NoError(t, err)
			require.Equal(t, tt.Want, got)
		})
	}
}

// fileErrorTest is an input the reader must give up on.
type fileErrorTest struct {
	Name     string
	Opts     importers.Options
	Input    string
	Err      error // the sentinel
	Line     int   // FileError.Line
	RowsFrom int   // rows returned before the error
}

func TestReaderFileErrors(t *testing.T) {
	t.Parallel()
	small := importers.Limits{MaxRowBytes: 200}
	longName := strings.Repeat("x", 250)
	huge := strings.Repeat("y", 300<<10) // far past the meter's slack
	tests := []fileErrorTest{
		{Name: "Empty", Input: "", Err: importers.ErrEmptyFile},
		{Name: "OnlyWhitespace", Input: " \r\n\n\t\n", Err: importers.ErrEmptyFile},
		{Name: "OnlyBOM", Input: "\xef\xbb\xbf", Err: importers.ErrEmptyFile},
		{Name: "CSVHeaderOnly", Input: userCSV, Err: importers.ErrEmptyFile},
		{Name: "CSVHeaderAndBlankLines", Input: userCSV + "\n\r\n\n", Err: importers.ErrEmptyFile},
		{Name: "CSVHeaderOnlyNoNewline", Opts: importers.Options{Kind: importers.UserLicenses}, Input: "platform_key,external_id", Err: importers.ErrEmptyFile},
		{Name: "JSONEmptyArray", Input: "[]", Err: importers.ErrEmptyFile},
		{Name: "JSONEmptyArrayKindGiven", Opts: importers.Options{Kind: importers.UserLicenses}, Input: "[\n]\n", Err: importers.ErrEmptyFile},
		{Name: "CSVTooManyColumns", Opts: importers.Options{Limits: importers.Limits{MaxColumns: 3}}, Input: "platform_key,name,count,external_id\nacme,Ada,1,u1\n", Err: importers.ErrBadHeader, Line: 1},
		{Name: "CSVDuplicateHeader", Input: "platform_key,external_id,External_ID\nacme,u1,u1\n", Err: importers.ErrBadHeader, Line: 1},
		{Name: "CSVDuplicateHeaderIgnoreUnknown", Opts: importers.Options{Kind: importers.UserLicenses, IgnoreUnknown: true}, Input: "platform_key,external_id, platform_key\nacme,u1,acme\n", Err: importers.ErrBadHeader, Line: 1},
		{Name: "CSVEmptyHeaderName", Input: "platform_key,,external_id\nacme,x,u1\n", Err: importers.ErrBadHeader, Line: 1},
		{Name: "CSVUnknownColumnKindGiven", Opts: importers.Options{Kind: importers.UserLicenses}, Input: "platform_key,seats,external_id\nacme,5,u1\n", Err: importers.ErrBadHeader, Line: 1},
		{Name: "CSVUnknownColumnDetected", Input: "platform_key,seats,external_id\nacme,5,u1\n", Err: importers.ErrUnknownKind, Line: 1},
		// Detect knows every column or no kind: IgnoreUnknown needs Kind.
		{Name: "CSVUnknownColumnIgnoredNeedsKind", Opts: importers.Options{IgnoreUnknown: true}, Input: "platform_key,seats,external_id\nacme,5,u1\n", Err: importers.ErrUnknownKind, Line: 1},
		{Name: "CSVHeaderUnterminatedQuote", Input: "platform_key,\"external_id\nacme,u1\n", Err: importers.ErrBadHeader, Line: 1},
		{Name: "CSVHeaderTooLarge", Opts: importers.Options{Limits: small}, Input: "platform_key,external_id," + longName + "\n", Err: importers.ErrTooLarge, Line: 1},
		{Name: "CSVRowTooLarge", Opts: importers.Options{Limits: small}, Input: userCSV + "acme,Ada,1,,,,,u1\nacme,\"" + longName + "\n\",1,,,,,u2\nacme,Ada,1,,,,,u3\n", Err: importers.ErrTooLarge, Line: 3, RowsFrom: 1},
		{Name: "CSVMalformedRowTooLarge", Opts: importers.Options{Limits: small}, Input: userCSV + "acme,Ada,1,,,,,u1\nacme,\"" + longName + "\n", Err: importers.ErrTooLarge, Line: 3, RowsFrom: 1},
		{Name: "CSVRowFarTooLarge", Opts: importers.Options{Limits: small}, Input: userCSV + "acme,Ada,1,,,,,u1\nacme," + huge + ",1,,,,,u2\n", Err: importers.ErrTooLarge, Line: 3, RowsFrom: 1},
		{Name: "JSONRowTooLarge", Opts: importers.Options{Limits: small}, Input: "[\n{\"platform_key\": \"acme\", \"external_id\": \"u1\"},\n{\"platform_key\": \"acme\",\n \"name\": \"" + longName + "\", \"external_id\": \"u2\"}\n]", Err: importers.ErrTooLarge, Line: 3, RowsFrom: 1},
		{Name: "JSONRowFarTooLarge", Opts: importers.Options{Limits: small}, Input: "[\n{\"platform_key\": \"acme\", \"external_id\": \"u1\"},\n{\"platform_key\": \"acme\",\n \"name\": \"" + huge + "\", \"external_id\": \"u2\"}\n]", Err: importers.ErrTooLarge, Line: 3, RowsFrom: 1},
		{Name: "NDJSONRowTooLarge", Opts: importers.Options{Limits: small}, Input: "{\"platform_key\": \"acme\", \"external_id\": \"u1\"}\n{\"platform_key\": \"acme\", \"name\": \"" + longName + "\", \"external_id\": \"u2\"}\n", Err: importers.ErrTooLarge, Line: 2, RowsFrom: 1},
		{Name: "NDJSONRowFarTooLarge", Opts: importers.Options{Limits: small}, Input: "{\"platform_key\": \"acme\", \"external_id\": \"u1\"}\n{\"platform_key\": \"acme\", \"name\": \"" + huge + "\", \"external_id\": \"u2\"}\n", Err: importers.ErrTooLarge, Line: 2, RowsFrom: 1},
		{Name: "JSONTrailingGarbage", Input: "[\n{\"platform_key\": \"acme\", \"external_id\": \"u1\"}\n]\n\nthanks!\n", Err: importers.ErrSyntax, Line: 5, RowsFrom: 1},
		{Name: "JSONSecondArray", Input: "[{\"platform_key\": \"acme\", \"external_id\": \"u1\"}]\n[{\"platform_key\": \"acme\", \"external_id\": \"u2\"}]\n", Err: importers.ErrSyntax, Line: 2, RowsFrom: 1},
		{Name: "JSONTrailingComma", Input: "[\n{\"platform_key\": \"acme\", \"external_id\": \"u1\"},\n]\n", Err: importers.ErrSyntax, Line: 3, RowsFrom: 1},
		{Name: "JSONMissingComma", Input: "[\n{\"platform_key\": \"acme\", \"external_id\": \"u1\"}\n{\"platform_key\": \"acme\", \"external_id\": \"u2\"}\n]\n", Err: importers.ErrSyntax, Line: 3, RowsFrom: 1},
		{Name: "JSONBrokenObjectInArray", Input: "[\n{\"platform_key\": \"acme\", \"external_id\": \"u1\"},\n{\"platform_key\": \"acme\",\n \"external_id\": u2}\n]\n", Err: importers.ErrSyntax, Line: 3, RowsFrom: 1},
		{Name: "JSONTruncatedArray", Input: "[\n{\"platform_key\": \"acme\", \"external_id\": \"u1\"},\n{\"platform_key\": \"ac", Err: importers.ErrSyntax, Line: 3, RowsFrom: 1},
		{Name: "JSONUnclosedArray", Input: "[\n{\"platform_key\": \"acme\", \"external_id\": \"u1\"}\n", Err: importers.ErrSyntax, Line: 3, RowsFrom: 1},
		{Name: "JSONOnlyOpenBracket", Input: "[", Err: importers.ErrSyntax, Line: 1},
		{Name: "JSONFirstRowNotAnObject", Input: "[42, {\"platform_key\": \"acme\", \"external_id\": \"u1\"}]", Err: importers.ErrUnknownKind, Line: 1},
		{Name: "JSONFirstRowUnknownKeys", Input: "[\n{\"platform_key\": \"acme\", \"seats\": 5, \"external_id\": \"u1\"}]", Err: importers.ErrUnknownKind, Line: 2},
		{Name: "UnknownKindOption", Opts: importers.Options{Kind: "course-licenses"}, Input: userCSV + "acme,Ada,1,,,,,u1\n", Err: importers.ErrUnknownKind},
		{Name: "UnknownFormatOption", Opts: importers.Options{Format: "xml"}, Input: userCSV + "acme,Ada,1,,,,,u1\n", Err: importers.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			rows, err := readRows(t, tt.Input, tt.Opts)
			requireFileError(t, err, tt.Err, tt.Line)
			require.Len(t, rows, tt.RowsFrom, "rows before the error: %v", rows)
			for _, r := range rows {
				require.Empty(t, r.Code, "row %+v", r)
			}
		})
	}
}

func TestReaderNextAfterEnd(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		userCSV + "acme,Ada,1,,,,,u1\n",                             // io.EOF
		"[{\"platform_key\": \"acme\", \"external_id\": \"u1\"}] x", // *FileError
		userCSV, // empty
	} {
		r, err := importers.NewReader(strings.NewReader(in), importers.Options{})
		require.NoError(t, err)
		var last error
		for last == nil {
			_, last = r.Next()
		}
		for range 3 {
			row, err := r.Next()
			require.ErrorIs(t, err, io.EOF, "after %v", last)
			require.Equal(t, importers.Row{}, row)
		}
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		Name    string
		Columns []string
		Kind    importers.Kind // "" when no kind fits
	}{
		{"ProgramKeyMeansProgramLicenses", []string{"platform_key", "program_key", "name", "count", "started", "external_id"}, importers.ProgramLicenses},
		{"ProgramEveryField", strings.Split(strings.TrimSpace(fullCSV), ","), importers.ProgramLicenses},
		{"NoProgramKeyMeansUserLicenses", []string{"platform_key", "external_id"}, importers.UserLicenses},
		{"UserEveryField", strings.Split(strings.TrimSpace(userCSV), ","), importers.UserLicenses},
		{"AnyCaseAndSpaces", []string{" PLATFORM_KEY", "External_Id "}, importers.UserLicenses},
		{"ProgramKeyWithoutProgramRequirements", []string{"platform_key", "program_key", "external_id"}, ""},
		{"MissingExternalID", []string{"platform_key", "name"}, ""},
		{"UnknownColumn", []string{"platform_key", "external_id", "seats"}, ""},
		{"NoColumns", nil, ""},
		{"Issuers", []string{"org", "user_id", "entityId"}, importers.Issuers},
		{"IssuersWithoutEntityID", []string{"action", "org", "user_id", "name", "iconImage"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			s, err := importers.Detect(tt.Columns)
			if tt.Kind == "" {
				require.ErrorIs(t, err, importers.ErrUnknownKind)
				require.Nil(t, s)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.Kind, s.Kind)
		})
	}
}

// TestReaderKind checks that NewReader tells the kind and format of a file,
// or takes them from Options.
func TestReaderKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		Name   string
		Opts   importers.Options
		Input  string
		Kind   importers.Kind
		Format importers.Format
	}{
		{"CSVProgram", importers.Options{}, programCSV + "acme,p,N,1,2024-01-01,e1\n", importers.ProgramLicenses, importers.FormatCSV},
		{"CSVUser", importers.Options{}, userCSV + "acme,Ada,1,,,,,u1\n", importers.UserLicenses, importers.FormatCSV},
		{"CSVKindGiven", importers.Options{Kind: importers.UserLicenses}, "platform_key,external_id\nacme,u1\n", importers.UserLicenses, importers.FormatCSV},
		{"JSONArrayProgram", importers.Options{}, `[{"platform_key":"acme","program_key":"p","name":"N","count":1,"started":"2024-01-01","external_id":"e1"}]`, importers.ProgramLicenses, importers.FormatJSON},
		{"NDJSONUser", importers.Options{}, "{\"platform_key\":\"acme\",\"external_id\":\"u1\"}\n", importers.UserLicenses, importers.FormatJSON},
		{"JSONGivenFormatWithBOM", importers.Options{Format: importers.FormatJSON}, "\xef\xbb\xbf  \n[{\"platform_key\":\"acme\",\"external_id\":\"u1\"}]", importers.UserLicenses, importers.FormatJSON},
		{"CSVGivenFormatLooksLikeJSON", importers.Options{Format: importers.FormatCSV}, "{platform_key},external_id\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			r, err := importers.NewReader(strings.NewReader(tt.Input), tt.Opts)
			if tt.Kind == "" {
				requireFileError(t, err, importers.ErrUnknownKind, 1)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.Kind, r.Schema().Kind)
			require.Equal(t, tt.Format, r.Format())
		})
	}
}

func TestReaderRawAndHeader(t *testing.T) {
	t.Parallel()

	t.Run("CSV", func(t *testing.T) {
		t.Parallel()
		in := "\xef\xbb\xbf Platform_Key ,Name,external_id\r\nacme,\"Grace\r\nHopper\",u1\r\nacme,Ada,u2,extra\r\n"
		r, err := importers.NewReader(strings.NewReader(in), importers.Options{})
		require.NoError(t, err)
		require.Equal(t, []string{"Platform_Key", "Name", "external_id"}, r.Header())

		row, err := r.Next()
		require.NoError(t, err)
		require.Nil(t, row.Err)
		cells, object := r.Raw()
		require.Equal(t, []string{"acme", "Grace\r\nHopper", "u1"}, cells)
		require.Nil(t, object)

		row, err = r.Next()
		require.NoError(t, err)
		require.Equal(t, "wrong_field_count", row.Err.Code())
		cells, _ = r.Raw()
		require.Equal(t, []string{"acme", "Ada", "u2", "extra"}, cells)
	})

	t.Run("JSONArray", func(t *testing.T) {
		t.Parallel()
		obj := "{\n  \"platform_key\": \"acme\",\n  \"external_id\": \"u1\"\n}"
		r, err := importers.NewReader(strings.NewReader("[\n"+obj+", 42\n]"), importers.Options{})
		require.NoError(t, err)
		require.Nil(t, r.Header())
		_, err = r.Next()
		require.NoError(t, err)
		cells, object := r.Raw()
		require.Nil(t, cells)
		require.Equal(t, obj, string(object))
		row, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, "not_an_object", row.Err.Code())
		_, object = r.Raw()
		require.Equal(t, "42", string(object))
	})

	t.Run("NDJSON", func(t *testing.T) {
		t.Parallel()
		r, err := importers.NewReader(strings.NewReader("  {\"platform_key\": \"acme\", \"external_id\": \"u1\"}  \r\n{broken\n"), importers.Options{})
		require.NoError(t, err)
		require.Nil(t, r.Header())
		_, err = r.Next()
		require.NoError(t, err)
		_, object := r.Raw()
		require.Equal(t, `{"platform_key": "acme", "external_id": "u1"}`, string(object))
		row, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, "malformed_json", row.Err.Code())
		_, object = r.Raw()
		require.Equal(t, "{broken", string(object))
	})
}

// TestRowErrorCodesCovered fails when a row error code of errors.go has
// no case in csvRowTests or jsonRowTests, so a new code cannot go
// untested.
func TestRowErrorCodesCovered(t *testing.T) {
	t.Parallel()
	// Codes a format cannot produce, and why.
	impossible := map[string]string{
		"csv unknown_field":      "CSV reports unknown columns as a FileError (ErrBadHeader)",
		"csv invalid_type":       "every CSV cell is text",
		"csv not_an_object":      "JSON only",
		"csv malformed_json":     "JSON only",
		"json wrong_field_count": "CSV only",
		"json malformed_csv":     "CSV only",
	}
	covered := map[string]bool{}
	for _, tt := range csvRowTests {
		for _, w := range tt.Want {
			covered["csv "+strings.SplitN(w.Code, ":", 2)[0]] = true
		}
	}
	for _, tt := range jsonRowTests {
		for _, w := range tt.Want {
			covered["json "+strings.SplitN(w.Code, ":", 2)[0]] = true
		}
	}
	for _, tt := range kindRowTests {
		for _, w := range tt.Want {
			covered[tt.Format+" "+strings.SplitN(w.Code, ":", 2)[0]] = true
		}
	}
	codes := rowErrorCodes(t)
	require.Len(t, codes, 18, "codes in errors.go: %v", codes)
	for _, code := range codes {
		for _, format := range []string{"csv", "json"} {
			k := format + " " + code
			if why, ok := impossible[k]; ok {
				require.False(t, covered[k], "%s is marked impossible (%s) but has a case", k, why)
				continue
			}
			require.True(t, covered[k], "no test case gives %s in %s", code, format)
		}
	}
}

// rowErrorCodes returns the codes of errors.go's row error sentinels: the
// errors.New texts that are one snake_case word.
func rowErrorCodes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	require.NoError(t, err)
	code := regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)
	var codes []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 1 {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "New" {
			return true
		}
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil && code.MatchString(s) {
				codes = append(codes, s)
			}
		}
		return true
	})
	return codes
}

// TestRowErrorWraps checks that codes are matched with errors.Is.
func TestRowErrorWraps(t *testing.T) {
	t.Parallel()
	r, err := importers.NewReader(strings.NewReader(userCSV+"acme,Ada,ten,,,,,u1\n"), importers.Options{})
	require.NoError(t, err)
	row, err := r.Next()
	require.NoError(t, err)
	require.ErrorIs(t, row.Err, importers.ErrInvalidInteger)
	require.False(t, errors.Is(row.Err, importers.ErrOutOfRange))
	require.Equal(t, "count", row.Err.Field)
	require.True(t, bytes.HasPrefix([]byte(row.Err.Error()), []byte("line 2: invalid_integer:count: ")), row.Err.Error())
}
