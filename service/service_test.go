package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/jobs"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/bulksync/bulksync/service"
	"github.com/bulksync/bulksync/worker"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisDB is this package's Redis database (8 to 14 are other packages').
const redisDB = 15

// token is the services' token in these tests.
const token = "serve-token-0123456789"

// bundle is one test's service, over loopback HTTP, with an in-process
// worker and the sandbox API.
type bundle struct {
	env *testenv.Env
	url string
}

// setup starts a service configured by cfg (its Store, Queue, queues and
// Token are set here) in front of a worker and a sandbox configured by sb.
func setup(t *testing.T, cfg service.Config, sb sandbox.Config) *bundle {
	t.Helper()
	env := testenv.New(t, redisDB, sb)
	q := asynq.NewClient(env.RedisOpt)
	t.Cleanup(func() { _ = q.Close() })
	w, err := worker.New(env.RedisOpt, env.Store, env.API, worker.Config{
		Queue: env.Queue, Concurrency: 4, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxAttempts: 20,
	})
	require.NoError(t, err)
	require.NoError(t, w.Start())
	t.Cleanup(w.Shutdown)
	cfg.Store, cfg.Queue, cfg.BulkQueue, cfg.ImportQueue = env.Store, q, env.Queue, env.Queue
	if !cfg.InsecureNoAuth {
		cfg.Token = token
	}
	cfg.SpoolDir = t.TempDir()
	svc, err := service.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	t.Cleanup(svc.Stop)
	return &bundle{env: env, url: srv.URL}
}

// do sends a request with the service's token and returns the status,
// headers and body.
func (b *bundle) do(t *testing.T, method, path string, body io.Reader, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, data
}

// waitState polls GET /v1/batches/{id} until the batch is finished.
func (b *bundle) waitState(t *testing.T, id string) service.Status {
	t.Helper()
	var st service.Status
	require.Eventually(t, func() bool {
		code, _, data := b.do(t, http.MethodGet, "/v1/batches/"+id, nil)
		require.Equal(t, http.StatusOK, code, "%s", data)
		require.NoError(t, json.Unmarshal(data, &st))
		return st.State == jobs.StateDone || st.State == jobs.StateCancelled || st.State == jobs.StateHalted
	}, 20*time.Second, 20*time.Millisecond)
	return st
}

// bulkBody is a bulk suggestion request of the given items on platform
// acme.
func bulkBody(items ...string) string {
	return `{"platform_key": "acme", "platform_org": "acme-org", "department_mode": false, "suggestion_data": [` + strings.Join(items, ",") + `]}`
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, service.Config{}, sandbox.Config{})
	for _, tt := range []struct {
		name, path, auth string
		want             int
	}{
		{name: "NoHeader", path: "/v1/batches", want: http.StatusUnauthorized},
		{name: "WrongToken", path: "/v1/batches", auth: "Bearer nope", want: http.StatusUnauthorized},
		{name: "WrongScheme", path: "/v1/batches", auth: "Basic " + token, want: http.StatusUnauthorized},
		{name: "Bearer", path: "/v1/batches", auth: "Bearer " + token, want: http.StatusOK},
		{name: "ApiToken", path: "/v1/batches", auth: "Api-Token " + token, want: http.StatusOK},
		{name: "BulkNeedsIt", path: service.BulkPath, want: http.StatusUnauthorized},
		{name: "Healthz", path: "/healthz", want: http.StatusOK},
		{name: "Readyz", path: "/readyz", want: http.StatusOK},
		{name: "UnknownPath", path: "/v2/nothing", auth: "Bearer " + token, want: http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, b.url+tt.path, nil)
			require.NoError(t, err)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tt.want, resp.StatusCode)
			if tt.want == http.StatusUnauthorized {
				var e map[string]string
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
				require.Equal(t, "unauthorized", e["code"])
			}
		})
	}
}

func TestNewRefusesNoToken(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, redisDB, sandbox.Config{})
	q := asynq.NewClient(env.RedisOpt)
	defer q.Close()
	_, err := service.New(service.Config{Store: env.Store, Queue: q})
	require.ErrorContains(t, err, "Token is required")
	_, err = service.New(service.Config{Store: env.Store, Queue: q, InsecureNoAuth: true})
	require.NoError(t, err)
}

func TestBulk(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		body       string
		wantStatus int
		want       string // the JSON answer
		wantStored int    // program suggestions in the sandbox afterwards
	}{
		{
			name: "Seed002Shape",
			body: bulkBody(
				`{"program_key": "p1", "user_id": 1, "accepted": false, "visible": true, "metadata": {"src": "hr"}}`,
				`{"program_key": "p2", "user_id": "2"}`,
				`{"program_key": "p3", "user_id": "user3", "visible": false}`,
				`{"user_id": 4}`,
				`{"program_key": "p1", "user_id": "nobody"}`,
				`{"program_key": "p1", "user_id": 5, "accepted": "perhaps"}`,
			),
			wantStatus: http.StatusOK,
			want:       `{"successes": 3, "error_codes": ["item 3: missing_field:program_key", "item 4: rejected", "item 5: invalid_boolean:accepted"]}`,
			wantStored: 3,
		},
		{name: "Empty", body: bulkBody(), wantStatus: http.StatusOK, want: `{"successes": 0, "error_codes": []}`},
		{name: "NotJSON", body: `platform_key=acme`, wantStatus: http.StatusBadRequest},
		{name: "ExtraData", body: bulkBody(`{"program_key": "p1", "user_id": 1}`) + ` {"platform_key": "acme"}`, wantStatus: http.StatusBadRequest},
		{name: "TrailingSpace", body: bulkBody(`{"program_key": "p1", "user_id": 1}`) + " \n", wantStatus: http.StatusOK, want: `{"successes": 1, "error_codes": []}`, wantStored: 1},
		{name: "NotAnObject", body: `[1, 2]`, wantStatus: http.StatusBadRequest, want: `{"non_field_errors": ["Invalid data. Expected a dictionary, but got list."], "code": "invalid_request"}`},
		{name: "NoPlatformKey", body: `{"suggestion_data": []}`, wantStatus: http.StatusBadRequest, want: `{"platform_key": ["This field is required."], "code": "invalid_request"}`},
		{name: "NoSuggestionData", body: `{"platform_key": "acme"}`, wantStatus: http.StatusBadRequest, want: `{"suggestion_data": ["This field is required."], "code": "invalid_request"}`},
		{name: "DataNotAList", body: `{"platform_key": "acme", "suggestion_data": {"a": [1]}}`, wantStatus: http.StatusBadRequest, want: `{"suggestion_data": ["Expected a list of items but got type \"dict\"."], "code": "invalid_request"}`},
		{name: "OtherPlatform", body: bulkBody(`{"platform_key": "other", "program_key": "p1", "user_id": 1}`), wantStatus: http.StatusBadRequest, want: `{"suggestion_data": ["All items must belong to platform_key."], "code": "invalid_request"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, service.Config{}, sandbox.Config{})
			code, _, data := b.do(t, http.MethodPost, service.BulkPath, strings.NewReader(tt.body), "Content-Type", "application/json")
			require.Equal(t, tt.wantStatus, code, "%s", data)
			if tt.want != "" {
				require.JSONEq(t, tt.want, string(data))
			}
			if code == http.StatusBadRequest {
				var e map[string]any
				require.NoError(t, json.Unmarshal(data, &e))
				require.Contains(t, []any{"invalid_json", "invalid_request"}, e["code"])
			}
			st := b.env.Sandbox.Stats()
			require.Equal(t, tt.wantStored, st.ProgramSuggestions)
			require.Zero(t, st.ByEndpoint["POST "+service.BulkPath], "the bulk endpoint is never called: the service stands behind it")
		})
	}
}

func TestBulkRetryAppliesNothingTwice(t *testing.T) {
	t.Parallel()
	b := setup(t, service.Config{}, sandbox.Config{})
	body := bulkBody(`{"program_key": "p1", "user_id": 1}`, `{"program_key": "p2", "user_id": 2, "metadata": {"a": 1}}`)
	want := `{"successes": 2, "error_codes": []}`
	for range 2 {
		code, _, data := b.do(t, http.MethodPost, service.BulkPath, strings.NewReader(body))
		require.Equal(t, http.StatusOK, code, "%s", data)
		require.JSONEq(t, want, string(data))
	}
	st := b.env.Sandbox.Stats()
	require.Equal(t, 2, st.ProgramSuggestions)
	require.EqualValues(t, 2, st.Creates, "the retry wrote nothing")
	require.Zero(t, st.Updates)

	// An Idempotency-Key names the first request's batch, whatever the
	// body of its retries.
	other := bulkBody(`{"program_key": "p3", "user_id": 3}`)
	for i, body := range []string{body, other} {
		code, _, data := b.do(t, http.MethodPost, service.BulkPath, strings.NewReader(body), service.IdempotencyHeader, "key-1")
		require.Equal(t, http.StatusOK, code, "%s", data)
		require.JSONEq(t, want, string(data), "request %d", i)
	}
	require.EqualValues(t, 2, b.env.Sandbox.Stats().Creates, "the keyed retry with another body applied nothing")
}

func TestBulkAsync(t *testing.T) {
	t.Parallel()
	b := setup(t, service.Config{SyncLimit: 2}, sandbox.Config{})
	body := bulkBody(`{"program_key": "p1", "user_id": 1}`, `{"program_key": "p1", "user_id": 2}`, `{"program_key": "p1"}`)
	code, h, data := b.do(t, http.MethodPost, service.BulkPath, strings.NewReader(body))
	require.Equal(t, http.StatusAccepted, code, "%s", data)
	var acc service.Accepted
	require.NoError(t, json.Unmarshal(data, &acc))
	require.Equal(t, "/v1/batches/"+acc.BatchID, h.Get("Location"))
	st := b.waitState(t, acc.BatchID)
	require.Equal(t, jobs.StateDone, st.State)
	require.Equal(t, 2, st.Successes)
	require.Equal(t, []string{"item 2: missing_field:user_id"}, st.ErrorCodes)
	require.Equal(t, 3, st.Done)
}

func TestImports(t *testing.T) {
	t.Parallel()
	const csv = "platform_key,program_key,name,count,started,external_id\n" +
		"acme,p1,Pool A,10,2024-01-01T00:00:00Z,ext-1\n" +
		"acme,p1,Pool B,x,2024-01-01T00:00:00Z,ext-2\n"
	multipartBody := func(name, content string) (io.Reader, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("note", "ignored")
		fw, _ := mw.CreateFormFile("file", name)
		_, _ = io.WriteString(fw, content)
		_ = mw.Close()
		return &buf, mw.FormDataContentType()
	}
	for _, tt := range []struct {
		name       string
		query      string
		body       func() (io.Reader, string) // the body and its Content-Type
		maxUpload  int64
		wantStatus int
		wantCode   string // the error's code
		wantDetail string // in the error's detail
		wantFailed []string
	}{
		{
			name: "Raw", query: "?kind=program-licenses&chunk_size=1",
			body:       func() (io.Reader, string) { return strings.NewReader(csv), "text/csv" },
			wantStatus: http.StatusAccepted, wantFailed: []string{"line 3: invalid_integer:count"},
		},
		{
			name: "Multipart", query: "",
			body:       func() (io.Reader, string) { return multipartBody("program-licenses.csv", csv) },
			wantStatus: http.StatusAccepted, wantFailed: []string{"line 3: invalid_integer:count"},
		},
		{
			name: "UnreadableFile", query: "?name=roster.csv",
			body:       func() (io.Reader, string) { return strings.NewReader("a,b\n1,2\n"), "text/csv" },
			wantStatus: http.StatusUnprocessableEntity, wantCode: "unreadable_file",
			wantDetail: "roster.csv: line 1: unknown kind: no kind has exactly the columns a, b; pass --kind",
		},
		{
			name: "Empty", body: func() (io.Reader, string) { return strings.NewReader(""), "text/csv" },
			wantStatus: http.StatusUnprocessableEntity, wantCode: "unreadable_file",
		},
		{
			name: "TooLarge", maxUpload: 64,
			body:       func() (io.Reader, string) { return strings.NewReader(csv), "text/csv" },
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: "too_large",
		},
		{
			name: "TooLargeMultipart", maxUpload: 64,
			body:       func() (io.Reader, string) { return multipartBody("f.csv", csv) },
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: "too_large",
		},
		{
			name: "UnknownKind", query: "?kind=licences",
			body:       func() (io.Reader, string) { return strings.NewReader(csv), "text/csv" },
			wantStatus: http.StatusBadRequest, wantCode: "invalid_parameter",
		},
		{
			name: "BadChunkSize", query: "?chunk_size=99999",
			body:       func() (io.Reader, string) { return strings.NewReader(csv), "text/csv" },
			wantStatus: http.StatusBadRequest, wantCode: "invalid_parameter",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, service.Config{MaxUpload: tt.maxUpload}, sandbox.Config{})
			body, ctype := tt.body()
			code, h, data := b.do(t, http.MethodPost, "/v1/imports"+tt.query, body, "Content-Type", ctype)
			require.Equal(t, tt.wantStatus, code, "%s", data)
			if tt.wantCode != "" {
				var e map[string]string
				require.NoError(t, json.Unmarshal(data, &e))
				require.Equal(t, tt.wantCode, e["code"])
				if tt.wantDetail != "" {
					require.Equal(t, tt.wantDetail, e["detail"])
				}
				return
			}
			var acc service.Accepted
			require.NoError(t, json.Unmarshal(data, &acc))
			require.Equal(t, "/v1/batches/"+acc.BatchID, h.Get("Location"))
			st := b.waitState(t, acc.BatchID)
			require.Equal(t, jobs.StateDone, st.State)
			require.Equal(t, tt.wantFailed, st.ErrorCodes)
			require.Equal(t, 1, b.env.Sandbox.Stats().ProgramLicenses)
		})
	}
}

func TestResults(t *testing.T) {
	t.Parallel()
	b := setup(t, service.Config{}, sandbox.Config{})
	code, _, data := b.do(t, http.MethodPost, service.BulkPath, strings.NewReader(bulkBody(`{"program_key": "p1", "user_id": 1}`, `{"user_id": 2}`)))
	require.Equal(t, http.StatusOK, code, "%s", data)
	code, _, data = b.do(t, http.MethodGet, "/v1/batches?limit=5", nil)
	require.Equal(t, http.StatusOK, code)
	var list struct{ Batches []service.BatchItem }
	require.NoError(t, json.Unmarshal(data, &list))
	require.Len(t, list.Batches, 1)
	id := list.Batches[0].BatchID
	require.Equal(t, "program-suggestions", list.Batches[0].Kind)
	for _, tt := range []struct {
		name, accept, wantType string
		wantLines              int
	}{
		{name: "CSV", wantType: "text/csv; charset=utf-8", wantLines: 3},
		{name: "NDJSON", accept: "application/x-ndjson", wantType: "application/x-ndjson", wantLines: 2},
		{name: "JSONL", accept: "application/jsonl", wantType: "application/x-ndjson", wantLines: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, h, data := b.do(t, http.MethodGet, "/v1/batches/"+id+"/results", nil, "Accept", tt.accept)
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, tt.wantType, h.Get("Content-Type"))
			require.Len(t, strings.Split(strings.TrimSpace(string(data)), "\n"), tt.wantLines, "%s", data)
			require.Contains(t, string(data), "missing_field:program_key")
		})
	}
	code, _, _ = b.do(t, http.MethodGet, "/v1/batches/nope/results", nil)
	require.Equal(t, http.StatusNotFound, code)
	code, _, _ = b.do(t, http.MethodGet, "/v1/batches?limit=0", nil)
	require.Equal(t, http.StatusBadRequest, code)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, service.Config{}, sandbox.Config{Latency: 20 * time.Millisecond})
	var csv strings.Builder
	csv.WriteString("platform_key,program_key,name,count,started,external_id\n")
	const rows = 400
	for i := range rows {
		fmt.Fprintf(&csv, "acme,p1,Pool %d,10,2024-01-01T00:00:00Z,ext-%d\n", i, i)
	}
	code, _, data := b.do(t, http.MethodPost, "/v1/imports?kind=program-licenses&chunk_size=20", strings.NewReader(csv.String()))
	require.Equal(t, http.StatusAccepted, code, "%s", data)
	var acc service.Accepted
	require.NoError(t, json.Unmarshal(data, &acc))
	// Cancel once some rows are done.
	require.Eventually(t, func() bool {
		m, err := b.env.Store.Get(context.Background(), acc.BatchID)
		require.NoError(t, err)
		return m.Done > 0
	}, 10*time.Second, 5*time.Millisecond)
	code, _, data = b.do(t, http.MethodDelete, "/v1/batches/"+acc.BatchID, nil)
	require.Equal(t, http.StatusOK, code, "%s", data)
	var st service.Status
	require.NoError(t, json.Unmarshal(data, &st))
	require.Equal(t, jobs.StateCancelled, st.State)
	// Rows in flight finish; then the counts stand still.
	var settled service.Status
	require.Eventually(t, func() bool {
		before := b.env.Sandbox.Stats().ProgramLicenses
		time.Sleep(300 * time.Millisecond)
		_, _, data := b.do(t, http.MethodGet, "/v1/batches/"+acc.BatchID, nil)
		require.NoError(t, json.Unmarshal(data, &settled))
		return b.env.Sandbox.Stats().ProgramLicenses == before
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, jobs.StateCancelled, settled.State)
	require.Positive(t, settled.Unprocessed, "rows not yet attempted stay unprocessed")
	require.Equal(t, rows, settled.Successes+settled.Unprocessed)
	require.Equal(t, settled.Successes, b.env.Sandbox.Stats().ProgramLicenses, "every row the batch reports ok is in the API, and no other")
	_, _, data = b.do(t, http.MethodGet, "/v1/batches/"+acc.BatchID+"/results", nil, "Accept", "application/x-ndjson")
	require.Equal(t, settled.Unprocessed, strings.Count(string(data), `"status":"unprocessed"`))

	for _, tt := range []struct {
		name, id string
		want     int
	}{
		{name: "Again", id: acc.BatchID, want: http.StatusOK},
		{name: "Unknown", id: "no-such-batch", want: http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, data := b.do(t, http.MethodDelete, "/v1/batches/"+tt.id, nil)
			require.Equal(t, tt.want, code, "%s", data)
		})
	}
}

func TestCancelDone(t *testing.T) {
	t.Parallel()
	b := setup(t, service.Config{}, sandbox.Config{})
	code, _, data := b.do(t, http.MethodPost, service.BulkPath, strings.NewReader(bulkBody(`{"program_key": "p1", "user_id": 1}`)))
	require.Equal(t, http.StatusOK, code, "%s", data)
	metas, err := b.env.Store.Recent(context.Background(), 1)
	require.NoError(t, err)
	code, _, data = b.do(t, http.MethodDelete, "/v1/batches/"+metas[0].ID, nil)
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, string(data), `"code":"batch_finished"`)
}

func TestObserveRoutes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	b := setup(t, service.Config{Observe: func(route string, status int, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		seen[fmt.Sprintf("%s %d", route, status)]++
	}}, sandbox.Config{})
	code, _, data := b.do(t, http.MethodPost, service.BulkPath, strings.NewReader(bulkBody()))
	require.Equal(t, http.StatusOK, code, "%s", data)
	code, _, _ = b.do(t, http.MethodGet, "/v1/batches/nope", nil)
	require.Equal(t, http.StatusNotFound, code)
	code, _, _ = b.do(t, http.MethodGet, "/v2/nothing", nil)
	require.Equal(t, http.StatusNotFound, code)
	mu.Lock()
	defer mu.Unlock()
	// Routes are the patterns as a person reads them: the bulk path
	// without the "{$}" that anchors it.
	require.Equal(t, map[string]int{service.BulkPath + " 200": 1, "/v1/batches/{id} 404": 1, "/ 404": 1}, seen)
}

// TestReadyzBounded: a Redis that takes connections but never answers
// gets 503 from /readyz within ReadyTimeout (and a little), not after
// go-redis's read timeouts and retries.
func TestReadyzBounded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() }) // read nothing, answer nothing
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ReadTimeout: 10 * time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	svc, err := service.New(service.Config{Store: jobs.NewStore(rdb, jobs.StoreConfig{}), Queue: asynq.NewClientFromRedisClient(rdb), InsecureNoAuth: true})
	require.NoError(t, err)
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	start := time.Now()
	resp, err := http.Get(srv.URL + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Less(t, time.Since(start), service.ReadyTimeout+time.Second)
	var e map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	require.Equal(t, "unavailable", e["code"])
}

func TestBulkPathWithoutSlash(t *testing.T) {
	t.Parallel()
	b := setup(t, service.Config{}, sandbox.Config{})
	code, h, data := b.do(t, http.MethodPost, strings.TrimSuffix(service.BulkPath, "/"), strings.NewReader(bulkBody()))
	require.Equal(t, http.StatusNotFound, code, "%s", data)
	require.Contains(t, h.Get("Content-Type"), "application/json")
	require.Contains(t, string(data), `"code":"not_found"`)
}
