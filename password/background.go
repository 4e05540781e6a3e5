package password

import (
	"runtime"
	"sync"
)

// inBackground runs f on an operating system thread of its own with the
// lowest CPU priority and waits for it. bcrypt is the only work in Portero
// that holds a CPU for hundreds of milliseconds, so the kernel gives CPUs to
// every other thread first: pages of logged-in users, PostgreSQL, and the
// rest of the machine. With idle CPUs a hash runs at full speed.
//
// A goroutine needs one of Go's GOMAXPROCS processors to run, and a busy
// bcrypt goroutine would keep one from the pages however low its thread's
// priority. So while f runs, GOMAXPROCS is one higher: pages keep every
// processor they had, and the kernel shares the CPUs by priority.
//
// The thread ends with f, because its goroutine exits while locked to it, so
// no other goroutine ever runs at the lowered priority.
func inBackground(f func()) {
	extraProcs.add(1)
	defer extraProcs.add(-1)

	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Not unlocked on purpose: see above.
		lowerThreadPriority()
		defer close(done)
		f()
	}()
	<-done
}

// extraProcs counts the bcrypt calls running in the background and keeps
// GOMAXPROCS at the value it had before the first of them plus that count.
var extraProcs procCounter

type procCounter struct {
	mu     sync.Mutex
	active int
	// base is GOMAXPROCS while no call runs.
	base int
}

func (p *procCounter) add(delta int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active == 0 {
		p.base = runtime.GOMAXPROCS(0)
	}
	p.active += delta
	// GOMAXPROCS stops the world for a moment, a few times per login,
	// which is nothing next to the hash itself.
	runtime.GOMAXPROCS(p.base + p.active)
}
