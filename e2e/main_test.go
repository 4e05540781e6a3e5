package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binaryPath is the portero binary that TestMain builds for every test.
var binaryPath string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// runTests builds the binary into a temporary directory, runs the tests and
// removes the directory, so that the deferred removal runs before os.Exit.
func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "portero-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: create a directory for the binary: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	binaryPath = filepath.Join(dir, "portero")
	build := exec.Command("go", "build", "-o", binaryPath, "github.com/portero/portero")
	build.Stdout = os.Stderr
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build github.com/portero/portero failed: %v\n", err)
		return 1
	}

	return m.Run()
}
