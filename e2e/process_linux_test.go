package e2e

import (
	"os/exec"
	"syscall"
)

// setProcessAttributes makes the kernel kill the server when the test
// process dies, for example when `go test -timeout` aborts it before any
// cleanup runs. Linux sends the signal when the thread that started the child
// exits. The Go runtime ends a thread only when a goroutine returns while it
// is locked to that thread, and no code in these tests does that.
func setProcessAttributes(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
