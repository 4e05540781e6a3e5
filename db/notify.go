package db

import (
	"context"
	"errors"
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
// stopped delivering, without an error, is noticed too. After a failure, and
// when the connection reaches the pool's MaxConnLifetime, it calls h.Reset
// and connects again.
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
		if errors.Is(err, errListenerLifetime) {
			// A planned renewal, which needs no pause and no warning.
			delay = 100 * time.Millisecond
			continue
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

// errListenerLifetime ends a listening connection that reached the pool's
// MaxConnLifetime, so that it logs in again with the current credentials.
var errListenerLifetime = errors.New("listening connection reached its maximum lifetime")

func (d *DB) listenOnce(ctx context.Context, h ChangeHandler, heartbeat time.Duration) error {
	conn, err := d.connectListener(ctx)
	if err != nil {
		return err
	}
	expires := time.Now().Add(d.Pool.Config().MaxConnLifetime)
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
		wait := min(4*heartbeat, time.Until(expires))
		if wait <= 0 {
			return errListenerLifetime
		}
		waitCtx, cancel := context.WithTimeout(ctx, wait)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		if err != nil && ctx.Err() == nil && !time.Now().Before(expires) {
			return errListenerLifetime
		}
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

// connectListener opens a connection outside the pool with the pool's
// settings, running its BeforeConnect hook, so that it reads the credential
// files as pool connections do.
func (d *DB) connectListener(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()

	config := d.Pool.Config()
	// Config returns a copy, which the hook may change.
	connConfig := config.ConnConfig
	if config.BeforeConnect != nil {
		if err := config.BeforeConnect(ctx, connConfig); err != nil {
			return nil, err
		}
	}

	return pgx.ConnectConfig(ctx, connConfig)
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
