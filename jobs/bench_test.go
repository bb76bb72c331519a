package jobs_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/bulksync/bulksync/jobs"
)

// benchChunk is a chunk of 100 program-license rows as the importer emits
// them.
func benchChunk() jobs.ChunkPayload {
	p := jobs.ChunkPayload{BatchID: "0123456789abcdef0123", Kind: "program-licenses", Chunk: 42}
	for i := range 100 {
		key := fmt.Sprintf("acme-ext-%08d", i)
		data := fmt.Sprintf(`{"platform_key":"acme","platform_org":"acme","program_key":"program-v1:acme+p%03d+2024_T1",`+
			`"name":"Data Science cohort %d","count":%d,"started":"2024-03-01T09:00:00Z","expired":"2025-03-01T00:00:00Z",`+
			`"active":true,"metadata":{"cost_center":"ENG-%04d","contract":"C-2024-%05d","tier":"gold"},`+
			`"enrollment_config":{"auto_enroll":true,"seat_policy":"named"},"source":"hris","external_id":%q}`,
			i%1000, i, 10+i, i, i*7, key)
		p.Rows = append(p.Rows, jobs.ChunkRow{Row: i + 1, Line: i + 2, Key: key, Data: []byte(data)})
	}
	return p
}

// reportPerRow reports ns/row and allocs/row of a benchmark whose
// operation handles rows rows.
func reportPerRow(b *testing.B, rows int, before runtime.MemStats) {
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows*b.N), "ns/row")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(rows*b.N), "allocs/row")
}

// BenchmarkNewChunkTask measures chunk encoding: the payload's JSON and
// its compression, with a ChunkEncoder as the importer uses one.
func BenchmarkNewChunkTask(b *testing.B) {
	p := benchChunk()
	b.ReportAllocs()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	size := 0
	var enc jobs.ChunkEncoder
	for b.Loop() {
		size = len(enc.NewTask(p, "bulksync").Payload())
	}
	reportPerRow(b, len(p.Rows), before)
	b.ReportMetric(float64(size)/float64(len(p.Rows)), "payload-bytes/row")
}

// BenchmarkDecodeChunk measures what a worker does with a payload.
func BenchmarkDecodeChunk(b *testing.B) {
	p := benchChunk()
	task := jobs.NewChunkTask(p, "bulksync")
	b.ReportAllocs()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		if _, err := jobs.DecodeChunk(task); err != nil {
			b.Fatal(err)
		}
	}
	reportPerRow(b, len(p.Rows), before)
}
