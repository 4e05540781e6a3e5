//go:build !linux

package password

// lowerThreadPriority does nothing where the nice value belongs to the
// whole process.
func lowerThreadPriority() {}
