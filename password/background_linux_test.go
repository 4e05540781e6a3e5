package password

import (
	"runtime"
	"syscall"
	"testing"
)

// threadNice returns the nice value of the calling thread. The raw system
// call returns 20 minus the nice value.
func threadNice(t *testing.T) int {
	t.Helper()
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatalf("getpriority: %v", err)
	}

	return 20 - raw
}

func TestInBackgroundRunsAtLowestPriority(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadNice(t)

	var inside, tid int
	inBackground(func() {
		inside = threadNice(t)
		tid = syscall.Gettid()
	})
	if inside != lowestPriority {
		t.Errorf("nice value inside inBackground: got %d, want %d", inside, lowestPriority)
	}
	if tid == syscall.Gettid() {
		t.Error("inBackground ran f on the caller's thread")
	}
	if after := threadNice(t); after != before {
		t.Errorf("caller's nice value changed from %d to %d", before, after)
	}
}

func TestNoThreadKeepsLowPriority(t *testing.T) {
	inBackground(func() {})

	// Every goroutine after it runs on a thread at the process's
	// priority: the lowered thread ended with its goroutine.
	for range 50 {
		done := make(chan int)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			done <- threadNice(t)
		}()
		if nice := <-done; nice == lowestPriority {
			t.Fatal("a later goroutine ran on the thread with the lowered priority")
		}
	}
}

func TestMatchesInBackground(t *testing.T) {
	hash, err := Hash("correct horse battery staple", 4)
	if err != nil {
		t.Fatal(err)
	}
	if !Matches(hash, "correct horse battery staple") || Matches(hash, "wrong horse battery staple") {
		t.Fatal("Matches gives the wrong answer when run in the background")
	}
}
