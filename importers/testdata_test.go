package importers_test

import (
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

// badSamples is, for each testdata/*-bad.* file, the line of every bad row
// and its error code, read with the default options. testdata/README.md
// shows the same table: change both together.
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
}

// sampleCodes are the row error codes a bad sample of each format must
// show. Left out: field_too_large (it needs a value over 1 MiB with the
// default limits), invalid_value (no field has a set of allowed values
// yet), unknown_field in CSV (an unknown column is a file error),
// malformed_json in an array (a broken object ends the file with
// ErrSyntax), and the codes of the other format.
var sampleCodes = map[string][]string{
	".csv": {
		"missing_field", "invalid_integer", "out_of_range", "invalid_boolean", "invalid_datetime",
		"invalid_object", "invalid_utf8", "expired_before_started", "duplicate_external_id",
		"wrong_field_count", "malformed_csv",
	},
	".json": {
		"missing_field", "unknown_field", "invalid_integer", "out_of_range", "invalid_boolean",
		"invalid_datetime", "invalid_object", "invalid_type", "invalid_utf8", "expired_before_started",
		"duplicate_external_id", "not_an_object",
	},
}

func TestSampleFiles(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join(sampleDir, "*"))
	require.NoError(t, err)
	var samples []string
	for _, p := range paths {
		switch filepath.Ext(p) {
		case ".csv", ".json", ".ndjson":
			samples = append(samples, filepath.Base(p))
		}
	}
	require.GreaterOrEqual(t, len(samples), 7, "samples: %v", samples)
	for name := range badSamples {
		require.Contains(t, samples, name, "a bad sample in the table is missing")
	}

	for _, name := range samples {
		t.Run(strings.ReplaceAll(name, ".", "_"), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join(sampleDir, name))
			require.NoError(t, err)
			rows, err := readRows(t, string(b), importers.Options{})
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

			if !strings.Contains(name, "-bad.") {
				require.Empty(t, gotBad, "a good sample has bad rows")
				return
			}
			want, ok := badSamples[name]
			require.True(t, ok, "add %s to badSamples and testdata/README.md", name)
			require.Equal(t, want, gotBad)

			var codes []string
			for _, code := range gotBad {
				codes = append(codes, strings.SplitN(code, ":", 2)[0])
			}
			for _, code := range sampleCodes[filepath.Ext(name)] {
				require.True(t, slices.Contains(codes, code), "%s has no row with %s", name, code)
			}
		})
	}
}

// TestSampleKinds checks that each sample's kind is told from its
// content, as the README examples rely on.
func TestSampleKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		Name string
		Kind importers.Kind
	}{
		{"program-licenses.csv", importers.ProgramLicenses},
		{"program-licenses.json", importers.ProgramLicenses},
		{"program-licenses-bad.csv", importers.ProgramLicenses},
		{"program-licenses-bad.json", importers.ProgramLicenses},
		{"user-licenses.csv", importers.UserLicenses},
		{"user-licenses.ndjson", importers.UserLicenses},
		{"user-licenses-bad.csv", importers.UserLicenses},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.Name, ".", "_"), func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(filepath.Join(sampleDir, tt.Name))
			require.NoError(t, err)
			defer f.Close()
			r, err := importers.NewReader(f, importers.Options{})
			require.NoError(t, err)
			require.Equal(t, tt.Kind, r.Schema().Kind)
		})
	}
}
