package cache

import (
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestMap(t *testing.T) (*Guard, *Map[string, int], *clock) {
	t.Helper()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	g := NewGuard(c.now)
	m := NewMap[string, int](g, c.now, time.Minute, 3)

	return g, m, c
}

func mustGet(t *testing.T, m *Map[string, int], k string, want int) {
	t.Helper()
	got, ok := m.Get(k)
	if !ok || got != want {
		t.Fatalf("Get(%q) = %d, %v; want %d, true", k, got, ok, want)
	}
}

func mustMiss(t *testing.T, m *Map[string, int], k string) {
	t.Helper()
	if got, ok := m.Get(k); ok {
		t.Fatalf("Get(%q) = %d, true; want a miss", k, got)
	}
}

func TestServesNothingUntilAlive(t *testing.T) {
	g, m, c := newTestMap(t)

	m.Put(g.Ticket(), "a", 1)
	mustMiss(t, m, "a")
	if m.Len() != 0 {
		t.Fatalf("a Put before Alive stored %d entries", m.Len())
	}

	g.Alive(c.now().Add(3 * time.Second))
	m.Put(g.Ticket(), "a", 1)
	mustGet(t, m, "a", 1)
}

func TestStopsServingWhenHeartbeatsStop(t *testing.T) {
	g, m, c := newTestMap(t)
	g.Alive(c.now().Add(3 * time.Second))
	m.Put(g.Ticket(), "a", 1)

	c.add(2 * time.Second)
	mustGet(t, m, "a", 1)

	c.add(time.Second)
	mustMiss(t, m, "a")

	g.Alive(c.now().Add(3 * time.Second))
	mustGet(t, m, "a", 1)
}

func TestEntriesExpire(t *testing.T) {
	g, m, c := newTestMap(t)
	g.Alive(c.now().Add(time.Hour))
	m.Put(g.Ticket(), "a", 1)

	c.add(time.Minute - time.Nanosecond)
	mustGet(t, m, "a", 1)
	c.add(time.Nanosecond)
	mustMiss(t, m, "a")
}

func TestChangeDuringReadIsNotStored(t *testing.T) {
	g, m, c := newTestMap(t)
	other := NewMap[string, int](g, c.now, time.Minute, 3)
	g.Alive(c.now().Add(time.Hour))

	// A read starts, a notification for the same key arrives, and the
	// read's result would be stale.
	ticket := g.Ticket()
	m.Delete("a")
	m.Put(ticket, "a", 1)
	mustMiss(t, m, "a")

	// A change on another map also stops it: the counter is shared.
	ticket = g.Ticket()
	other.Delete("x")
	m.Put(ticket, "a", 1)
	mustMiss(t, m, "a")

	m.Put(g.Ticket(), "a", 2)
	mustGet(t, m, "a", 2)
}

func TestDeleteRemovesEntry(t *testing.T) {
	g, m, c := newTestMap(t)
	g.Alive(c.now().Add(time.Hour))
	m.Put(g.Ticket(), "a", 1)
	m.Put(g.Ticket(), "b", 2)

	m.Delete("a")
	mustMiss(t, m, "a")
	mustGet(t, m, "b", 2)
}

func TestResetDropsEverything(t *testing.T) {
	g, m, c := newTestMap(t)
	other := NewMap[string, int](g, c.now, time.Minute, 3)
	g.Alive(c.now().Add(time.Hour))
	ticket := g.Ticket()
	m.Put(ticket, "a", 1)
	other.Put(ticket, "x", 9)

	g.Reset()
	if m.Len() != 0 || other.Len() != 0 {
		t.Fatalf("after Reset: %d and %d entries, want 0", m.Len(), other.Len())
	}

	// Nothing is served, and nothing read before the reset is stored,
	// even after the notifications are alive again.
	g.Alive(c.now().Add(time.Hour))
	m.Put(ticket, "a", 1)
	mustMiss(t, m, "a")
}

func TestSizeIsBounded(t *testing.T) {
	g, m, c := newTestMap(t)
	g.Alive(c.now().Add(time.Hour))

	m.Put(g.Ticket(), "a", 1)
	m.Put(g.Ticket(), "b", 2)
	c.add(30 * time.Second)
	m.Put(g.Ticket(), "c", 3)
	c.add(31 * time.Second)
	// a and b have expired: making room drops them and keeps c.
	m.Put(g.Ticket(), "d", 4)
	if m.Len() != 2 {
		t.Fatalf("Len = %d, want 2 after expired entries were dropped", m.Len())
	}
	mustGet(t, m, "c", 3)
	mustGet(t, m, "d", 4)

	m.Put(g.Ticket(), "e", 5)
	m.Put(g.Ticket(), "f", 6)
	if m.Len() > 3 {
		t.Fatalf("Len = %d, want at most 3", m.Len())
	}
	mustGet(t, m, "f", 6)
}

func TestMapWithoutGuard(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	m := NewMap[string, int](nil, c.now, time.Minute, 10)

	var zero Ticket
	m.Put(zero, "a", 1)
	mustGet(t, m, "a", 1)
	m.Delete("a")
	mustMiss(t, m, "a")
}

func TestConcurrentUse(t *testing.T) {
	g := NewGuard(nil)
	m := NewMap[int, int](g, time.Now, time.Minute, 100)
	g.Alive(time.Now().Add(time.Hour))

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				k := (w*1000 + i) % 150
				m.Put(g.Ticket(), k, i)
				m.Get(k)
				if i%10 == 0 {
					m.Delete(k)
				}
				if i%500 == 0 {
					g.Reset()
					g.Alive(time.Now().Add(time.Hour))
				}
			}
		})
	}
	wg.Wait()
	if m.Len() > 100 {
		t.Fatalf("Len = %d, want at most 100", m.Len())
	}
}
