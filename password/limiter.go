package password

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy is returned by Limiter.Acquire when no slot frees up within the
// limiter's wait.
var ErrBusy = errors.New("every bcrypt slot is busy")

// Limiter bounds how many bcrypt hashes and comparisons run at once, so
// that a burst of logins cannot take every CPU from requests that need no
// bcrypt. Every bcrypt call on the request path takes a slot first.
type Limiter struct {
	slots    chan struct{}
	wait     time.Duration
	acquired atomic.Int64
}

// NewLimiter returns a Limiter with the given number of slots, at least 1.
// Acquire waits up to wait for a free slot.
func NewLimiter(slots int, wait time.Duration) *Limiter {
	return &Limiter{slots: make(chan struct{}, max(slots, 1)), wait: wait}
}

// Acquire takes a slot, waiting up to the limiter's wait. It returns ErrBusy
// when the wait runs out and ctx.Err() when ctx ends first. On success the
// caller runs one bcrypt call and then calls release; further calls of
// release do nothing.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	timer := time.NewTimer(l.wait)
	defer timer.Stop()

	select {
	case l.slots <- struct{}{}:
	case <-timer.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	l.acquired.Add(1)

	var once sync.Once
	return func() { once.Do(func() { <-l.slots }) }, nil
}

// Acquired returns how many slots were taken since the limiter was made,
// which is the number of bcrypt calls that ran through it.
func (l *Limiter) Acquired() int64 { return l.acquired.Load() }

// Slots returns the number of slots.
func (l *Limiter) Slots() int { return cap(l.slots) }
