package password

import "syscall"

// lowestPriority is the highest nice value, the lowest priority.
const lowestPriority = 19

// lowerThreadPriority sets the calling thread's nice value to 19. On Linux
// the nice value belongs to the thread, not the process. Raising it needs
// no privilege; if it fails anyway, the hash runs at the normal priority.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), lowestPriority)
}
