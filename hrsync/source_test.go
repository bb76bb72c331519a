package hrsync_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/hrsync"
	"github.com/stretchr/testify/require"
)

// planner is a Planner on a state file of its own.
func planner(t *testing.T, getenv func(string) string) *hrsync.Planner {
	t.Helper()
	f, err := applied.OpenFile(filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return &hrsync.Planner{Snapshots: f, Getenv: getenv}
}

func parseOne(t *testing.T, def, dir string) *hrsync.Sync {
	t.Helper()
	cfg, err := hrsync.Parse([]byte(def), dir)
	require.NoError(t, err)
	return &cfg.Syncs[0]
}

func TestURLSource(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		// JSON told by the content type, whatever the path says.
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte("[\n {\"id\": \"A1\", \"mail\": \" USER1@EXAMPLE.COM\"},\n {\"id\": 42, \"mail\": \"user2@example.com\"}\n]\n"))
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, token string
		wantErr     string
		wantCreates int
	}{
		{"Bearer", "s3cret", "", 2},
		{"WrongToken", "nope", "HTTP 401", 0},
		{"NoToken", "", "HR_TOKEN (bearer_env) is not set", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := parseOne(t, `syncs:
  - name: http
    kind: user-licenses
    source: {url: "`+srv.URL+`/export.csv?key=abc", bearer_env: HR_TOKEN}
    mapping: {external_id: id, name: mail}
    transforms: {name: [trim, lower]}
    defaults: {platform_key: acme}
`, ".")
			p := planner(t, func(k string) string {
				if k == "HR_TOKEN" {
					return tc.token
				}
				return ""
			})
			plan, err := p.Plan(context.Background(), s, false)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), "key=abc", "the query may hold a secret")
				return
			}
			require.NoError(t, err)
			defer plan.Close()
			require.Equal(t, tc.wantCreates, plan.Counts.Create)
			require.Equal(t, 2, plan.Samples[0].Line)
			require.Equal(t, 3, plan.Samples[1].Line)
			require.JSONEq(t, `{"platform_key":"acme","name":"user1@example.com","active":true,"external_id":"A1"}`, string(plan.Samples[0].Row))
		})
	}
}

func TestDropFolderSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string, age time.Duration) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		ts := time.Now().Add(-age)
		require.NoError(t, os.Chtimes(p, ts, ts))
	}
	write("hr-2024-01-01.csv", "ID\nOLD\n", 2*time.Hour)
	write("hr-2024-01-02.csv", "ID\nNEW1\nNEW2\n", time.Hour)
	write("other.csv", "ID\nX\n", 0)
	s := parseOne(t, `syncs:
  - name: drop
    kind: user-licenses
    source: {dir: drop, glob: "hr-*.csv"}
    mapping: {external_id: ID}
    defaults: {platform_key: acme}
`, filepath.Dir(dir))
	s.Source.Dir = filepath.Base(dir)
	plan, err := planner(t, nil).Plan(context.Background(), s, false)
	require.NoError(t, err)
	defer plan.Close()
	require.Equal(t, filepath.Join(dir, "hr-2024-01-02.csv"), plan.Source)
	require.Equal(t, 2, plan.Counts.Create)

	s.Source.Glob = "nothing-*.csv"
	_, err = planner(t, nil).Plan(context.Background(), s, false)
	require.ErrorIs(t, err, hrsync.ErrNoSource)
}
