//go:build unix && !linux

package e2e

import "syscall"

// sysProcAttr puts a child in its own process group, so that the test can
// kill it with whatever it forked.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
