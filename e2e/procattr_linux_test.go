//go:build linux

package e2e

import "syscall"

// sysProcAttr puts a child in its own process group, so that the test can
// kill it with whatever it forked, and has the kernel SIGKILL it if the
// test binary dies first (a timeout panic), so no process outlives a run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
