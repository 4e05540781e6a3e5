package password_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portero/portero/password"
)

func TestLimiterBusyWhenFull(t *testing.T) {
	l := password.NewLimiter(2, 50*time.Millisecond)
	ctx := context.Background()

	first, err := l.Acquire(ctx)
	if err != nil {
		t.Fatalf("first Acquire: got error %v, want nil", err)
	}
	second, err := l.Acquire(ctx)
	if err != nil {
		t.Fatalf("second Acquire: got error %v, want nil", err)
	}

	if _, err := l.Acquire(ctx); !errors.Is(err, password.ErrBusy) {
		t.Fatalf("Acquire with every slot taken: got error %v, want ErrBusy", err)
	}

	first()
	first() // A second release must not free a slot held by someone else.
	third, err := l.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire after a release: got error %v, want nil", err)
	}
	if _, err := l.Acquire(ctx); !errors.Is(err, password.ErrBusy) {
		t.Errorf("Acquire after a double release: got error %v, want ErrBusy", err)
	}

	second()
	third()
	if got := l.Acquired(); got != 3 {
		t.Errorf("Acquired: got %d, want 3", got)
	}
}

func TestLimiterContextEnds(t *testing.T) {
	l := password.NewLimiter(1, time.Hour)
	release, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: got error %v, want nil", err)
	}
	defer release()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with a cancelled context: got error %v, want context.Canceled", err)
	}
}

func TestLimiterBoundsConcurrency(t *testing.T) {
	const slots = 3
	l := password.NewLimiter(slots, time.Minute)

	var running, peak atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			release, err := l.Acquire(context.Background())
			if err != nil {
				t.Errorf("Acquire: got error %v, want nil", err)
				return
			}
			defer release()

			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
		})
	}
	wg.Wait()

	if got := peak.Load(); got > slots {
		t.Errorf("peak concurrent holders: got %d, want at most %d", got, slots)
	}
	if got := l.Acquired(); got != 20 {
		t.Errorf("Acquired: got %d, want 20", got)
	}
}

func TestLimiterAtLeastOneSlot(t *testing.T) {
	if got := password.NewLimiter(0, time.Millisecond).Slots(); got != 1 {
		t.Errorf("NewLimiter(0).Slots(): got %d, want 1", got)
	}
}
