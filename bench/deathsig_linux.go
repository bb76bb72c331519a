package main

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes cmd's process get SIGKILL when the process
// that started it ends.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
