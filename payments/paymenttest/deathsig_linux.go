package paymenttest

import (
	"os/exec"
	"syscall"
)

// killWithParent makes the kernel kill stripe-mock when the test binary
// dies without its cleanup (a panic, a timeout's os.Exit), so no mock
// outlives the tests.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
