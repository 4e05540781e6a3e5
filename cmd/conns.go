package cmd

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// newConnTracker records connections that have not sent a request yet.
// http.Server.Shutdown leaves such a connection open until it is 5 s old,
// and browsers open them ahead of time, so without this every stop would
// wait about 5 s for connections that may never carry a request.
type newConnTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]time.Time
}

func (t *newConnTracker) track(c net.Conn, state http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()

	if state == http.StateNew {
		t.conns[c] = time.Now()
		return
	}
	delete(t.conns, c)
}

// closeOlderThan closes the connections that have sent nothing for at least
// age. A younger one may be a proxy about to send its request, so it gets
// until the next call.
func (t *newConnTracker) closeOlderThan(age time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()

	for c, since := range t.conns {
		if time.Since(since) >= age {
			c.Close()
			delete(t.conns, c)
		}
	}
}

// closeWhileShuttingDown calls closeOlderThan every 100 ms until done closes.
func (t *newConnTracker) closeWhileShuttingDown(done <-chan struct{}) {
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()

	for {
		select {
		case <-done:
			return
		case <-ticker.C:
			t.closeOlderThan(500 * time.Millisecond)
		}
	}
}
