package worker

import (
	"testing"

	"github.com/bulksync/bulksync/importers"
	"github.com/stretchr/testify/require"
)

// TestRegistry checks that every kind has both a schema and an applier,
// once each.
func TestRegistry(t *testing.T) {
	t.Parallel()
	appliers := map[importers.Kind]int{}
	for _, r := range registry() {
		appliers[r.kind]++
		_, err := importers.Lookup(r.kind)
		require.NoError(t, err, "the applier of %s has a schema", r.kind)
		require.NotNil(t, r.applier, r.kind)
	}
	for _, s := range importers.Schemas() {
		require.Equal(t, 1, appliers[s.Kind], "kind %s has one applier", s.Kind)
	}
	require.Len(t, appliers, len(importers.Schemas()))
}
