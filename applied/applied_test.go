package applied_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/bulksync/bulksync/applied"
	"github.com/bulksync/bulksync/internal/testenv"
	"github.com/bulksync/bulksync/sandbox"
	"github.com/stretchr/testify/require"
)

// redisDB is the Redis database of this package's tests.
const redisDB = 8

func TestStores(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) applied.ValueStore{
		"Redis": func(t *testing.T) applied.ValueStore {
			env := testenv.New(t, redisDB, sandbox.Config{})
			return applied.NewRedis(env.Redis, env.Prefix)
		},
		"File": func(t *testing.T) applied.ValueStore {
			f, err := applied.OpenFile(filepath.Join(t.TempDir(), "state", "state.db"))
			require.NoError(t, err)
			t.Cleanup(func() { _ = f.Close() })
			return f
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := open(t)
			_, ok, err := s.Get(ctx, "ns", "k1")
			require.NoError(t, err)
			require.False(t, ok)

			r1 := applied.Record{Fields: map[string]string{"email": "f1"}, Intent: "tx-1"}
			require.NoError(t, s.Put(ctx, "ns", "k1", r1))
			require.NoError(t, s.Put(ctx, "ns", "k2", applied.Record{Intent: "tx-2"}))
			require.NoError(t, s.Put(ctx, "other", "k1", applied.Record{Intent: "elsewhere"}))
			got, ok, err := s.Get(ctx, "ns", "k1")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, r1, got)

			seen := map[string]applied.Record{}
			require.NoError(t, s.Scan(ctx, "ns", func(k string, r applied.Record) error { seen[k] = r; return nil }))
			require.Len(t, seen, 2)
			require.Equal(t, "tx-2", seen["k2"].Intent)
			stop := errors.New("stop")
			require.ErrorIs(t, s.Scan(ctx, "ns", func(string, applied.Record) error { return stop }), stop)

			old, had, err := s.Swap(ctx, "ns", "k2", applied.Record{Intent: "tx-3"})
			require.NoError(t, err)
			require.True(t, had)
			require.Equal(t, applied.Record{Intent: "tx-2"}, old)
			_, had, err = s.Swap(ctx, "ns", "k9", applied.Record{Intent: "tx-9"})
			require.NoError(t, err)
			require.False(t, had)
			got, _, err = s.Get(ctx, "ns", "k2")
			require.NoError(t, err)
			require.Equal(t, "tx-3", got.Intent)

			olds, err := s.SwapMany(ctx, "ns", map[string]applied.Record{"k2": {Intent: "tx-4"}, "k8": {Intent: "tx-8"}})
			require.NoError(t, err)
			require.Equal(t, map[string]applied.Record{"k2": {Intent: "tx-3"}}, olds)
			got, _, err = s.Get(ctx, "ns", "k8")
			require.NoError(t, err)
			require.Equal(t, "tx-8", got.Intent)

			require.NoError(t, s.Delete(ctx, "ns", "k1"))
			require.NoError(t, s.Delete(ctx, "ns", "unknown"))
			_, ok, err = s.Get(ctx, "ns", "k1")
			require.NoError(t, err)
			require.False(t, ok)
			_, ok, err = s.Get(ctx, "other", "k1")
			require.NoError(t, err)
			require.True(t, ok)

			// Values, and records and values in one Apply each.
			require.NoError(t, s.Apply(ctx, "vals", []applied.Write{
				{Key: "a", Value: []byte{0, 1, 2}}, {Key: "b", Value: []byte("bee")}, {Key: "c", Value: []byte{}},
			}))
			require.NoError(t, s.Apply(ctx, "recs", []applied.Write{{Key: "a", Record: &r1}}))
			v, ok, err := s.GetValue(ctx, "vals", "a")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, []byte{0, 1, 2}, v)
			_, ok, err = s.GetValue(ctx, "vals", "unknown")
			require.NoError(t, err)
			require.False(t, ok)
			got, ok, err = s.Get(ctx, "recs", "a")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, r1, got)
			vals := map[string]string{}
			require.NoError(t, s.ScanValues(ctx, "vals", func(k, v []byte) error { vals[string(k)] = string(v); return nil }))
			require.Equal(t, map[string]string{"a": "\x00\x01\x02", "b": "bee", "c": ""}, vals)
			require.ErrorIs(t, s.ScanValues(ctx, "vals", func(k, v []byte) error { return stop }), stop)
			require.NoError(t, s.ScanValues(ctx, "none", func(k, v []byte) error { return stop }))
			require.NoError(t, s.Apply(ctx, "vals", []applied.Write{{Key: "a"}}))
			_, ok, err = s.GetValue(ctx, "vals", "a")
			require.NoError(t, err)
			require.False(t, ok)
		})
	}
}

func TestFileIsDurableAndExclusive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	f, err := applied.OpenFile(path)
	require.NoError(t, err)
	require.NoError(t, f.Put(ctx, "ns", "k", applied.Record{Intent: "tx"}))
	require.NoError(t, f.Close())

	f, err = applied.OpenFile(path)
	require.NoError(t, err)
	defer f.Close()
	r, ok, err := f.Get(ctx, "ns", "k")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "tx", r.Intent)
}

func TestNamespace(t *testing.T) {
	t.Parallel()
	a := applied.Namespace("https://API.example.com/dm/", "issuers")
	for _, same := range []string{"https://api.example.com/dm", "https://user:pw@api.example.com/dm?x=1"} {
		require.Equal(t, a, applied.Namespace(same, "issuers"), same)
	}
	require.NotEqual(t, a, applied.Namespace("https://api.example.com/other", "issuers"))
	require.NotEqual(t, a, applied.Namespace("https://api.example.com/dm", "program-licenses"))
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		same bool
	}{
		{`{"a": 1, "b": [1, 2]}`, `{"b":[1,2],"a":1}`, true},
		{`"x@example.com"`, `"x@example.com"`, true},
		{`{"a": 1}`, `{"a": 2}`, false},
		{`"a"`, `"b"`, false},
		{`not json`, `not json`, true},
	}
	for _, tt := range tests {
		got := applied.Fingerprint(json.RawMessage(tt.a)) == applied.Fingerprint(json.RawMessage(tt.b))
		require.Equal(t, tt.same, got, "%s vs %s", tt.a, tt.b)
	}
}

// TestFileReadsAfterDroppingPages reads past the points where File drops
// the state file's mapped pages (every 64 reads, every 4,096 keys
// scanned): what comes back is unchanged.
func TestFileReadsAfterDroppingPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, err := applied.OpenFile(filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	defer f.Close()
	const n = 10_000
	var writes []applied.Write
	for i := range n {
		writes = append(writes, applied.Write{Key: strconv.Itoa(i), Value: []byte("v" + strconv.Itoa(i))})
	}
	require.NoError(t, f.Apply(ctx, "vals", writes))
	seen := 0
	require.NoError(t, f.ScanValues(ctx, "vals", func(k, v []byte) error {
		require.Equal(t, "v"+string(k), string(v))
		seen++
		return nil
	}))
	require.Equal(t, n, seen)
	for i := 0; i < n; i += 37 {
		v, ok, err := f.GetValue(ctx, "vals", strconv.Itoa(i))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "v"+strconv.Itoa(i), string(v))
	}
}
