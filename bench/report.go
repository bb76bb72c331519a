package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Targets the report checks.
const (
	targetImportVsCSV     = 0.20 // import path rate / raw encoding/csv rate
	targetPeakRSS         = 100e6
	targetImportCmdsRow   = 0.05
	targetVsBaseline      = 0.50 // end-to-end rate / plain-loop rate
	targetFreshReqRow     = 1.1
	targetReimportReqRow  = 0.05
	targetEmbeddedVsRedis = 0.50
)

// environment describes the machine and the Redis the numbers come from.
type environment struct {
	cpus, gomaxprocs int
	cpuModel         string
	goVersion        string
	platform         string
	redisVersion     string
	loadStart        string // /proc/loadavg when the run began
	commit           string // the source measured: HEAD and its uncommitted changes
}

// sourceVersion describes the source tree measured: the HEAD commit and the
// tracked files with uncommitted changes, from read-only git queries.
func sourceVersion() string {
	head, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	out := "commit " + strings.TrimSpace(string(head))
	status, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	if err != nil {
		return out
	}
	var dirty []string
	for line := range strings.SplitSeq(strings.TrimRight(string(status), "\n"), "\n") {
		if len(line) > 3 {
			dirty = append(dirty, strings.TrimSpace(line[3:]))
		}
	}
	if len(dirty) > 0 {
		out += " with uncommitted changes to " + strings.Join(dirty, ", ")
	}
	return out
}

// loadAverage returns the 1, 5 and 15 minute load averages of
// /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func readEnvironment(ctx context.Context, rdb *redis.Client) (environment, error) {
	v, err := redisVersion(ctx, rdb)
	if err != nil {
		return environment{}, fmt.Errorf("redis version: %w", err)
	}
	return environment{
		cpus:         runtime.NumCPU(),
		gomaxprocs:   runtime.GOMAXPROCS(0),
		cpuModel:     cpuModel(),
		goVersion:    runtime.Version(),
		platform:     runtime.GOOS + "/" + runtime.GOARCH,
		redisVersion: v,
		loadStart:    loadAverage(),
		commit:       sourceVersion(),
	}, nil
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// med returns the median of a metric and whether it was measured.
func (b *bench) med(name string) (float64, bool) {
	s, ok := b.samples[name]
	return median(s), ok && len(s) > 0
}

// rate formats a rate metric as its median with its range over runs.
func (b *bench) rate(name string) string {
	s := b.samples[name]
	if len(s) == 0 {
		return "–"
	}
	out := si(median(s))
	if len(s) > 1 {
		out += fmt.Sprintf(" [%s–%s]", si(slices.Min(s)), si(slices.Max(s)))
	}
	return out
}

// num formats a metric's median with format, or "–".
func (b *bench) num(name, format string) string {
	v, ok := b.med(name)
	if !ok {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

// minNum formats a metric's minimum over runs with format, or "–".
func (b *bench) minNum(name, format string) string {
	s := b.samples[name]
	if len(s) == 0 {
		return "–"
	}
	return fmt.Sprintf(format, slices.Min(s))
}

// pct formats a ratio metric's median as a percentage, or "–".
func (b *bench) pct(name string) string {
	v, ok := b.med(name)
	if !ok {
		return "–"
	}
	return percent(v)
}

func percent(v float64) string {
	if v < 0.1 {
		return fmt.Sprintf("%.1f%%", 100*v)
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

// us formats a seconds-per-row metric's median in microseconds, or "–".
func (b *bench) us(name string) string {
	v, ok := b.med(name)
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.1f", v*1e6)
}

// mb formats a byte metric's median in MB (10^6 bytes).
func (b *bench) mb(name string) string {
	v, ok := b.med(name)
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.0f MB", v/1e6)
}

// si formats a rate with three significant digits: 2.91M, 412k, 8.21k, 480.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e5:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// count formats an integer with thousands separators.
func count(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// target is one checked target.
type target struct {
	what     string
	measured string
	pass     bool
}

// report writes the markdown report.
func (b *bench) report(w io.Writer) error {
	o := b.opts
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format+"\n", args...) }
	chunk := "chosen from each file (100 rows from 1,000 rows up, else 10 chunks)"
	if o.chunkSize != 0 {
		chunk = strconv.Itoa(o.chunkSize)
	}
	p("## bulksync benchmarks")
	p("")
	p("- command: `%s`", b.command())
	p("- machine: %d cores (GOMAXPROCS %d)%s, %s, %s; Redis %s at %s, database %d",
		b.env.cpus, b.env.gomaxprocs, optional(", "+b.env.cpuModel, b.env.cpuModel != ""), b.env.platform, b.env.goVersion, b.env.redisVersion, o.redisAddr, o.db)
	p("- source: %s", b.env.commit)
	p("- load average (1/5/15 min) at the start: %s, at the end: %s; other processes on the machine share its cores", b.env.loadStart, loadAverage())
	p("- medians of %d run(s)%s; each ratio is the median of the per-run ratios (both sides measured in the same run)",
		o.runs, optional(", [min–max] beside rates", o.runs > 1))
	p("- worker.Config{Concurrency: %d} (the CLI's default) and as many baseline goroutines; chunk size %s; rows over %d platform(s)",
		o.concurrency, chunk, max(o.platforms, 1))
	p("")

	var targets []target
	if o.only["import"] {
		rows := o.rows
		p("### 1. Import path: %s program-license rows (%.1f MB CSV), %s chunks", count(rows), float64(b.fileBytes[rows])/1e6, count(len(b.plan.sizes)))
		p("")
		p("| measurement | rows/s | peak RSS | Redis cmds/row: server (INFO commandstats), least-polluted run [median] / sent by the client | CPU µs/row (process + Redis server) |")
		p("|---|---:|---:|---:|---:|")
		p("| raw `encoding/csv` streaming read (child process) | %s | %s | – | %s |", b.rate("csv.rate"), b.mb("csv.rss"), b.us("csv.cpu"))
		p("| `ingest.Import`: parse, validate, chunk, enqueue (child process) | %s | %s | %s [%s] / %s | %s + %s |",
			b.rate("import.rate"), b.mb("import.rss"), b.minNum("import.server_cmds", "%.4f"), b.num("import.server_cmds", "%.4f"), b.num("import.client_cmds", "%.4f"),
			b.us("import.cpu"), b.us("import.redis_cpu"))
		p("| raw asynq `Enqueue`, %d goroutines, %s tasks of %.1f KB mean payload | %s (%s tasks/s) | – | %s [%s] / %s | %s + %s |",
			enqueueGoroutines, count(len(b.plan.sizes)), b.plan.meanSize()/1e3, b.rate("enqueue.rate"), si(mustMed(b, "enqueue.task_rate")),
			b.minNum("enqueue.server_cmds", "%.4f"), b.num("enqueue.server_cmds", "%.4f"), b.num("enqueue.client_cmds", "%.4f"), b.us("enqueue.cpu"), b.us("enqueue.redis_cpu"))
		p("")
		p("Peak RSS is the child's ru_maxrss (os.ProcessState.SysUsage); a child that does nothing reports %.0f MB.", float64(b.floorRSS)/1e6)
		p("")
		p("Ratios: `ingest.Import` / `encoding/csv` = **%s**; `ingest.Import` / raw `Enqueue` = **%s**.", b.pct("import.vs_csv"), b.pct("import.vs_enqueue"))
		p("")
		if chunks := len(b.plan.sizes); chunks > 0 && b.importCmds != nil {
			var parts []string
			var rest int64
			for _, name := range slices.Sorted(maps.Keys(b.importCmds)) {
				if n := b.importCmds[name]; float64(n)/float64(chunks) >= 0.005 {
					parts = append(parts, fmt.Sprintf("%s %.2f", name, float64(n)/float64(chunks)))
				} else {
					rest += n
				}
			}
			if rest > 0 {
				parts = append(parts, fmt.Sprintf("others (batch create, start, connections) %d in all", rest))
			}
			p("Redis commands of the import (least-polluted run) per chunk, Lua scripts' inner commands included: %s; total %.2f per chunk. INFO commandstats counts every client of the server, so other processes using it can only add to these counts; the target is checked on the least-polluted run.", strings.Join(parts, ", "), float64(b.importCmds.total())/float64(chunks))
			p("")
		}
		v, _ := b.med("import.vs_csv")
		targets = append(targets, target{fmt.Sprintf("import path ≥ %s of the raw encoding/csv rate", percent(targetImportVsCSV)), percent(v), v >= targetImportVsCSV})
		v, _ = b.med("import.rss")
		targets = append(targets, target{"import path peak RSS ≤ 100 MB", fmt.Sprintf("%.0f MB", v/1e6), v <= targetPeakRSS})
		v = slices.Min(b.samples["import.server_cmds"])
		targets = append(targets, target{fmt.Sprintf("≤ %.2f Redis commands per row on the import path (INFO commandstats, least-polluted run)", targetImportCmdsRow), fmt.Sprintf("%.5f", v), v <= targetImportCmdsRow})
	}

	var ran []scenario
	for _, sc := range b.scenarios() {
		if o.only[sc.section] {
			ran = append(ran, sc)
		}
	}
	if len(ran) > 0 {
		p("### 2–4. End to end: ingest + in-process worker.Worker + sandbox over loopback HTTP")
		p("")
		p("| scenario | rows | bulksync fresh rows/s | API req/row | Redis cmds/row (server / client) | unchanged re-import rows/s | API req/row | plain-loop baseline rows/s | API req/row | bulksync / baseline |")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, sc := range ran {
			n := sc.spec.name
			again, againReq, base, baseReq, ratio := "–", "–", "–", "–", "–"
			if sc.spec.reimport {
				again, againReq = b.rate(n+".again.rate"), b.num(n+".again.req", "%.4f")
			}
			if sc.baseline {
				base, baseReq, ratio = b.rate(n+".baseline.rate"), b.num(n+".baseline.req", "%.3f"), "**"+b.pct(n+".vs_baseline")+"**"
			}
			if sc.section == "embedded" {
				ratio = "embedded / real Redis: **" + b.pct("embedded.vs_real") + "**"
			}
			p("| %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s |", sc.label, count(sc.spec.rows),
				b.rate(n+".fresh.rate"), b.num(n+".fresh.req", "%.3f"),
				b.num(n+".fresh.server_cmds", "%.3f"), b.num(n+".fresh.client_cmds", "%.3f"),
				again, againReq, base, baseReq, ratio)
		}
		p("")
		p("CPU per row of the same runs (µs, this process + the Redis server; the process holds the sandbox, the worker and ingest, and miniredis when embedded). On a CPU-bound machine, baseline CPU / bulksync CPU predicts the rate ratio without the noise of other processes:")
		p("")
		p("| scenario | bulksync fresh | unchanged re-import | plain-loop baseline | baseline CPU / bulksync CPU |")
		p("|---|---:|---:|---:|---:|")
		for _, sc := range ran {
			n := sc.spec.name
			fresh := b.us(n+".fresh.cpu") + optional(" + "+b.us(n+".fresh.redis_cpu"), !sc.spec.embedded)
			again, base, ratio := "–", "–", "–"
			if sc.spec.reimport {
				again = b.us(n+".again.cpu") + " + " + b.us(n+".again.redis_cpu")
			}
			if sc.baseline {
				base = b.us(n + ".baseline.cpu")
				bc, _ := b.med(n + ".baseline.cpu")
				fc, _ := b.med(n + ".fresh.cpu")
				fr, _ := b.med(n + ".fresh.redis_cpu")
				if fc+fr > 0 {
					ratio = percent(bc / (fc + fr))
				}
			}
			p("| %s | %s | %s | %s | %s |", sc.label, fresh, again, base, ratio)
		}
		p("")
		p("The latency and fault runs use fewer rows (-latency-rows, -fault-rows) to keep the whole run short; the embedded run's \"server\" column is empty (miniredis has no INFO commandstats).")
		p("")
		for _, sc := range ran {
			n := sc.spec.name
			if sc.baseline {
				v, _ := b.med(n + ".vs_baseline")
				targets = append(targets, target{fmt.Sprintf("end to end ≥ %s of the plain-loop baseline (%s)", percent(targetVsBaseline), sc.label), percent(v), v >= targetVsBaseline})
			}
			if v, ok := b.med(n + ".fresh.req"); ok {
				if sc.section == "faults" {
					p("With %.0f%% of requests failing, a fresh import cannot go below 1/(1−%.2f) = %.3f requests per row; its requests per row are shown but not checked against %.1f.", 100*o.failRate, o.failRate, 1/(1-o.failRate), targetFreshReqRow)
					p("")
				} else {
					targets = append(targets, target{fmt.Sprintf("API requests per row ≤ %.1f, fresh (%s)", targetFreshReqRow, sc.label), fmt.Sprintf("%.3f", v), v <= targetFreshReqRow})
				}
			}
			if v, ok := b.med(n + ".again.req"); ok {
				targets = append(targets, target{fmt.Sprintf("API requests per row ≤ %.2f, unchanged re-import (%s)", targetReimportReqRow, sc.label), fmt.Sprintf("%.4f", v), v <= targetReimportReqRow})
			}
			if sc.section == "embedded" {
				v, _ := b.med("embedded.vs_real")
				targets = append(targets, target{fmt.Sprintf("embedded ≥ %s of the real-Redis end-to-end rate", percent(targetEmbeddedVsRedis)), percent(v), v >= targetEmbeddedVsRedis})
			}
		}
	}

	p("### Targets")
	p("")
	p("| target | measured (median) | result |")
	p("|---|---:|---|")
	for _, t := range targets {
		res := "MISS"
		if t.pass {
			res = "PASS"
		}
		p("| %s | %s | **%s** |", t.what, t.measured, res)
	}
	return bw.Flush()
}

// mustMed returns a metric's median, or 0.
func mustMed(b *bench, name string) float64 {
	v, _ := b.med(name)
	return v
}

// optional returns s when ok, else "".
func optional(s string, ok bool) string {
	if ok {
		return s
	}
	return ""
}

// command reconstructs the command line for the report.
func (b *bench) command() string {
	args := []string{"go run ./bench"}
	args = append(args, os.Args[1:]...)
	return strings.Join(args, " ")
}
