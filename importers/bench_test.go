package importers_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/bulksync/bulksync/importers"
)

// benchRows is the size of the benchmark files.
const benchRows = 10_000

// benchProgramLicense is the i-th row of a generated program-licenses
// file: every field set, dates in two forms, a metadata object.
func benchProgramLicense(i int) map[string]any {
	org := []string{"acme", "globex", "initech", "umbrella"}[i%4]
	started := fmt.Sprintf("2024-%02d-%02d", 1+i%12, 1+i%28)
	if i%2 == 1 {
		started += "T09:00:00Z"
	}
	return map[string]any{
		"platform_key":      org,
		"platform_org":      org,
		"program_key":       fmt.Sprintf("program-v1:%s+course-%d+2024", org, i%50),
		"name":              fmt.Sprintf("Course %d – cohort %d", i%50, i),
		"count":             10 + i%500,
		"started":           started,
		"expired":           fmt.Sprintf("2025-%02d-%02dT00:00:00Z", 1+i%12, 1+i%28),
		"active":            i%3 != 0,
		"metadata":          map[string]any{"cost_center": fmt.Sprintf("ENG-%d", i%100), "tier": "gold"},
		"enrollment_config": map[string]any{"auto_enroll": true},
		"source":            "hris",
		"external_id":       fmt.Sprintf("%s-course-%d", org, i),
	}
}

var benchFields = []string{
	"platform_key", "platform_org", "program_key", "name", "count", "started",
	"expired", "active", "metadata", "enrollment_config", "source", "external_id",
}

// benchCSV is a program-licenses CSV file of n rows, with CRLF line ends
// when crlf is set.
func benchCSV(n int, crlf bool) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.UseCRLF = crlf
	_ = w.Write(benchFields)
	for i := range n {
		r := benchProgramLicense(i)
		rec := make([]string, len(benchFields))
		for j, f := range benchFields {
			switch v := r[f].(type) {
			case map[string]any:
				obj, _ := json.Marshal(v)
				rec[j] = string(obj)
			default:
				rec[j] = fmt.Sprint(v)
			}
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return b.Bytes()
}

// benchJSON is a pretty-printed JSON array of n program licenses.
func benchJSON(n int) []byte {
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = benchProgramLicense(i)
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// benchRead reads in to its end with Next (or with Skip alone: the first
// pass of an import) and reports rows/s, ns/row and allocs/row.
func benchRead(b *testing.B, in []byte, skip bool) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		r, err := importers.NewReader(bytes.NewReader(in), importers.Options{})
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			if skip {
				err = r.Skip()
			} else {
				var row importers.Row
				row, err = r.Next()
				if err == nil && row.Err != nil {
					b.Fatalf("line %d: %v", row.Line, row.Err)
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows++
		}
		if rows != benchRows {
			b.Fatalf("%d rows, want %d", rows, benchRows)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(benchRows*b.N), "ns/row")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(benchRows*b.N), "allocs/row")
}

func BenchmarkReaderCSV(b *testing.B) { benchRead(b, benchCSV(benchRows, false), false) }

// BenchmarkReaderCSVCRLF is BenchmarkReaderCSV with CRLF line ends, whose
// lines the reader tracks to keep the line breaks of quoted cells.
func BenchmarkReaderCSVCRLF(b *testing.B) { benchRead(b, benchCSV(benchRows, true), false) }

func BenchmarkReaderCSVSkip(b *testing.B) { benchRead(b, benchCSV(benchRows, false), true) }

func BenchmarkReaderJSON(b *testing.B) { benchRead(b, benchJSON(benchRows), false) }

func BenchmarkReaderJSONSkip(b *testing.B) { benchRead(b, benchJSON(benchRows), true) }
