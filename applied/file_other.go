//go:build !linux

package applied

import bolt "go.etcd.io/bbolt"

// dropMapped leaves the state file's mapping as it is where the pages'
// release is not implemented.
func dropMapped(*bolt.DB, *bolt.Tx) {}
