package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/report"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/klauspost/compress/s2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

// The secrets of TestSecretsNeverLeak. They are distinctive, and all hold
// "-SECRET-", which no output holds otherwise (UIPATH_CLIENT_SECRET is
// named in messages): a part of one is found too.
const (
	leakToken        = "tok-SECRET-4242" // BULKSYNC_API_TOKEN
	leakClientSecret = "uip-SECRET-77"   // UIPATH_CLIENT_SECRET
	leakPassword     = "pw-SECRET-99"    // UIPATH_PASSWORD
	leakRedisPass    = "rds-SECRET-31"   // the password in a REDIS_URL
	leakURLPass      = "url-SECRET-55"   // a password in BULKSYNC_API_URL
)

var leakSecrets = []string{leakToken, leakClientSecret, leakPassword, leakRedisPass, leakURLPass}

// leakDB is the Redis database of TestSecretsNeverLeak's worker-process
// runs: ingest, jobs, worker and report tests use 10, 11, 13 and 14,
// TestWorkerProcessMode 12 and bench 15. The runs share it one at a time
// (leakDBMu), each flushing it before and after: bulksync's queue and keys
// have no per-test namespace the CLI could set.
const leakDB = 9

var leakDBMu sync.Mutex

// TestSecretsNeverLeak runs the CLI in-process with distinctive secrets in
// every scenario that writes something (good and bad files, a refused
// token, API faults, UiPath's two grants and their refusal, worker
// processes, the sandbox command, help and bad settings) and checks that no
// stdout, stderr, log, written file, sandbox stats or value kept in Redis
// holds a secret, raw or encoded (base64 as in an Authorization header,
// hex, URL-escaped).
//
// Each scenario runs in two modes: "embedded" (no REDIS_URL: an in-process
// Redis and in-process workers logging to import's stderr) and "redis"
// (REDIS_URL on database leakDB, a `bulksync worker` beside each import,
// then `bulksync report` of the batch, then every key of the database).
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	const (
		good     = "../../testdata/program-licenses.csv"
		bad      = "../../testdata/program-licenses-bad.csv"
		uipathIn = "../../testdata/uipath-group-licenses.csv"
	)
	// outputs are the report flags of a scenario's main import.
	outputs := func(h *leakHarness, name string) []string {
		return []string{
			"--summary", h.path(name + "-summary.json"),
			"--results", h.path(name + "-results.csv"),
			"--failed", h.path(name + "-failed.csv"),
		}
	}
	faults := func(status string) func(h *leakHarness) {
		return func(h *leakHarness) {
			fs, err := sandbox.ParseFailStatus(status)
			require.NoError(h.t, err)
			cfg := sandbox.Config{Token: leakToken, FailStatus: fs, Seed: 42}
			if h.redis {
				// Every request fails: rows run out of their two attempts.
				cfg.FailRate = 1
			} else {
				// import has no --max-attempts: faults the retries outlive.
				cfg.FailRate, cfg.FailAfterWrite = 0.3, 0.2
			}
			sb, api := h.sandbox(cfg)
			// The API is down for good: the rows fail once their retry
			// budget is spent.
			code, sum := h.imp("faults", h.env(api), []string{"--max-attempts", "2", "--retry-for", "2s"},
				append([]string{good, "--chunk-size", "1", "--concurrency", "5"}, outputs(h, "faults")...)...)
			require.Contains(h.t, []int{exitOK, exitFailed}, code)
			require.Positive(h.t, sb.Stats().Faults, "the sandbox injected faults")
			if h.redis {
				require.Equal(h.t, exitFailed, code)
				require.Equal(h.t, 5, sum.Failed, "every row ran out of attempts: %+v", sum)
				b, err := os.ReadFile(h.path("faults-results.csv"))
				require.NoError(h.t, err)
				require.Contains(h.t, string(b), "retries exhausted", "the results hold the retry errors")
			}
		}
	}
	uipathRun := func(sbCfg sandbox.UiPathConfig, want int, kv ...string) func(h *leakHarness) {
		return func(h *leakHarness) {
			sb, api := h.sandbox(sandbox.Config{Token: leakToken, UiPath: sbCfg})
			env := h.env(api, append([]string{"UIPATH_URL", api, "UIPATH_ORG", "acme-org"}, kv...)...)
			code, sum := h.imp("uipath", env, nil, append([]string{uipathIn}, outputs(h, "uipath")...)...)
			require.Equal(h.t, want, code)
			if want == exitOK {
				require.Equal(h.t, 5, sum.Successes)
				require.Equal(h.t, 5, sb.Stats().UiPathGroupAllocations)
			} else {
				require.Equal(h.t, "halted", sum.State, "a refused credential halts the batch")
				require.NotEmpty(h.t, sum.HaltReason)
				require.Zero(h.t, sb.Stats().UiPathGroupAllocations)
			}
		}
	}
	const (
		embedded = 1 << iota
		redisMode
		both = embedded | redisMode
	)
	for _, sc := range []struct {
		name  string
		modes int
		run   func(h *leakHarness)
	}{
		{"GoodFile", both, func(h *leakHarness) {
			sb, api := h.sandbox(sandbox.Config{Token: leakToken})
			env := h.env(api)
			code, sum := h.imp("good", env, nil, append([]string{good}, outputs(h, "good")...)...)
			require.Equal(h.t, exitOK, code)
			require.Equal(h.t, 5, sum.Successes)
			code, _ = h.imp("good-again", env, nil, good, "--new-batch", "--results", h.path("good-again-results.jsonl"))
			require.Equal(h.t, exitOK, code)
			require.Equal(h.t, 5, sb.Stats().ProgramLicenses)
		}},
		{"BadRows", both, func(h *leakHarness) {
			_, api := h.sandbox(sandbox.Config{Token: leakToken})
			env := h.env(api)
			code, sum := h.imp("bad", env, nil, append([]string{bad}, outputs(h, "bad")...)...)
			require.Equal(h.t, exitFailed, code)
			require.Positive(h.t, sum.Failed)
			require.FileExists(h.t, h.path("bad-failed.csv"))
			code, _ = h.imp("bad-again", env, nil, bad, "--new-batch", "--results", h.path("bad-again-results.jsonl"))
			require.Equal(h.t, exitFailed, code)
		}},
		{"CredentialsInAPIURL", both, func(h *leakHarness) {
			sb, api := h.sandbox(sandbox.Config{Token: leakToken})
			env := h.env(strings.Replace(api, "http://", "http://ops:"+leakURLPass+"@", 1))
			code, sum := h.imp("url-creds", env, nil, append([]string{good}, outputs(h, "url-creds")...)...)
			require.Equal(h.t, exitOK, code)
			require.Equal(h.t, 5, sum.Successes)
			require.Equal(h.t, 5, sb.Stats().ProgramLicenses)
		}},
		{"DryRun", both, func(h *leakHarness) {
			_, api := h.sandbox(sandbox.Config{Token: leakToken})
			env := h.env(api)
			code, _ := h.imp("seed", env, nil, good)
			require.Equal(h.t, exitOK, code)
			code, sum := h.imp("plan", env, nil, append([]string{bad, "--dry-run"}, outputs(h, "plan")...)...)
			require.Equal(h.t, exitFailed, code)
			require.True(h.t, sum.DryRun)
		}},
		{"WrongToken", both, func(h *leakHarness) {
			sb, api := h.sandbox(sandbox.Config{Token: "tok-expected-0000"})
			code, sum := h.imp("wrong-token", h.env(api), nil, append([]string{good}, outputs(h, "wrong-token")...)...)
			require.Equal(h.t, exitFailed, code)
			require.Equal(h.t, "halted", sum.State, "a 401 halts the batch")
			require.NotEmpty(h.t, sum.HaltReason)
			require.Contains(h.t, h.find("wrong-token: import: stderr"), "halted")
			require.Zero(h.t, sb.Stats().ProgramLicenses)
		}},
		{"Faults503", both, faults("503")},
		{"Faults429", both, faults("429")},
		{"Faults500", both, faults("500")},
		{"FaultsReset", both, faults("reset")},
		{"UiPathClientCredentials", both, uipathRun(
			sandbox.UiPathConfig{ClientID: "bulksync-app", ClientSecret: leakClientSecret}, exitOK,
			"UIPATH_CLIENT_ID", "bulksync-app", "UIPATH_CLIENT_SECRET", leakClientSecret)},
		{"UiPathClientCredentialsRefused", both, uipathRun(
			sandbox.UiPathConfig{ClientID: "bulksync-app", ClientSecret: "uip-expected-00"}, exitFailed,
			"UIPATH_CLIENT_ID", "bulksync-app", "UIPATH_CLIENT_SECRET", leakClientSecret)},
		{"UiPathPassword", both, uipathRun(
			sandbox.UiPathConfig{Username: "rpa-admin", Password: leakPassword}, exitOK,
			"UIPATH_USERNAME", "rpa-admin", "UIPATH_PASSWORD", leakPassword, "UIPATH_TENANT", "DefaultTenant")},
		{"UiPathPasswordRefused", both, uipathRun(
			sandbox.UiPathConfig{Username: "rpa-admin", Password: "pw-expected-00"}, exitFailed,
			"UIPATH_USERNAME", "rpa-admin", "UIPATH_PASSWORD", leakPassword, "UIPATH_TENANT", "DefaultTenant")},
		{"SandboxCommand", both, func(h *leakHarness) {
			api := h.sandboxCmd("sandbox", nil, "--token", leakToken, "--fail-rate", "0.2", "--seed", "7", "--latency", "1ms")
			code, sum := h.imp("good", h.env(api), nil, append([]string{good}, outputs(h, "good")...)...)
			require.Equal(h.t, exitOK, code)
			require.Equal(h.t, 5, sum.Successes)
			// The token from BULKSYNC_API_TOKEN rather than --token.
			h.sandboxCmd("sandbox-env-token", map[string]string{"BULKSYNC_API_TOKEN": leakToken, "BULKSYNC_LOG": "debug"})
		}},
		{"WorkerProcesses", redisMode, func(h *leakHarness) {
			sb, api := h.sandbox(sandbox.Config{Token: leakToken})
			env := h.env(api)
			code, out, _ := h.cli("detach", env, "import", "--detach", good)
			require.Equal(h.t, exitOK, code)
			id := strings.TrimSpace(out)
			require.Len(h.t, id, 20)
			code, _, _ = h.cli("report-before", env, "report", id, "--summary", h.path("before-summary.json"), "--results", h.path("before-results.csv"))
			require.Equal(h.t, exitFailed, code, "no row done yet")
			require.Positive(h.t, h.dumpRedis("queued"), "the queued chunks' payloads were read")

			stop := h.worker("worker", env, "--concurrency", "4")
			code, _, errs := h.cli("wait", env, "import", good)
			require.Equal(h.t, exitOK, code)
			require.Contains(h.t, errs, "imported before")
			stop()
			require.Equal(h.t, 5, sb.Stats().ProgramLicenses)
			code, _, _ = h.cli("report-after", env, "report", id, "--summary", h.path("after-summary.json"), "--results", h.path("after-results.jsonl"))
			require.Equal(h.t, exitOK, code)
		}},
		{"Help", embedded, func(h *leakHarness) {
			env := h.env("http://127.0.0.1:1")
			for _, args := range [][]string{{"sandbox", "-h"}, {"import", "-h"}, {"worker", "-h"}, {"report", "-h"}, {}, {"help"}} {
				code := h.process(strings.Join(append([]string{"bulksync"}, args...), " "), env, args...)
				require.Contains(h.t, []int{exitOK, exitUsage}, code)
			}
			require.Contains(h.t, h.find("bulksync sandbox -h: stderr"), "-token", "the help was captured")
		}},
		{"BadSettings", embedded, func(h *leakHarness) {
			env := h.env("http://127.0.0.1:1",
				"UIPATH_URL", "ftp://uipath.example", "UIPATH_CLIENT_ID", "bulksync-app", "UIPATH_CLIENT_SECRET", leakClientSecret,
				"UIPATH_USERNAME", "rpa-admin", "UIPATH_PASSWORD", leakPassword)
			busy, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(h.t, err)
			defer busy.Close()
			with := func(k, v string) map[string]string {
				e := maps.Clone(env)
				e[k] = v
				return e
			}
			for _, tc := range []struct {
				name string
				env  map[string]string
				args []string
				want int
			}{
				{"malformed REDIS_URL import", with("REDIS_URL", "redis://:"+leakRedisPass+"@127.0.0.1:notaport/9"), []string{"import", good}, exitUsage},
				{"malformed REDIS_URL worker", with("REDIS_URL", "redis://bulksync:"+leakRedisPass+"@[::1/9"), []string{"worker"}, exitUsage},
				{"malformed REDIS_URL report", with("REDIS_URL", "redis://:"+leakRedisPass+"@127.0.0.1:notaport/9"), []string{"report", "0123456789abcdef0123"}, exitUsage},
				{"REDIS_URL password", with("REDIS_URL", fmt.Sprintf("redis://:%s@127.0.0.1:6379/%d", leakRedisPass, leakDB)), []string{"report", "0123456789abcdef0123"}, exitUsage},
				{"bad UIPATH_URL", with("REDIS_URL", fmt.Sprintf("redis://127.0.0.1:6379/%d", leakDB)), []string{"worker"}, exitUsage},
				{"sandbox bad flag", env, []string{"sandbox", "--fail-status", "nope"}, exitUsage},
				{"sandbox busy port", env, []string{"sandbox", "--addr", busy.Addr().String()}, exitRuntime},
			} {
				code, _, errs := h.cli(tc.name, tc.env, tc.args...)
				require.Equal(h.t, tc.want, code, errs)
				require.NotEmpty(h.t, errs, "the error is on stderr")
			}
		}},
	} {
		for _, mode := range []int{embedded, redisMode} {
			if sc.modes&mode == 0 {
				continue
			}
			name := "embedded/" + sc.name
			if mode == redisMode {
				name = "redis/" + sc.name
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := newLeakHarness(t, mode == redisMode)
				sc.run(h)
				h.finish()
			})
		}
	}
}

// TestSecretsHelperProcess is not a test: TestSecretsNeverLeak's Help
// scenario runs the test binary again with it to run a command as a process
// of its own, whose os.Stderr (where flag help goes) can be read.
func TestSecretsHelperProcess(t *testing.T) {
	if os.Getenv("BULKSYNC_SECRETS_HELPER") != "1" {
		t.Skip("the helper process of TestSecretsNeverLeak")
	}
	args := os.Args[slices.Index(os.Args, "--")+1:]
	os.Exit(run(context.Background(), args, os.Stdout, os.Stderr, os.Getenv))
}

// TestLeakNeedles checks that the needles of TestSecretsNeverLeak find a
// secret in the forms it could leak in.
func TestLeakNeedles(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"Authorization: Api-Token " + leakToken,
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("bulksync-app:"+leakClientSecret)),
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("rpa-admin:"+leakPassword)),
		"x" + base64.RawURLEncoding.EncodeToString([]byte("ab"+leakToken+"cd")),
		"hex " + hex.EncodeToString([]byte(`{"Password":"`+leakPassword+`"}`)),
		"client_secret=" + url.QueryEscape(leakClientSecret) + "&scope=x",
		"redis://:…" + leakRedisPass[2:] + "@",
	} {
		require.NotEmpty(t, leaksIn([]byte(s)), "%q", s)
	}
	require.Empty(t, leaksIn([]byte("Authorization: Api-Token tok-expected-0000 "+base64.StdEncoding.EncodeToString([]byte("tok-expected-0000")))))
}

// leakNeedles are what finds a secret: each secret, "-SECRET-" (a part of
// one), their hex and URL-escaped forms, and for every alignment of a secret
// in a longer text, the part of that text's base64 (standard or URL) that
// depends on the secret's bytes alone.
var leakNeedles = func() []string {
	needles := []string{"-SECRET-"}
	for _, s := range leakSecrets {
		needles = append(needles, s, url.QueryEscape(s), url.PathEscape(s), hex.EncodeToString([]byte(s)))
		for pad := range 3 {
			in := strings.Repeat("\x00", pad) + s
			first := (pad + 2) / 3     // the first 3-byte group within the secret
			last := (pad+len(s))/3 - 1 // the last one
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
				out := enc.EncodeToString([]byte(in))
				needles = append(needles, out[4*first:4*(last+1)])
			}
		}
	}
	slices.Sort(needles)
	return slices.Compact(needles)
}()

// leaksIn returns the needles found in b.
func leaksIn(b []byte) []string {
	var found []string
	for _, n := range leakNeedles {
		if bytes.Contains(b, []byte(n)) {
			found = append(found, n)
		}
	}
	return found
}

// leakHarness runs one scenario and collects everything it writes.
type leakHarness struct {
	t     *testing.T
	dir   string // the files the scenario writes
	redis bool   // worker-process mode, on database leakDB
	rdb   *redis.Client

	mu    sync.Mutex
	blobs []leakBlob
	stats []func() // fetch a sandbox's stats
	stops []func() // stop the sandbox commands
}

// leakBlob is one output: a stream, a file, stats, a Redis key.
type leakBlob struct {
	name string
	data []byte
}

func newLeakHarness(t *testing.T, redisMode bool) *leakHarness {
	h := &leakHarness{t: t, dir: t.TempDir(), redis: redisMode}
	if redisMode {
		leakDBMu.Lock()
		t.Cleanup(leakDBMu.Unlock) // last: after the workers stopped
		h.rdb = redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: leakDB})
		ctx := context.Background()
		require.NoError(t, h.rdb.Ping(ctx).Err(), "the Redis server at 127.0.0.1:6379")
		require.NoError(t, h.rdb.FlushDB(ctx).Err())
		t.Cleanup(func() {
			_ = h.rdb.FlushDB(context.Background()).Err()
			_ = h.rdb.Close()
		})
	}
	return h
}

func (h *leakHarness) add(name string, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.blobs = append(h.blobs, leakBlob{name, bytes.Clone(data)})
}

// find returns the blob of that name.
func (h *leakHarness) find(name string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range h.blobs {
		if b.name == name {
			return string(b.data)
		}
	}
	h.t.Fatalf("no output %q", name)
	return ""
}

func (h *leakHarness) path(name string) string { return filepath.Join(h.dir, name) }

// env is the environment of the scenario's commands on the Data Manager at
// api, with extra key, value pairs.
func (h *leakHarness) env(api string, kv ...string) map[string]string {
	env := map[string]string{
		"BULKSYNC_API_URL": api, "BULKSYNC_API_TOKEN": leakToken, "BULKSYNC_LOG": "debug",
		"XDG_STATE_HOME": h.path("state"),
	}
	if h.redis {
		env["REDIS_URL"] = fmt.Sprintf("redis://127.0.0.1:6379/%d", leakDB)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// sandbox serves a sandbox whose stats finish collects.
func (h *leakHarness) sandbox(cfg sandbox.Config) (*sandbox.Server, string) {
	sb := sandbox.New(cfg)
	srv := httptest.NewServer(sb)
	h.t.Cleanup(srv.Close)
	h.stats = append(h.stats, func() { h.fetchStats(srv.URL, cfg.Token) })
	return sb, srv.URL
}

// fetchStats collects GET /_sandbox/stats, sent with the right token.
func (h *leakHarness) fetchStats(api, token string) {
	req, err := http.NewRequest(http.MethodGet, api+"/_sandbox/stats", nil)
	require.NoError(h.t, err)
	req.Header.Set("Authorization", "Api-Token "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	require.Equal(h.t, http.StatusOK, resp.StatusCode, "%s", b)
	require.Contains(h.t, string(b), `"requests"`)
	h.add("stats of "+api, b)
}

func getenvOf(env map[string]string) env { return func(k string) string { return env[k] } }

// cli runs a command to its end and collects its stdout and stderr.
func (h *leakHarness) cli(name string, env map[string]string, args ...string) (code int, stdout, stderr string) {
	h.t.Helper()
	var out, errs lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = run(ctx, args, &out, &errs, getenvOf(env))
	h.add(name+": stdout", out.Bytes())
	h.add(name+": stderr", errs.Bytes())
	return code, out.String(), errs.String()
}

// imp imports with the scenario's mode. Embedded, import's in-process
// workers do the work; with Redis, a `bulksync worker` (with workerArgs)
// runs beside the import, and `bulksync report` of the batch writes its
// summary and JSON lines results. It returns import's exit code and the
// summary it printed.
func (h *leakHarness) imp(name string, env map[string]string, workerArgs []string, args ...string) (int, report.Summary) {
	h.t.Helper()
	var stop func()
	if h.redis {
		stop = h.worker(name+": worker", env, workerArgs...)
	}
	code, out, errs := h.cli(name+": import", env, append([]string{"import"}, args...)...)
	var sum report.Summary
	require.NoError(h.t, json.NewDecoder(strings.NewReader(out)).Decode(&sum), "import's summary on stdout; stderr:\n%s", errs)
	if h.redis {
		stop()
		rcode, _, rerrs := h.cli(name+": report", env, "report", sum.BatchID,
			"--summary", h.path(name+"-report-summary.json"), "--results", h.path(name+"-report-results.jsonl"))
		require.Equal(h.t, code, rcode, rerrs)
	}
	return code, sum
}

// worker runs `bulksync worker` until the returned stop (or the test's
// end).
func (h *leakHarness) worker(name string, env map[string]string, args ...string) (stop func()) {
	stop, _, _ = h.background(name, env, "worker started", append([]string{"worker", "--shutdown-timeout", "5s"}, args...)...)
	return stop
}

// background runs a command in this process until the returned stop (or
// the test's end), which collects its output and checks that it exited 0
// and logged wantLog. done is closed when it has exited, errs is its
// stderr.
func (h *leakHarness) background(name string, env map[string]string, wantLog string, args ...string) (stop func(), done <-chan struct{}, errs *lockedBuffer) {
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	errs = &lockedBuffer{}
	exited := make(chan struct{})
	var code int
	go func() {
		defer close(exited)
		code = run(ctx, args, &out, errs, getenvOf(env))
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-exited
			h.add(name+": stdout", out.Bytes())
			h.add(name+": stderr", errs.Bytes())
			assert.Equal(h.t, exitOK, code, errs.String())
			assert.Contains(h.t, errs.String(), wantLog)
		})
	}
	h.t.Cleanup(stop)
	return stop, exited, errs
}

var listeningRE = regexp.MustCompile(`msg="sandbox listening" addr=(\S+)`)

// sandboxCmd runs `bulksync sandbox` on a free port until finish, and
// returns its URL.
func (h *leakHarness) sandboxCmd(name string, env map[string]string, args ...string) string {
	stop, done, errs := h.background(name, env, "sandbox stopped", append([]string{"sandbox", "--addr", "127.0.0.1:0"}, args...)...)
	h.stops = append(h.stops, stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(errs.String()); m != nil {
			api := "http://" + m[1]
			h.stats = append(h.stats, func() { h.fetchStats(api, leakToken) })
			return api
		}
		select {
		case <-done:
			h.t.Fatalf("bulksync sandbox exited:\n%s", errs.String())
		case <-time.After(5 * time.Millisecond):
		}
		require.True(h.t, time.Now().Before(deadline), "bulksync sandbox does not listen:\n%s", errs.String())
	}
}

// process runs the command as a process of its own (the test binary, by
// TestSecretsHelperProcess) and collects its stdout and stderr.
func (h *leakHarness) process(name string, env map[string]string, args ...string) int {
	h.t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestSecretsHelperProcess$", "--"}, args...)...)
	// No second's sleep at the exit of a -race binary.
	cmd.Env = append(os.Environ(), "BULKSYNC_SECRETS_HELPER=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	h.add(name+": stdout", out.Bytes())
	h.add(name+": stderr", errs.Bytes())
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	require.NoError(h.t, err)
	return 0
}

// dumpRedis collects every key of database leakDB and its values, with
// the chunk payloads of queued tasks decompressed. It returns how many
// payloads it decompressed.
func (h *leakHarness) dumpRedis(when string) int {
	ctx := context.Background()
	keys, err := h.rdb.Keys(ctx, "*").Result()
	require.NoError(h.t, err)
	require.True(h.t, slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "bulksync:batch:") }),
		"the batches are in database %d: %q", leakDB, keys)
	decoded := 0
	for _, k := range keys {
		var vals []string
		switch typ := h.rdb.Type(ctx, k).Val(); typ {
		case "string":
			vals = []string{h.rdb.Get(ctx, k).Val()}
		case "hash":
			for f, v := range h.rdb.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "list":
			vals = h.rdb.LRange(ctx, k, 0, -1).Val()
		case "set":
			vals = h.rdb.SMembers(ctx, k).Val()
		case "zset":
			vals = h.rdb.ZRange(ctx, k, 0, -1).Val()
		case "stream":
			for _, m := range h.rdb.XRange(ctx, k, "-", "+").Val() {
				for f, v := range m.Values {
					vals = append(vals, f, fmt.Sprint(v))
				}
			}
		default:
			h.t.Fatalf("redis key %s of type %s", k, typ)
		}
		for i, v := range vals {
			name := fmt.Sprintf("redis %s: %s [%d]", when, k, i)
			h.add(name, []byte(v))
			for j, p := range chunkPayloads([]byte(v)) {
				h.add(fmt.Sprintf("%s payload %d", name, j), p)
				decoded++
			}
		}
		h.add(fmt.Sprintf("redis %s: key %s", when, k), []byte(k))
	}
	return decoded
}

// chunkPayloads returns the decompressed chunk payloads in a Redis value:
// the value itself, or a bytes field of it read as protobuf (asynq's task
// message holds the payload so).
func chunkPayloads(v []byte) [][]byte {
	if js, ok := chunkJSON(v); ok {
		return [][]byte{js}
	}
	var out [][]byte
	for b := v; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return out
		}
		b = b[n:]
		if typ == protowire.BytesType {
			f, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return out
			}
			if js, ok := chunkJSON(f); ok {
				out = append(out, js)
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return out
		}
		b = b[n:]
	}
	return out
}

// chunkJSON returns the chunk's JSON, decompressed, when payload is a
// chunk task's payload (jobs.NewChunkTask: an envelope whose s2 field is
// the compressed JSON).
func chunkJSON(payload []byte) ([]byte, bool) {
	var env struct {
		S2 []byte `json:"s2"`
	}
	if json.Unmarshal(payload, &env) != nil || env.S2 == nil {
		return nil, false
	}
	js, err := s2.Decode(nil, env.S2)
	return js, err == nil
}

// finish collects the sandboxes' stats, stops the sandbox commands,
// collects Redis and the written files, then looks for the secrets in all.
func (h *leakHarness) finish() {
	h.t.Helper()
	for _, fetch := range h.stats {
		fetch()
	}
	for _, stop := range h.stops {
		stop()
	}
	if h.redis {
		h.dumpRedis("after")
	}
	files := 0
	require.NoError(h.t, filepath.WalkDir(h.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h.add("file "+filepath.Base(p), b)
		files++
		return nil
	}))

	h.mu.Lock()
	defer h.mu.Unlock()
	var total int
	for _, b := range h.blobs {
		total += len(b.data)
		for _, n := range leaksIn(b.data) {
			i := bytes.Index(b.data, []byte(n))
			from, to := max(i-120, 0), min(i+len(n)+120, len(b.data))
			h.t.Errorf("%s holds %q:\n…%s…", b.name, n, b.data[from:to])
		}
	}
	h.t.Logf("searched %d outputs (%d files), %d bytes", len(h.blobs), files, total)
}
