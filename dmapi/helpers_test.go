package dmapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

const testToken = "dmapi-test-token-0123456789abcdef"

// request is what the sandbox received.
type request struct {
	method, path, rawPath, query string
	body                         []byte
}

// testBundle is a client talking to a sandbox over loopback HTTP, with a
// record of the requests the sandbox received.
type testBundle struct {
	api *dmapi.Client
	srv *sandbox.Server
	url string

	mu       sync.Mutex
	requests []request
}

func setup(t *testing.T, cfg sandbox.Config) *testBundle {
	t.Helper()
	cfg.Token = testToken
	b := &testBundle{srv: sandbox.New(cfg)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		b.mu.Lock()
		b.requests = append(b.requests, request{r.Method, r.URL.Path, r.URL.EscapedPath(), r.URL.RawQuery, body})
		b.mu.Unlock()
		b.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	api, err := dmapi.New(dmapi.Config{BaseURL: ts.URL, Token: testToken})
	require.NoError(t, err)
	b.api, b.url = api, ts.URL
	return b
}

// last returns the last request received.
func (b *testBundle) last(t *testing.T) request {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.NotEmpty(t, b.requests)
	return b.requests[len(b.requests)-1]
}

// count returns the number of requests received with method and path.
func (b *testBundle) count(method, path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, r := range b.requests {
		if r.method == method && r.path == path {
			n++
		}
	}
	return n
}

// createLicense creates a license of kind on platform "acme" and returns its id.
func (b *testBundle) createLicense(t *testing.T, kind dmapi.LicenseKind) int64 {
	t.Helper()
	l, err := b.api.CreateLicense(t.Context(), kind, map[string]any{
		"platform_key": "acme", "program_key": "program-v1:acme+p1", "name": "Seats",
		"count": 10, "started": "2026-01-01T00:00:00Z",
	})
	require.NoError(t, err)
	return l.ID
}

// requireStatus checks that err is an *dmapi.Error with status and class.
func requireStatus(t *testing.T, err error, status int, class dmapi.Class) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, status, dmapi.StatusOf(err), "%v", err)
	require.Equal(t, class, dmapi.ClassOf(err), "%v", err)
	require.NotContains(t, err.Error(), testToken)
}
