package importers_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulksync/bulksync/importers"
)

// TestReaderBulkBodyByTopLevelKeys checks that a '{'-first file is read as
// a bulk suggestion body only when its first object has a top-level
// suggestion_data key, and never when --kind names another kind.
func TestReaderBulkBodyByTopLevelKeys(t *testing.T) {
	t.Parallel()
	const (
		license = `{"platform_key": "acme", "external_id": "u1", "metadata": {"suggestion_data": [1]}}`
		bulk    = `{"platform_key": "acme", "suggestion_data": [{"program_key": "p", "user_id": 1}]}`
	)
	tests := []struct {
		Name  string
		Opts  importers.Options
		Input string
		Kind  importers.Kind
		Want  []row
	}{
		{
			Name:  "KeyInsideAValue",
			Input: license + "\n" + `{"platform_key": "acme", "external_id": "u2"}` + "\n",
			Kind:  importers.UserLicenses,
			Want: []row{
				good(1, "u1", `{"platform_key":"acme","metadata":{"suggestion_data":[1]},"external_id":"u1"}`),
				good(2, "u2", `{"platform_key":"acme","external_id":"u2"}`),
			},
		},
		{
			Name:  "KeyInsideAValueKindGiven",
			Opts:  importers.Options{Kind: importers.UserLicenses},
			Input: license + "\n",
			Kind:  importers.UserLicenses,
			Want:  []row{good(1, "u1", `{"platform_key":"acme","metadata":{"suggestion_data":[1]},"external_id":"u1"}`)},
		},
		{
			Name:  "KeyAsAString",
			Input: `{"platform_key": "acme", "name": "suggestion_data", "external_id": "u1"}` + "\n",
			Kind:  importers.UserLicenses,
			Want:  []row{good(1, "u1", `{"platform_key":"acme","name":"suggestion_data","external_id":"u1"}`)},
		},
		{
			Name: "SuggestionRowsWithTheKeyInMetadata",
			Input: `{"platform_key": "acme", "program_key": "p", "user_id": 1, "metadata": {"suggestion_data": "x"}}` + "\n" +
				`{"platform_key": "acme", "program_key": "p", "user_id": 2}` + "\n",
			Kind: importers.ProgramSuggestions,
			Want: []row{
				good(1, "acme/p/user_id=1", `{"platform_key":"acme","program_key":"p","user_id":"1","metadata":{"suggestion_data":"x"}}`),
				good(2, "acme/p/user_id=2", `{"platform_key":"acme","program_key":"p","user_id":"2"}`),
			},
		},
		{
			Name:  "BulkBody",
			Input: bulk,
			Kind:  importers.ProgramSuggestions,
			Want:  []row{good(1, "acme/p/user_id=1", `{"platform_key":"acme","program_key":"p","user_id":"1"}`)},
		},
		{
			Name:  "BulkBodyKindGiven",
			Opts:  importers.Options{Kind: importers.ProgramSuggestions},
			Input: bulk,
			Kind:  importers.ProgramSuggestions,
			Want:  []row{good(1, "acme/p/user_id=1", `{"platform_key":"acme","program_key":"p","user_id":"1"}`)},
		},
		{
			Name:  "BulkBodyKeyAfterALongValue",
			Input: `{"platform_org": "` + strings.Repeat("o", 3000) + `", "platform_key": "acme", "suggestion_data": [{"program_key": "p", "user_id": 1}]}`,
			Kind:  importers.ProgramSuggestions,
			Want:  []row{good(1, "acme/p/user_id=1", `{"platform_key":"acme","program_key":"p","user_id":"1"}`)},
		},
		{
			// Another kind never reads the file as a bulk body: the body
			// is one row, which that kind does not know.
			Name:  "BulkBodyOtherKindGiven",
			Opts:  importers.Options{Kind: importers.ProgramLicenses},
			Input: bulk,
			Kind:  importers.ProgramLicenses,
			Want:  []row{bad(1, "", "unknown_field:suggestion_data")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			r, err := importers.NewReader(strings.NewReader(tt.Input), tt.Opts)
			require.NoError(t, err)
			require.Equal(t, tt.Kind, r.Schema().Kind)
			got, err := readRows(t, tt.Input, tt.Opts)
			require.NoError(t, err)
			require.Equal(t, tt.Want, got)
		})
	}
}

// TestReaderJSONFirstRowErrors checks what a first row the kind cannot be
// told from gives: a broken row is a syntax error on its line, with or
// without --kind (where it is a row error), in words rather than Go type
// names. The format is given: a file that starts with a digit or '-' is
// otherwise CSV.
func TestReaderJSONFirstRowErrors(t *testing.T) {
	t.Parallel()
	const u2 = `{"platform_key": "acme", "external_id": "u2"}`
	tests := []struct {
		Name     string
		Input    string
		Err      error  // the FileError's sentinel without --kind
		Line     int    // its line
		Contains string // in its message
		// WithKind are the rows read with --kind user-licenses.
		WithKind []row
		// Detail is in the first row's error detail with --kind.
		Detail string
	}{
		{
			Name:     "BrokenObject",
			Input:    "\n\n{\"platform_key\": \"acme\", \"external_id\": u1}\n" + u2 + "\n",
			Err:      importers.ErrSyntax,
			Line:     3,
			Contains: "invalid character 'u' looking for beginning of value",
			WithKind: []row{bad(3, "", "malformed_json"), good(4, "u2", `{"platform_key":"acme","external_id":"u2"}`)},
			Detail:   "invalid character 'u' looking for beginning of value",
		},
		{
			Name:     "BrokenNumber",
			Input:    "-\n" + u2 + "\n",
			Err:      importers.ErrSyntax,
			Line:     1,
			Contains: "invalid character",
			WithKind: []row{bad(1, "", "malformed_json"), good(2, "u2", `{"platform_key":"acme","external_id":"u2"}`)},
			Detail:   "invalid character",
		},
		{
			Name:     "Number",
			Input:    "42\n" + u2 + "\n",
			Err:      importers.ErrUnknownKind,
			Line:     1,
			Contains: "which is a number, not an object",
			WithKind: []row{bad(1, "", "not_an_object"), good(2, "u2", `{"platform_key":"acme","external_id":"u2"}`)},
			Detail:   "not a number",
		},
		{
			Name:     "NullInAnArray",
			Input:    "[\n  null,\n  " + u2 + "\n]",
			Err:      importers.ErrUnknownKind,
			Line:     2,
			Contains: "which is null, not an object",
			WithKind: []row{bad(2, "", "not_an_object"), good(3, "u2", `{"platform_key":"acme","external_id":"u2"}`)},
			Detail:   "not null",
		},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			_, err := readRows(t, tt.Input, importers.Options{Format: importers.FormatJSON})
			requireFileError(t, err, tt.Err, tt.Line)
			require.ErrorContains(t, err, tt.Contains)
			require.NotContains(t, err.Error(), "Go value")
			require.NotContains(t, err.Error(), "json.RawMessage")

			opts := importers.Options{Kind: importers.UserLicenses, Format: importers.FormatJSON}
			got, err := readRows(t, tt.Input, opts)
			require.NoError(t, err)
			require.Equal(t, tt.WithKind, got)
			r, err := importers.NewReader(strings.NewReader(tt.Input), opts)
			require.NoError(t, err)
			first, err := r.Next()
			require.NoError(t, err)
			require.Contains(t, first.Err.Detail, tt.Detail)
		})
	}
}
