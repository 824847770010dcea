//go:build !linux

package paymenttest

import "os/exec"

// killWithParent has no equivalent here; the test's cleanup kills the mock.
func killWithParent(*exec.Cmd) {}
