package password

import (
	"runtime"
	"sync"
	"testing"
)

func TestInBackgroundAddsAProcessor(t *testing.T) {
	before := runtime.GOMAXPROCS(0)

	var inside int
	inBackground(func() { inside = runtime.GOMAXPROCS(0) })
	if inside != before+1 {
		t.Errorf("GOMAXPROCS while f runs: got %d, want %d", inside, before+1)
	}
	if after := runtime.GOMAXPROCS(0); after != before {
		t.Errorf("GOMAXPROCS after f: got %d, want %d again", after, before)
	}

	// Two calls at once add two processors.
	var wg sync.WaitGroup
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	var highest int
	var mu sync.Mutex
	for range 2 {
		wg.Go(func() {
			inBackground(func() {
				started <- struct{}{}
				<-release
				mu.Lock()
				highest = max(highest, runtime.GOMAXPROCS(0))
				mu.Unlock()
			})
		})
	}
	<-started
	<-started
	close(release)
	wg.Wait()
	if highest != before+2 {
		t.Errorf("GOMAXPROCS while two calls run: got %d, want %d", highest, before+2)
	}
	if after := runtime.GOMAXPROCS(0); after != before {
		t.Errorf("GOMAXPROCS after both calls: got %d, want %d again", after, before)
	}
}
