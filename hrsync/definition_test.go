package hrsync_test

import (
	"context"
	"testing"

	"github.com/bulksync/bulksync/hrsync"
	"github.com/stretchr/testify/require"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"UnknownKey", "syncs:\n  - name: a\n    kind: user-licenses\n    source: {file: x.csv}\n    mapping: {external_id: ID}\n    schedul: \"0 2 * * *\"\n", "line 6: field schedul not found"},
		{"UnknownSourceKey", "syncs:\n  - name: a\n    kind: user-licenses\n    source: {file: x.csv, token: y}\n    mapping: {external_id: ID}\n", "line 4: field token not found"},
		{"SixFieldCron", "syncs:\n  - name: a\n    schedule: \"0 0 2 * * *\"\n    kind: user-licenses\n    source: {file: x.csv}\n    mapping: {external_id: ID}\n", "line 2: sync \"a\": schedule"},
		{"UnknownField", "syncs:\n  - name: a\n    kind: user-licenses\n    source: {file: x.csv}\n    mapping: {mail: ID}\n", `field "mail" is not a field of user-licenses`},
		{"TwoSources", "syncs:\n  - name: a\n    kind: user-licenses\n    source: {file: x.csv, url: \"https://x\"}\n    mapping: {external_id: ID}\n", "exactly one of file"},
		{"BadTransform", "syncs:\n  - name: a\n    kind: user-licenses\n    source: {file: x.csv}\n    mapping: {external_id: ID}\n    transforms: {external_id: [title]}\n", `unknown transform "title"`},
		{"NoDeactivation", "syncs:\n  - name: a\n    kind: program-suggestions\n    source: {file: x.csv}\n    mapping: {user_id: ID}\n    deactivate_missing: true\n", "deactivate_missing"},
		{"DuplicateName", "syncs:\n  - name: a\n    kind: user-licenses\n    source: {file: x.csv}\n    mapping: {external_id: ID}\n  - name: a\n    kind: user-licenses\n    source: {file: x.csv}\n    mapping: {external_id: ID}\n", "line 6: sync \"a\": the name is taken by the sync on line 2"},
		{"BadZone", "syncs:\n  - name: a\n    timezone: Mars/Olympus\n    kind: user-licenses\n    source: {file: x.csv}\n    mapping: {external_id: ID}\n", "timezone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := hrsync.Parse([]byte(tc.yaml), ".")
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestSampleDefinition plans the README's worked example.
func TestSampleDefinition(t *testing.T) {
	t.Parallel()
	cfg, err := hrsync.LoadFile("../testdata/hris/hris-sync.yaml")
	require.NoError(t, err)
	s, err := cfg.Find("hr-nightly")
	require.NoError(t, err)
	require.Equal(t, "CRON_TZ=Europe/Berlin 0 2 * * *", s.Cronspec())
	plan, err := planner(t, nil).Plan(context.Background(), s, false)
	require.NoError(t, err)
	defer plan.Close()
	require.Equal(t, hrsync.Counts{Create: 7}, plan.Counts)
	require.Equal(t, 1, plan.Filtered)
	require.Equal(t, "acme-ds-eng-2024/email=user1042@example.com", plan.Samples[0].Key)
}
