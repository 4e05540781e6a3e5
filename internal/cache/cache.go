// Package cache keeps copies of database rows in memory while PostgreSQL can
// tell the process that they changed.
//
// A Guard represents one stream of change notifications. Its maps serve
// entries only while that stream shows it is alive, and every notification,
// reconnection or loss makes the guard refuse entries that were read from
// the database before it. So a copy is never served after a change that
// this process has heard of, and never while it could have missed one.
package cache

import (
	"sync"
	"sync/atomic"
	"time"
)

// Guard decides whether the entries of its maps may be served.
type Guard struct {
	now func() time.Time
	// gen counts the events after which an entry read from the database
	// earlier may be stale: each change and each reset.
	gen atomic.Uint64
	// liveUntil is the Unix time in nanoseconds until which entries may be
	// served; 0 while the notifications are not known to arrive.
	liveUntil atomic.Int64

	mu   sync.Mutex
	maps []interface{ clear() }
}

// NewGuard returns a guard that serves nothing until Alive is called. now
// returns the current time, and nil means time.Now.
func NewGuard(now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}

	return &Guard{now: now}
}

// Ticket records the guard's state before a database read. Put stores the
// result of the read only if nothing happened since.
type Ticket struct {
	gen uint64
}

// Ticket returns the ticket for a read that starts now.
func (g *Guard) Ticket() Ticket {
	if g == nil {
		return Ticket{}
	}

	return Ticket{gen: g.gen.Load()}
}

// Alive records that notifications arrive, so entries may be served until
// the given time.
func (g *Guard) Alive(until time.Time) {
	g.liveUntil.Store(until.UnixNano())
}

// Live reports whether entries may be served now.
func (g *Guard) Live() bool {
	return g == nil || g.now().UnixNano() < g.liveUntil.Load()
}

// Reset drops every entry and serves none until the next Alive. It is called
// when the notifications start, stop or may have been missed.
func (g *Guard) Reset() {
	g.liveUntil.Store(0)
	g.gen.Add(1)

	g.mu.Lock()
	maps := g.maps
	g.mu.Unlock()
	for _, m := range maps {
		m.clear()
	}
}

// Map holds entries of one kind under a guard. A Map without a guard holds
// values that no database change can make stale, such as decoded cookies.
type Map[K comparable, V any] struct {
	guard *Guard
	now   func() time.Time
	ttl   time.Duration
	max   int

	mu    sync.RWMutex
	items map[K]item[V]
}

type item[V any] struct {
	value V
	// until is the Unix time in nanoseconds after which the entry is not
	// served.
	until int64
}

// NewMap returns a map whose entries are served for at most ttl and which
// holds at most max entries. guard may be nil; now must not be.
func NewMap[K comparable, V any](guard *Guard, now func() time.Time, ttl time.Duration, max int) *Map[K, V] {
	m := &Map[K, V]{guard: guard, now: now, ttl: ttl, max: max, items: make(map[K]item[V])}
	if guard != nil {
		guard.mu.Lock()
		guard.maps = append(guard.maps, m)
		guard.mu.Unlock()
	}

	return m
}

// Get returns the entry for k if it may be served.
func (m *Map[K, V]) Get(k K) (V, bool) {
	var zero V
	if !m.guard.Live() {
		return zero, false
	}

	m.mu.RLock()
	it, ok := m.items[k]
	m.mu.RUnlock()
	if !ok || m.now().UnixNano() >= it.until {
		return zero, false
	}

	return it.value, true
}

// Put stores v for k, unless the guard saw a change or a reset since t was
// taken, or cannot vouch for entries now.
func (m *Map[K, V]) Put(t Ticket, k K, v V) {
	if !m.guard.Live() {
		return
	}

	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	// The guard's counter is read under this map's lock, which Delete and
	// clear also take, so a change to k either happens before this check
	// and stops the Put, or after it and removes the entry.
	if m.guard != nil && m.guard.gen.Load() != t.gen {
		return
	}
	if len(m.items) >= m.max {
		for key, it := range m.items {
			if now >= it.until {
				delete(m.items, key)
			}
		}
		if len(m.items) >= m.max {
			clear(m.items)
		}
	}
	m.items[k] = item[V]{value: v, until: now + int64(m.ttl)}
}

// Delete removes the entry for k and stops every Put whose ticket was taken
// before.
func (m *Map[K, V]) Delete(k K) {
	m.mu.Lock()
	delete(m.items, k)
	if m.guard != nil {
		m.guard.gen.Add(1)
	}
	m.mu.Unlock()
}

// DeleteFunc removes every entry for which drop returns true and stops
// every Put whose ticket was taken before.
func (m *Map[K, V]) DeleteFunc(drop func(K, V) bool) {
	m.mu.Lock()
	for k, it := range m.items {
		if drop(k, it.value) {
			delete(m.items, k)
		}
	}
	if m.guard != nil {
		m.guard.gen.Add(1)
	}
	m.mu.Unlock()
}

// Clear removes every entry and stops every Put whose ticket was taken
// before.
func (m *Map[K, V]) Clear() {
	m.DeleteFunc(func(K, V) bool { return true })
}

// Len returns the number of entries held, served or not.
func (m *Map[K, V]) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()

	return len(m.items)
}

func (m *Map[K, V]) clear() {
	m.mu.Lock()
	clear(m.items)
	m.mu.Unlock()
}
