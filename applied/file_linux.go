package applied

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// dropMapped tells the kernel the process no longer needs the pages of
// the state file's mapping (madvise MADV_DONTNEED): they leave the
// process's memory, stay in the page cache, and a later read maps them
// again. The mapping is read-only and never written through, so nothing
// is lost. Call it only inside a transaction of db: bbolt does not remap
// the file while one is open.
func dropMapped(db *bolt.DB, tx *bolt.Tx) {
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, db.Info().Data, uintptr(tx.Size()), syscall.MADV_DONTNEED)
}
