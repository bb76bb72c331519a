package importers_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulksync/bulksync/importers"
)

// sampleDir holds the repository's sample files (README examples and
// end-to-end tests).
const sampleDir = "../testdata"

// samples lists every sample file with its kind. NeedsKind marks the files
// whose columns fit more than one kind, so that they are imported with
// --kind: user-group-assignments (its columns are a subset of
// program-group-assignments'; only remove_user_assignments tells the
// program kind apart) and both user assignment kinds (the same columns).
// testdata/README.md shows the same list: change both together.
var samples = []struct {
	Name      string
	Kind      importers.Kind
	NeedsKind bool
}{
	{Name: "program-licenses.csv", Kind: importers.ProgramLicenses},
	{Name: "program-licenses.json", Kind: importers.ProgramLicenses},
	{Name: "program-licenses-bad.csv", Kind: importers.ProgramLicenses},
	{Name: "program-licenses-bad.json", Kind: importers.ProgramLicenses},
	{Name: "user-licenses.csv", Kind: importers.UserLicenses},
	{Name: "user-licenses.ndjson", Kind: importers.UserLicenses},
	{Name: "user-licenses-bad.csv", Kind: importers.UserLicenses},
	{Name: "program-group-assignments.csv", Kind: importers.ProgramGroupAssignments},
	{Name: "program-group-assignments-bad.csv", Kind: importers.ProgramGroupAssignments},
	{Name: "user-group-assignments.csv", Kind: importers.UserGroupAssignments, NeedsKind: true},
	{Name: "user-group-assignments-bad.csv", Kind: importers.UserGroupAssignments, NeedsKind: true},
	{Name: "program-user-assignments.csv", Kind: importers.ProgramUserAssignments, NeedsKind: true},
	{Name: "program-user-assignments-bad.csv", Kind: importers.ProgramUserAssignments, NeedsKind: true},
	{Name: "user-user-assignments.csv", Kind: importers.UserUserAssignments, NeedsKind: true},
	{Name: "user-user-assignments-bad.csv", Kind: importers.UserUserAssignments, NeedsKind: true},
	{Name: "program-suggestions.csv", Kind: importers.ProgramSuggestions},
	{Name: "program-suggestions-bad.csv", Kind: importers.ProgramSuggestions},
	{Name: "program-suggestions-bulk.json", Kind: importers.ProgramSuggestions},
	{Name: "group-suggestions.csv", Kind: importers.GroupSuggestions},
	{Name: "group-suggestions-bad.csv", Kind: importers.GroupSuggestions},
	{Name: "group-suggestions-bad.json", Kind: importers.GroupSuggestions},
	{Name: "issuers.csv", Kind: importers.Issuers},
	{Name: "issuers.json", Kind: importers.Issuers},
	{Name: "issuers-bad.csv", Kind: importers.Issuers},
	{Name: "uipath-group-licenses.csv", Kind: importers.UiPathGroupLicenses},
	{Name: "uipath-group-licenses.ndjson", Kind: importers.UiPathGroupLicenses},
	{Name: "uipath-group-licenses-bad.csv", Kind: importers.UiPathGroupLicenses},
}

// sampleOptions are the options a sample is read with: the defaults, plus
// --kind for the files that need it.
func sampleOptions(name string) importers.Options {
	for _, s := range samples {
		if s.Name == name && s.NeedsKind {
			return importers.Options{Kind: s.Kind}
		}
	}
	return importers.Options{}
}

// badSamples is, for each testdata/*-bad.* file, the line of every bad row
// and its error code, read with the default options (and --kind where
// samples says so). testdata/README.md shows the same tables: change both
// together.
var badSamples = map[string]map[int]string{
	"program-licenses-bad.csv": {
		3:  "missing_field:program_key",
		4:  "invalid_integer:count",
		5:  "out_of_range:count",
		10: "invalid_datetime:started",
		11: "expired_before_started",
		12: "invalid_boolean:active",
		13: "invalid_object:metadata",
		15: "duplicate_external_id",
		16: "wrong_field_count",
		17: "invalid_utf8:name",
		18: "malformed_csv",
		19: "missing_field:external_id",
		20: "missing_field:count",
		21: "invalid_datetime:expired",
		22: "out_of_range:count",
		23: "missing_field:platform_key",
		25: "malformed_csv",
	},
	"program-licenses-bad.json": {
		21:  "missing_field:platform_key",
		31:  "unknown_field:seats",
		43:  "invalid_integer:count",
		54:  "out_of_range:count",
		65:  "out_of_range:count",
		76:  "invalid_boolean:active",
		87:  "invalid_datetime:started",
		98:  "invalid_object:metadata",
		110: "invalid_type:name",
		124: "invalid_utf8:name",
		135: "expired_before_started",
		159: "duplicate_external_id",
		170: "not_an_object",
		171: "missing_field:program_key",
		182: "invalid_type:count",
	},
	"user-licenses-bad.csv": {
		3:  "missing_field:platform_key",
		4:  "invalid_integer:count",
		5:  "out_of_range:count",
		7:  "invalid_boolean:active",
		8:  "invalid_datetime:started",
		9:  "expired_before_started",
		10: "invalid_object:metadata",
		11: "invalid_utf8:name",
		12: "missing_field:external_id",
		15: "duplicate_external_id",
		16: "wrong_field_count",
		17: "malformed_csv",
	},
	"program-group-assignments-bad.csv": {
		3:  "missing_field:platform_key",
		4:  "missing_field:license_id|license_external_id",
		5:  "missing_field:group_id",
		6:  "missing_field:assignment_id|group_id",
		7:  "invalid_value:action",
		8:  "invalid_integer:group_id",
		9:  "invalid_integer:license_id",
		10: "out_of_range:license_id",
		11: "invalid_boolean:active",
		12: "invalid_object:metadata",
		13: "invalid_boolean:remove_user_assignments",
		15: "duplicate_target",
		16: "invalid_utf8:metadata",
		17: "wrong_field_count",
		18: "out_of_range:assignment_id",
		21: "malformed_csv",
	},
	"user-group-assignments-bad.csv": {
		3:  "missing_field:platform_key",
		4:  "missing_field:license_id|license_external_id",
		5:  "missing_field:group_id",
		6:  "missing_field:assignment_id|group_id",
		7:  "invalid_value:action",
		8:  "invalid_integer:group_id",
		9:  "out_of_range:group_id",
		10: "invalid_boolean:fulfilled",
		11: "invalid_object:metadata",
		13: "duplicate_target",
		14: "invalid_utf8:license_external_id",
		15: "wrong_field_count",
		19: "malformed_csv",
	},
	"program-user-assignments-bad.csv": {
		3:  "missing_field:platform_key",
		4:  "missing_field:license_id|license_external_id",
		5:  "missing_field:user_id|email",
		6:  "missing_field:assignment_id|user_id|email",
		7:  "invalid_value:action",
		8:  "invalid_value:email",
		9:  "invalid_integer:user_id",
		10: "out_of_range:user_id",
		11: "invalid_boolean:active",
		12: "invalid_object:metadata",
		14: "duplicate_target",
		15: "invalid_utf8:metadata",
		16: "wrong_field_count",
		19: "malformed_csv",
	},
	"user-user-assignments-bad.csv": {
		3:  "missing_field:platform_key",
		4:  "missing_field:license_id|license_external_id",
		5:  "missing_field:user_id|email",
		6:  "missing_field:assignment_id|user_id|email",
		7:  "invalid_value:action",
		8:  "invalid_value:email",
		9:  "invalid_integer:user_id",
		10: "out_of_range:assignment_id",
		11: "invalid_boolean:fulfilled",
		12: "invalid_object:metadata",
		14: "duplicate_target",
		15: "invalid_utf8:email",
		16: "wrong_field_count",
		19: "malformed_csv",
	},
	"program-suggestions-bad.csv": {
		3:  "missing_field:platform_key",
		4:  "missing_field:program_key",
		5:  "missing_field:user_id",
		6:  "invalid_boolean:accepted",
		7:  "invalid_boolean:visible",
		8:  "invalid_object:metadata",
		10: "duplicate_target",
		11: "invalid_utf8:metadata",
		12: "wrong_field_count",
		15: "malformed_csv",
	},
	"group-suggestions-bad.csv": {
		3:  "missing_field:platform_key",
		4:  "missing_field:program_key",
		5:  "missing_field:group_id",
		6:  "missing_field:program_key",
		7:  "invalid_value:action",
		8:  "invalid_integer:group_id",
		9:  "out_of_range:suggestion_id",
		10: "invalid_boolean:visible",
		11: "invalid_object:metadata",
		13: "duplicate_target",
		14: "invalid_utf8:metadata",
		15: "wrong_field_count",
		17: "malformed_csv",
	},
	"group-suggestions-bad.json": {
		3:  "missing_field:platform_key",
		4:  "missing_field:program_key",
		5:  "missing_field:group_id",
		6:  "invalid_value:action",
		7:  "unknown_field:group_name",
		8:  "invalid_integer:group_id",
		9:  "out_of_range:suggestion_id",
		10: "invalid_boolean:visible",
		11: "invalid_object:metadata",
		12: "invalid_type:program_key",
		13: "invalid_utf8:metadata",
		14: "duplicate_target",
		15: "not_an_object",
	},
	"issuers-bad.csv": {
		3:  "missing_field:org",
		4:  "missing_field:user_id",
		5:  "missing_field:entityId",
		6:  "missing_field:iconImage",
		7:  "missing_field:entityId",
		8:  "invalid_value:action",
		9:  "invalid_value:email",
		11: "duplicate_target",
		12: "invalid_utf8:name",
		13: "wrong_field_count",
		15: "malformed_csv",
	},
	"uipath-group-licenses-bad.csv": {
		3:  "missing_field:account_id",
		4:  "missing_field:group_id",
		5:  "missing_field:user_bundle_codes",
		6:  "missing_field:user_bundle_codes",
		7:  "invalid_boolean:use_external_license",
		8:  "duplicate_target",
		9:  "invalid_utf8:group_id",
		10: "wrong_field_count",
		14: "malformed_csv",
	},
}

// sampleCodes are the row error codes (without their field) that a bad
// sample of a kind must show in a format: every code the kind's fields,
// checks and key can produce. Left out: field_too_large (it needs a value
// over 1 MiB with the default limits), unknown_field in CSV (an unknown
// column is a file error), malformed_json in a JSON array (a broken object
// ends the file with ErrSyntax; only NDJSON has it as a row error), and the
// codes of the other format.
func sampleCodes(s *importers.Schema, ext string) []string {
	codes := []string{"missing_field", "invalid_utf8"} // every kind has required text fields
	has := func(t importers.FieldType) bool {
		return slices.ContainsFunc(s.Fields, func(f importers.Field) bool { return f.Type == t })
	}
	named := func(name string) bool {
		return slices.ContainsFunc(s.Fields, func(f importers.Field) bool { return f.Name == name })
	}
	if has(importers.Integer) {
		codes = append(codes, "invalid_integer", "out_of_range")
	}
	if has(importers.Boolean) {
		codes = append(codes, "invalid_boolean")
	}
	if has(importers.Datetime) {
		codes = append(codes, "invalid_datetime")
	}
	if has(importers.Object) {
		codes = append(codes, "invalid_object")
	}
	if has(importers.Enum) || named("email") { // actions; email addresses are checked
		codes = append(codes, "invalid_value")
	}
	if named("started") && named("expired") {
		codes = append(codes, "expired_before_started")
	}
	switch {
	case s.Key != "":
		codes = append(codes, "duplicate_external_id")
	case s.KeyFunc != nil:
		codes = append(codes, "duplicate_target")
	}
	switch ext {
	case ".csv":
		codes = append(codes, "wrong_field_count", "malformed_csv")
	case ".ndjson":
		codes = append(codes, "unknown_field", "invalid_type", "not_an_object", "malformed_json")
	default:
		codes = append(codes, "unknown_field", "invalid_type", "not_an_object")
	}
	return codes
}

// sampleNames returns the sample files found in sampleDir.
func sampleNames(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(sampleDir, "*"))
	require.NoError(t, err)
	var names []string
	for _, p := range paths {
		switch filepath.Ext(p) {
		case ".csv", ".json", ".ndjson":
			names = append(names, filepath.Base(p))
		}
	}
	return names
}

func TestSampleFiles(t *testing.T) {
	t.Parallel()
	names := sampleNames(t)
	var listed []string
	for _, s := range samples {
		listed = append(listed, s.Name)
	}
	require.ElementsMatch(t, listed, names, "every sample file is in samples, and every one listed exists")
	for name := range badSamples {
		require.Contains(t, names, name, "a bad sample in the table is missing")
	}

	for _, s := range samples {
		t.Run(strings.ReplaceAll(s.Name, ".", "_"), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join(sampleDir, s.Name))
			require.NoError(t, err)
			rows, err := readRows(t, string(b), sampleOptions(s.Name))
			require.NoError(t, err, "a sample must be readable to the end")

			gotBad := map[int]string{}
			goodRows := 0
			for _, r := range rows {
				if r.Code != "" {
					gotBad[r.Line] = r.Code
				} else {
					goodRows++
				}
			}
			require.Positive(t, goodRows, "every sample has good rows")

			if !strings.Contains(s.Name, "-bad.") {
				require.Empty(t, gotBad, "a good sample has bad rows")
				return
			}
			want, ok := badSamples[s.Name]
			require.True(t, ok, "add %s to badSamples and testdata/README.md", s.Name)
			require.Equal(t, want, gotBad)

			var codes []string
			for _, code := range gotBad {
				codes = append(codes, strings.SplitN(code, ":", 2)[0])
			}
			schema, err := importers.Lookup(s.Kind)
			require.NoError(t, err)
			for _, code := range sampleCodes(schema, filepath.Ext(s.Name)) {
				require.True(t, slices.Contains(codes, code), "%s has no row with %s", s.Name, code)
			}
		})
	}
}

// TestSampleKinds checks that each sample's kind is told from its
// content, as the README examples rely on, and that the files marked
// NeedsKind cannot be told apart without --kind.
func TestSampleKinds(t *testing.T) {
	t.Parallel()
	for _, s := range samples {
		t.Run(strings.ReplaceAll(s.Name, ".", "_"), func(t *testing.T) {
			t.Parallel()
			open := func(opts importers.Options) (*importers.Reader, error) {
				f, err := os.Open(filepath.Join(sampleDir, s.Name))
				require.NoError(t, err)
				t.Cleanup(func() { _ = f.Close() })
				return importers.NewReader(f, opts)
			}
			r, err := open(importers.Options{})
			if s.NeedsKind {
				requireFileError(t, err, importers.ErrUnknownKind, 1)
				require.ErrorContains(t, err, "pass --kind")
				require.ErrorContains(t, err, string(s.Kind), "the kinds the columns fit")
				r, err = open(importers.Options{Kind: s.Kind})
			}
			require.NoError(t, err)
			require.Equal(t, s.Kind, r.Schema().Kind)
			if r.Format() == importers.FormatCSV {
				// The header alone decides, as importers.Detect says.
				d, err := importers.Detect(r.Header())
				if s.NeedsKind {
					require.ErrorIs(t, err, importers.ErrUnknownKind)
				} else {
					require.NoError(t, err)
					require.Equal(t, s.Kind, d.Kind)
				}
			}
		})
	}
}

// sampleLicenseFiles are the license samples the assignment samples refer
// to by license_external_id, per assignment kind.
var sampleLicenseFiles = map[importers.Kind]string{
	importers.ProgramGroupAssignments: "program-licenses.csv",
	importers.ProgramUserAssignments:  "program-licenses.csv",
	importers.UserGroupAssignments:    "user-licenses.csv",
	importers.UserUserAssignments:     "user-licenses.csv",
}

// sampleMissingLicenses are the license_external_ids of good rows that no
// license sample has, on purpose: rows that fail at the API (not_found).
var sampleMissingLicenses = map[string]string{
	"user-group-assignments-bad.csv": "acme-ul-eng-2023",
}

// TestSampleLicenseRefs checks that the assignment samples' good rows name
// licenses of the license samples, on the same platform, so that
// importing the license file first and the assignment file next works end
// to end.
func TestSampleLicenseRefs(t *testing.T) {
	t.Parallel()
	type ref struct{ Platform, ExternalID string }
	licenses := map[string]map[ref]bool{}
	for _, file := range sampleLicenseFiles {
		if licenses[file] != nil {
			continue
		}
		licenses[file] = map[ref]bool{}
		for _, data := range sampleGoodRows(t, file) {
			var l struct {
				PlatformKey string `json:"platform_key"`
				ExternalID  string `json:"external_id"`
			}
			require.NoError(t, json.Unmarshal(data, &l))
			licenses[file][ref{l.PlatformKey, l.ExternalID}] = true
		}
	}
	for _, s := range samples {
		file, ok := sampleLicenseFiles[s.Kind]
		if !ok {
			continue
		}
		t.Run(strings.ReplaceAll(s.Name, ".", "_"), func(t *testing.T) {
			t.Parallel()
			for _, data := range sampleGoodRows(t, s.Name) {
				var a struct {
					PlatformKey       string `json:"platform_key"`
					LicenseExternalID string `json:"license_external_id"`
				}
				require.NoError(t, json.Unmarshal(data, &a))
				require.NotEmpty(t, a.LicenseExternalID, "name licenses by external id: license ids depend on the order of creation")
				if a.LicenseExternalID == sampleMissingLicenses[s.Name] {
					continue
				}
				require.True(t, licenses[file][ref{a.PlatformKey, a.LicenseExternalID}],
					"%s: %s has no license %q on platform %q", s.Name, file, a.LicenseExternalID, a.PlatformKey)
			}
		})
	}
}

// sampleGoodRows returns the data of a sample's valid rows.
func sampleGoodRows(t *testing.T, name string) []json.RawMessage {
	t.Helper()
	f, err := os.Open(filepath.Join(sampleDir, name))
	require.NoError(t, err)
	defer f.Close()
	r, err := importers.NewReader(f, sampleOptions(name))
	require.NoError(t, err)
	var data []json.RawMessage
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return data
		}
		require.NoError(t, err)
		if row.Err == nil {
			data = append(data, row.Data)
		}
	}
}
