//go:build !linux

package e2e

import "os/exec"

// setProcessAttributes does nothing outside Linux, which has no Pdeathsig.
// The test cleanups still kill every server that they started.
func setProcessAttributes(cmd *exec.Cmd) {}
