package password

import "runtime"

// inBackground runs f on an operating system thread of its own with the
// lowest CPU priority and waits for it. bcrypt is the only work in Portero
// that holds a CPU for hundreds of milliseconds, so the kernel gives CPUs to
// every other thread first: pages of logged-in users, PostgreSQL, and the
// rest of the machine. With idle CPUs a hash runs at full speed.
//
// The thread ends with f, because its goroutine exits while locked to it, so
// no other goroutine ever runs at the lowered priority.
func inBackground(f func()) {
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
