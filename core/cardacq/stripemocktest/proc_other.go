//go:build !linux

package stripemocktest

import "os/exec"

// dieWithParent is a no-op where the kernel offers no parent-death signal: a test binary
// that dies without running its cleanups leaves stripe-mock running.
func dieWithParent(*exec.Cmd) {}
