package importers_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/bulksync/bulksync/importers"
)

// TestReaderCSVLineBreaksInCells checks that a line break inside a quoted
// cell is kept as written ("\r\n" or "\n"), whatever the other lines end
// with and however the input is cut into reads.
func TestReaderCSVLineBreaksInCells(t *testing.T) {
	t.Parallel()
	const header = "platform_key,name,external_id\n"
	var (
		longCell    strings.Builder // 200 lines, alternately CRLF and LF
		manyRecords strings.Builder // 300 records, CRLF in every third cell
		manyCells   []string
	)
	for i := range 200 {
		longCell.WriteString("l")
		if i%2 == 0 {
			longCell.WriteString("\r")
		}
		longCell.WriteString("\n")
	}
	manyRecords.WriteString(header)
	for i := range 300 {
		name := "first\nsecond"
		if i%3 == 0 {
			name = "first\r\nsecond"
		}
		manyCells = append(manyCells, "acme|"+name+"|k"+strings.Repeat("x", i))
		manyRecords.WriteString("acme,\"" + name + "\",k" + strings.Repeat("x", i) + "\r\n")
	}
	tests := []struct {
		Name  string
		Input string
		Cells []string // the cells of each record, joined by "|"
		Lines []int
	}{
		{
			Name:  "LF",
			Input: header + "acme,\"a\nb\",k1\nacme,plain,k2\n",
			Cells: []string{"acme|a\nb|k1", "acme|plain|k2"},
			Lines: []int{2, 4},
		},
		{
			Name:  "CRLF",
			Input: strings.ReplaceAll(header+"acme,\"a\nb\n\nc\",k1\nacme,plain,k2\n", "\n", "\r\n"),
			Cells: []string{"acme|a\r\nb\r\n\r\nc|k1", "acme|plain|k2"},
			Lines: []int{2, 6},
		},
		{
			Name:  "MixedInOneCell",
			Input: header + "acme,\"a\r\nb\nc\r\nd\",k1\r\nacme,\"e\nf\",k2\n",
			Cells: []string{"acme|a\r\nb\nc\r\nd|k1", "acme|e\nf|k2"},
			Lines: []int{2, 6},
		},
		{
			Name:  "CarriageReturnsNotBeforeANewline",
			Input: header + "acme,\"a\rb\r\r\nc\",k1\n",
			Cells: []string{"acme|a\rb\r\r\nc|k1"},
			Lines: []int{2},
		},
		{
			Name:  "SeveralCellsOfOneRecord",
			Input: "platform_key,name,source,external_id\r\nacme,\"a\r\nb\",\"c\nd\r\ne\",k1\r\n",
			Cells: []string{"acme|a\r\nb|c\nd\r\ne|k1"},
			Lines: []int{2},
		},
		{
			Name:  "LongCell",
			Input: header + "acme,\"" + longCell.String() + "\",k1\nacme,\"x\r\ny\",k2\n",
			Cells: []string{"acme|" + longCell.String() + "|k1", "acme|x\r\ny|k2"},
			Lines: []int{2, 203},
		},
		{
			Name:  "ManyRecords",
			Input: manyRecords.String(),
			Cells: manyCells,
		},
		{
			Name:  "CarriageReturnAtTheEnd",
			Input: header + "acme,\"x\r\ny\",k1\r",
			Cells: []string{"acme|x\r\ny|k1"},
			Lines: []int{2},
		},
	}
	readers := map[string]func(string) io.Reader{
		"Whole":   func(s string) io.Reader { return strings.NewReader(s) },
		"OneByte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
	}
	for _, tt := range tests {
		for how, reader := range readers {
			t.Run(tt.Name+how, func(t *testing.T) {
				t.Parallel()
				r, err := importers.NewReader(reader(tt.Input), importers.Options{Kind: importers.UserLicenses})
				require.NoError(t, err)
				var records []string
				var lines []int
				for {
					row, err := r.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					require.NoError(t, err)
					require.Nil(t, row.Err)
					cells, _ := r.Raw()
					records = append(records, strings.Join(cells, "|"))
					lines = append(lines, row.Line)
				}
				require.Equal(t, tt.Cells, records)
				if tt.Lines != nil {
					require.Equal(t, tt.Lines, lines)
				}
			})
		}
	}
}
