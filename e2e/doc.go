// Package e2e holds bulksync's end-to-end tests: the real binary, a
// dedicated redis-server, the sandbox and worker processes, killed,
// stopped and restarted while a batch runs. It has no code of its own.
//
//	go test ./e2e                                                # the short chaos run (2,000 rows) and the others
//	go test ./e2e -run Chaos -chaos.rows 20000 -timeout 40m -v  # the full run (or BULKSYNC_CHAOS_ROWS=20000)
//
// The tests skip when redis-server is not on PATH.
package e2e
