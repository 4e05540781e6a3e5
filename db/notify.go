package db

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channels on which the triggers of migration 00008 announce changed rows.
// A session is named by the hex SHA-256 of its key, a user by its id; "*"
// stands for every row of the table.
const (
	SessionChannel = "portero_session_changed"
	UserChannel    = "portero_user_changed"
	// heartbeatChannel carries the notifications that each instance sends
	// to show that notifications still arrive.
	heartbeatChannel = "portero_heartbeat"
)

// ChangeHandler receives what Listen hears.
type ChangeHandler interface {
	// Reset is called when listening starts, restarts or stops, because
	// changes may have been missed in between.
	Reset()
	// Alive is called when a heartbeat arrives, with the time until which
	// a notification sent now would have arrived too.
	Alive(until time.Time)
	// Changed is called for each change notification.
	Changed(channel, payload string)
}

// ListenOptions configures Listen.
type ListenOptions struct {
	// Heartbeat is how often a heartbeat notification is sent. Without one
	// for four intervals, the listening connection is replaced.
	Heartbeat time.Duration
	Logger    *slog.Logger
}

// Listen holds a connection of its own that listens on SessionChannel and
// UserChannel, and passes what arrives to h until ctx ends. It sends a
// heartbeat through the pool every opts.Heartbeat, so that a connection that
// stopped delivering, without an error, is noticed too. After a failure it
// calls h.Reset and connects again.
func (d *DB) Listen(ctx context.Context, h ChangeHandler, opts ListenOptions) {
	go d.sendHeartbeats(ctx, opts.Heartbeat)

	delay := 100 * time.Millisecond
	for {
		started := time.Now()
		err := d.listenOnce(ctx, h, opts.Heartbeat)
		h.Reset()
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			delay = 100 * time.Millisecond
		}
		opts.Logger.Warn("Listening for session changes failed; in-memory copies are off until it works again.",
			"error", err, "retry_in", delay)

		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func (d *DB) listenOnce(ctx context.Context, h ChangeHandler, heartbeat time.Duration) error {
	connectCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(connectCtx, d.Pool.Config().ConnConfig.Copy())
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()

	for _, channel := range []string{SessionChannel, UserChannel, heartbeatChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
			return err
		}
	}
	// Whatever was copied before LISTEN took effect may have changed
	// unheard.
	h.Reset()

	for {
		waitCtx, cancel := context.WithTimeout(ctx, 4*heartbeat)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		if err != nil {
			return err
		}
		if n.Channel == heartbeatChannel {
			// Copies stay in use for three intervals, so that a
			// heartbeat delayed by a busy machine does not turn them
			// off, while a listener that stopped hearing anything
			// turns them off within that time.
			h.Alive(time.Now().Add(3 * heartbeat))
			continue
		}
		h.Changed(n.Channel, n.Payload)
	}
}

func (d *DB) sendHeartbeats(ctx context.Context, every time.Duration) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		sendCtx, cancel := context.WithTimeout(ctx, every)
		// An error shows up as a missing heartbeat at the listener.
		_, _ = d.Pool.Exec(sendCtx, "SELECT pg_notify($1, '')", heartbeatChannel)
		cancel()

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
