package hrsync

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/importers"
	"github.com/stretchr/testify/require"
)

func TestSnapshotIndex(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 7, 8, 100, 10_000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			x := &snapshotIndex{}
			want := map[uint64]uint64{}
			for i := range n {
				h := rng.Uint64()
				if i == 0 {
					h = 0 // the extremes are keys like any other
				} else if i == 1 {
					h = ^uint64(0)
				}
				want[h] = uint64(i)
				x.add(h, uint64(i), i%3)
			}
			x.build()
			positions := map[int]bool{}
			for h, want := range want {
				i, fp := x.find(h)
				require.GreaterOrEqual(t, i, 0)
				require.Less(t, i, n)
				require.False(t, positions[i])
				positions[i] = true
				require.Equal(t, want, fp)
				require.Equal(t, int(fp%3), x.missed(h))
				require.False(t, x.seenAt(i))
				require.True(t, x.see(i))
				require.False(t, x.see(i))
				require.True(t, x.seenAt(i))
			}
			for range 100 {
				if h := rng.Uint64(); want[h] == 0 {
					i, _ := x.find(h)
					require.Equal(t, -1, i)
				}
			}
		})
	}
}

func TestSnapshotValue(t *testing.T) {
	t.Parallel()
	for _, misses := range []int{0, 1, 300} {
		fp, got, err := decodeValue(encodeValue(0xfeedface, misses))
		require.NoError(t, err)
		require.Equal(t, uint64(0xfeedface), fp)
		require.Equal(t, misses, got)
	}
	for _, bad := range []string{"", "1234567", "12345678\x80"} {
		_, _, err := decodeValue([]byte(bad))
		require.ErrorIs(t, err, errBadValue, "%q", bad)
	}
}

// TestUpgrade plans against a snapshot kept as records alone, as bulksync
// kept them before the values: the plan writes the values once and finds
// every row unchanged, and a check of the plan holds.
func TestUpgrade(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hr.csv"), []byte("Employee ID,Work Email\nE1,a@x.com\nE2,b@x.com\nE3,c@x.com\n"), 0o600))
	cfg, err := Parse([]byte(`syncs:
  - name: up
    kind: user-licenses
    source: {file: hr.csv}
    mapping: {external_id: Employee ID, name: Work Email}
    defaults: {platform_key: acme, count: "1", started: "2024-01-01"}
`), dir)
	require.NoError(t, err)
	s := &cfg.Syncs[0]
	f, err := applied.OpenFile(filepath.Join(dir, "state.db"))
	require.NoError(t, err)
	defer f.Close()
	ctx := context.Background()
	r := &Runner{Planner: Planner{Snapshots: f}}
	plan, err := r.Plan(ctx, s, false)
	require.NoError(t, err)
	require.Equal(t, Counts{Create: 3}, plan.Counts)
	schema, err := importers.Lookup(s.Kind)
	require.NoError(t, err)
	require.NoError(t, r.advance(ctx, s, schema, plan, []bool{true, true, true, true}))
	require.NoError(t, plan.Close())

	// Back to records alone, E2 missing for two runs.
	var values []applied.Write
	require.NoError(t, f.ScanValues(ctx, s.Namespace()+valuesSuffix, func(k, v []byte) error {
		values = append(values, applied.Write{Key: string(k)})
		return nil
	}))
	require.Len(t, values, 3)
	for _, w := range values {
		v, _, err := f.GetValue(ctx, s.Namespace()+valuesSuffix, w.Key)
		require.NoError(t, err)
		fp, _, err := decodeValue(v)
		require.NoError(t, err)
		rec, ok, err := f.Get(ctx, s.Namespace(), w.Key)
		require.NoError(t, err)
		require.True(t, ok)
		rec.Fields[fpEntry] = hexFP(fp)
		if w.Key == "E2" {
			rec.Fields[missEntry] = "2"
		}
		require.NoError(t, f.Put(ctx, s.Namespace(), w.Key, rec))
	}
	require.NoError(t, f.Apply(ctx, s.Namespace()+valuesSuffix, values))

	plan, err = r.Plan(ctx, s, false)
	require.NoError(t, err)
	defer plan.Close()
	require.Equal(t, Counts{Unchanged: 3}, plan.Counts)
	require.Equal(t, 3, plan.SnapshotKeys)
	var changes []Change
	require.NoError(t, plan.EachChange(func(c Change) error { changes = append(changes, c); return nil }))
	v, ok, err := f.GetValue(ctx, s.Namespace()+valuesSuffix, "E2")
	require.NoError(t, err)
	require.True(t, ok)
	fp, misses, err := decodeValue(v)
	require.NoError(t, err)
	require.Equal(t, 2, misses)
	require.Equal(t, []Change{{Action: ActionReturned, Key: "E2", Line: 3, FP: fp}}, changes)
	require.NoError(t, r.Check(ctx, s, plan))
}
