package cmd

import (
	"runtime/debug"

	"github.com/portero/portero/config"
)

// The garbage collector settings of `portero serve`, unless the Go runtime's
// own GOGC or GOMEMLIMIT variables set them.
//
// A logged-in page allocates a few kilobytes and keeps none of it, while
// the live heap is a few megabytes. With Go's default GOGC of 100 the
// collector would run dozens of times a second under load, and each run
// takes CPU from the pages it interrupts. A higher GOGC runs it less often,
// and the memory limit runs it earlier again when the heap nears the limit.
//
// During a flood of wrong-password logins the limit, not GOGC, decides:
// with 20 MiB the collector ran 1.4 to 1.9 times as often as without the
// flood, and its stops may wait for the goroutine that runs bcrypt. In 8 s
// dashboard reads under such a flood on a 2-CPU VM (docs/benchmarks.md),
// 24 MiB brought the p99 from 20 to 25 ms down to about 16 ms. The
// server's peak resident memory rose from about 34 MB to 38 MB, under the
// 40 MB target. GOGC=400 with 28 MiB had reached 41.5 MB.
const (
	serverGCPercent   = 200
	serverMemoryLimit = 24 << 20
)

// tuneGC applies the server's garbage collector settings where the
// environment has none.
func tuneGC(getenv config.Getenv) {
	if _, set := getenv("GOGC"); !set {
		debug.SetGCPercent(serverGCPercent)
	}
	if _, set := getenv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
}
