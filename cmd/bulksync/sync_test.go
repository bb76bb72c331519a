package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// syncDir copies the HRIS sample into a temporary directory and returns
// it with a cli whose state file lives there too (no REDIS_URL).
func syncDir(t *testing.T) (string, *cli) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"hris-sync.yaml", "hris-export.csv"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/hris", name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	return dir, &cli{env: map[string]string{"XDG_STATE_HOME": filepath.Join(dir, "state")}}
}

func TestSyncApplyEditedPlanIsRefused(t *testing.T) {
	t.Parallel()
	dir, c := syncDir(t)
	config, plan := filepath.Join(dir, "hris-sync.yaml"), filepath.Join(dir, "plan.ndjson")
	require.Equal(t, exitOK, c.run(t, "sync", "plan", "hr-nightly", "--config", config, "--save", plan), c.stderr.String())
	b, err := os.ReadFile(plan)
	require.NoError(t, err)
	edited := strings.ReplaceAll(string(b), "user1042@example.com", "someone.else@example.com")
	require.NotEqual(t, string(b), edited)
	require.NoError(t, os.WriteFile(plan, []byte(edited), 0o600))

	code := c.run(t, "sync", "apply", plan, "--config", config)
	require.Equal(t, exitRefused, code, c.stderr.String())
	require.Contains(t, c.stderr.String(), "refused, nothing sent")
	require.Contains(t, c.stderr.String(), "does not match its content hash")
}

func TestSyncPlanPrintsADuplicateWithoutAKey(t *testing.T) {
	t.Parallel()
	dir, c := syncDir(t)
	f, err := os.OpenFile(filepath.Join(dir, "hris-export.csv"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("5042,Ada,Lovelace,user1042@example.com,Engineering,Active,6/1/2025\r\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	require.Equal(t, exitOK, c.run(t, "sync", "plan", "hr-nightly", "--config", filepath.Join(dir, "hris-sync.yaml")), c.stderr.String())
	require.Contains(t, c.stdout.String(), "  invalid    line 10: duplicate_target: line 2 already targets acme-ds-eng-2024/email=user1042@example.com")
}

func TestSyncMissingSourceFileIsAUsageError(t *testing.T) {
	t.Parallel()
	dir, c := syncDir(t)
	require.NoError(t, os.Remove(filepath.Join(dir, "hris-export.csv")))
	for _, sub := range []string{"plan", "run"} {
		code := c.run(t, "sync", sub, "hr-nightly", "--config", filepath.Join(dir, "hris-sync.yaml"))
		require.Equal(t, exitUsage, code, sub+": "+c.stderr.String())
		require.Contains(t, c.stderr.String(), "no such file or directory")
	}
}

func TestSyncBrokenSourceHeaderIsAUsageError(t *testing.T) {
	t.Parallel()
	dir, c := syncDir(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hris-export.csv"), []byte("\"Employee ID,Work Email\n1,a@example.com\n"), 0o600))
	code := c.run(t, "sync", "plan", "hr-nightly", "--config", filepath.Join(dir, "hris-sync.yaml"))
	require.Equal(t, exitUsage, code, c.stderr.String())
}

// A sync run against the in-process sandbox keeps its snapshot apart from
// the default state file: pointed at a real API afterwards, the same sync
// plans every key again instead of trusting the sandbox's run.
func TestSyncInProcessSandboxSnapshotIsApart(t *testing.T) {
	t.Parallel()
	dir, c := syncDir(t)
	config := filepath.Join(dir, "seats.yaml")
	require.NoError(t, os.WriteFile(config, []byte(`syncs:
  - name: seats
    kind: user-licenses
    source: {file: hris-export.csv}
    mapping: {external_id: Employee ID, name: Work Email}
    transforms: {name: [trim, lower]}
    defaults: {platform_key: acme}
`), 0o600))
	require.Equal(t, exitOK, c.run(t, "sync", "run", "seats", "--config", config), c.stderr.String())
	require.Equal(t, exitOK, c.run(t, "sync", "plan", "seats", "--config", config), c.stderr.String())
	require.Contains(t, c.stdout.String(), "plan: 0 create, 0 update, 0 deactivate, 8 unchanged", "the sandbox's own snapshot is kept")
	require.FileExists(t, filepath.Join(dir, "state", "bulksync", sandboxStateFile))

	c.env["BULKSYNC_API_URL"], c.env["BULKSYNC_API_TOKEN"] = "http://127.0.0.1:1", "t"
	require.Equal(t, exitOK, c.run(t, "sync", "plan", "seats", "--config", config), c.stderr.String())
	require.Contains(t, c.stdout.String(), "plan: 8 create, 0 update, 0 deactivate, 0 unchanged")
	require.Contains(t, c.stdout.String(), "first run")
}
