package stripemocktest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill stripe-mock if the test binary dies without running
// its cleanups (a panic, a -timeout), so no server is left behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
