package consultest

import (
	"os/exec"
	"syscall"
)

// orphanProof makes the kernel stop the agent when the test process dies without running
// its cleanups (a test binary killed at its -timeout), so no agent outlives its test.
func orphanProof(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
