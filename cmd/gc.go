package cmd

import (
	"runtime/debug"

	"github.com/portero/portero/config"
)

// The garbage collector settings of `portero serve`, unless the Go runtime's
// own GOGC or GOMEMLIMIT variables set them.
//
// A logged-in page allocates about 16 KB and keeps none of it, while the
// live heap is a few megabytes. With Go's default GOGC of 100 the collector
// would run dozens of times a second under load, and each run takes CPU from
// the pages it interrupts. A higher GOGC runs it less often, and the memory
// limit runs it earlier again when the heap nears the limit. GOGC=400 with
// 28 MiB took the peak resident memory to 41.5 MB in `make bench-smoke`,
// over the 40 MB target, for no clear gain over these values.
const (
	serverGCPercent   = 200
	serverMemoryLimit = 20 << 20
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
