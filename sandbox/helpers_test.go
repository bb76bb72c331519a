package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testToken = "test-token-0123456789abcdef"

// testBundle is a sandbox served over loopback HTTP.
type testBundle struct {
	srv *Server
	url string
}

func setup(t *testing.T, cfg Config) *testBundle {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	srv := New(cfg)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testBundle{srv: srv, url: ts.URL}
}

// result is a decoded answer.
type result struct {
	status int
	header http.Header
	body   map[string]any // nil when the body is not a JSON object
	raw    []byte
}

// call sends a request with the Api-Token header. body is JSON-encoded unless
// it is a string, which is sent as is.
func (b *testBundle) call(t *testing.T, method, path string, body any) result {
	t.Helper()
	return b.callWith(t, method, path, body, http.Header{"Authorization": {"Api-Token " + testToken}})
}

func (b *testBundle) callWith(t *testing.T, method, path string, body any, header http.Header) result {
	t.Helper()
	res, err := b.send(t, method, path, body, header)
	require.NoError(t, err)
	return res
}

func (b *testBundle) send(t *testing.T, method, path string, body any, header http.Header) (result, error) {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		data, err := json.Marshal(v)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.url+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	res := result{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &res.body)
	return res, nil
}

// requireStatus fails with the body when the status differs.
func requireStatus(t *testing.T, want int, res result) {
	t.Helper()
	require.Equal(t, want, res.status, "body: %s", res.raw)
}

// jsonOf decodes JSON text into a generic value for comparisons.
func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &v))
	return v
}

// programLicense is a valid program license create body.
func programLicense(externalID string) map[string]any {
	return map[string]any{
		"platform_key": "acme",
		"program_key":  "program-v1:acme+data+2024",
		"name":         "Data program",
		"count":        10,
		"started":      "2024-01-01T00:00:00Z",
		"external_id":  externalID,
	}
}
