package importers_test

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulksync/bulksync/importers"
)

// TestReaderCSVMalformedDetail checks the explanation of malformed_csv
// rows: a quoted cell left open mid-file says that the rest of the file
// was read into it, from which line.
func TestReaderCSVMalformedDetail(t *testing.T) {
	t.Parallel()
	const ada = "acme,Ada,1,,,,,u1\n"
	tests := []struct {
		Name   string
		Input  string
		Line   int    // of the malformed row
		Detail string // the whole detail, or its start when Rest is set
		Rest   string // the end of the detail
		Good   int    // good rows
	}{
		{
			Name:   "OpenMidFile",
			Input:  userCSV + ada + "acme,\"Never closed,1,,,,,u2\nacme,Swallowed,1,,,,,u3\nacme,Also,1,,,,,u4\n",
			Line:   3,
			Detail: "the quoted cell that starts on line 3 is not closed",
			Rest:   "so the rest of the file, from line 4 to line 5, was read as part of that cell",
			Good:   1,
		},
		{
			Name:   "OpenMidFileCRLF",
			Input:  strings.ReplaceAll(userCSV+ada+"acme,\"Never closed,1,,,,,u2\nacme,Swallowed,1,,,,,u3\n", "\n", "\r\n"),
			Line:   3,
			Detail: "the quoted cell that starts on line 3 is not closed",
			Rest:   "from line 4 to line 4, was read as part of that cell",
			Good:   1,
		},
		{
			Name:   "OpenAfterAMultiLineCell",
			Input:  userCSV + "acme,\"two\nlines\",1,,,,\"{\"\"a\"\": 1,u1\n" + ada + ada,
			Line:   2,
			Detail: "the quoted cell that starts on line 3 is not closed",
			Rest:   "from line 4 to line 5, was read as part of that cell",
		},
		{
			Name:   "OpenOnTheLastLine",
			Input:  userCSV + ada + "acme,\"Never closed,1,,,,,u2\n",
			Line:   3,
			Detail: `extraneous or missing " in quoted-field`,
			Good:   1,
		},
		{
			Name:   "StrayQuoteAfterAClosingOne",
			Input:  userCSV + "acme,\"Quoted\"tail,1,,,,,u2\n" + ada,
			Line:   2,
			Detail: `extraneous or missing " in quoted-field`,
			Good:   1,
		},
		{
			Name:   "BareQuote",
			Input:  userCSV + "acme,The \"Analytical\" Engine,1,,,,,u2\n" + ada,
			Line:   2,
			Detail: `bare " in non-quoted-field`,
			Good:   1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			r, err := importers.NewReader(strings.NewReader(tt.Input), importers.Options{})
			require.NoError(t, err)
			var bad []*importers.RowError
			valid := 0
			for {
				row, err := r.Next()
				if err != nil {
					require.ErrorIs(t, err, io.EOF)
					break
				}
				if row.Err == nil {
					valid++
					continue
				}
				bad = append(bad, row.Err)
			}
			require.Len(t, bad, 1)
			require.Equal(t, tt.Good, valid)
			require.Equal(t, "malformed_csv", bad[0].Code())
			require.Equal(t, tt.Line, bad[0].Line)
			if tt.Rest == "" {
				require.Equal(t, tt.Detail, bad[0].Detail)
				return
			}
			require.True(t, strings.HasPrefix(bad[0].Detail, tt.Detail), bad[0].Detail)
			require.True(t, strings.HasSuffix(bad[0].Detail, tt.Rest), bad[0].Detail)
		})
	}
}
