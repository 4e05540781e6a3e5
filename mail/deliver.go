package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"time"

	"github.com/portero/portero/db"
)

// Defaults of the deliverer that `portero serve` runs.
const (
	// PollInterval is the wait between two checks of the outbox when the
	// last one found nothing to send.
	PollInterval = 5 * time.Second
	// UserGap holds a user's further events while a mail to that user was
	// sent within the last minute, so a burst of failed logins makes about
	// one mail a minute that lists them together.
	UserGap = time.Minute
	// Lease is how long a claimed row stays with one instance. It exceeds
	// SendTimeout, so the row is claimed again only after its instance
	// stopped or crashed during the send.
	Lease = 2 * time.Minute
	// MaxEventsPerMail caps the events that one mail lists; the rest wait
	// for the next mail.
	MaxEventsPerMail = 50
	// MaxAttempts, with FirstRetryDelay doubling up to MaxRetryDelay, gives
	// a mail about 3 hours to get through before it is given up. The waits
	// between the 10 attempts are 30 s, 1, 2, 4, 8, 16 and 32 min, then 1 h
	// twice.
	MaxAttempts     = 10
	FirstRetryDelay = 30 * time.Second
	MaxRetryDelay   = time.Hour
)

// maxErrorWait is the longest wait of Run after a failed database query.
const maxErrorWait = time.Minute

// ErrNotSent marks a mail that the server did not accept and that is
// scheduled for another attempt or given up.
var ErrNotSent = errors.New("security notice mail not sent")

// outbox is the part of the database that the deliverer needs.
type outbox interface {
	ClaimMail(ctx context.Context, claim db.MailClaim) ([]db.QueuedMail, error)
	MarkMailSent(ctx context.Context, ids []int64) error
	RetryMail(ctx context.Context, ids []int64, cause string, retry db.MailRetry) ([]int64, error)
	GiveUpMail(ctx context.Context, ids []int64, cause string) error
	ReleaseMail(ctx context.Context, ids []int64) error
}

// sender sends one message; *Sender is the SMTP implementation.
type sender interface {
	Send(ctx context.Context, m Message) error
}

// Deliverer sends the rows of mail_outbox, one mail per user and claim.
// Several deliverers, in one process or many, may run on one database: each
// row is claimed by one of them at a time.
type Deliverer struct {
	Outbox outbox
	Sender sender
	From   mail.Address
	Log    *slog.Logger

	Claim db.MailClaim
	Retry db.MailRetry
	// Poll is the wait between two checks of an empty outbox.
	Poll time.Duration
	// Now returns the Date of each message; nil is time.Now.
	Now func() time.Time
}

// NewDeliverer returns a deliverer with the defaults of this package.
func NewDeliverer(store outbox, s sender, from mail.Address, logger *slog.Logger) *Deliverer {
	return &Deliverer{
		Outbox: store,
		Sender: s,
		From:   from,
		Log:    logger,
		Claim:  db.MailClaim{Limit: MaxEventsPerMail, UserGap: UserGap, Lease: Lease},
		Retry:  db.MailRetry{FirstDelay: FirstRetryDelay, MaxDelay: MaxRetryDelay, MaxAttempts: MaxAttempts},
		Poll:   PollInterval,
	}
}

// Run delivers due mails until ctx ends. After a failed database query it
// logs the error and waits twice as long as before, up to maxErrorWait, so
// a database outage logs about one line a minute.
func (d *Deliverer) Run(ctx context.Context) {
	d.Log.Info("Mail delivery started.", "from", d.From.Address)
	timer := time.NewTimer(0)
	defer timer.Stop()
	wait := d.Poll

	for {
		select {
		case <-ctx.Done():
			d.Log.Info("Mail delivery stopped.")
			return
		case <-timer.C:
		}

		// deliver has logged a mail that was not sent.
		_, err := d.DeliverDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !errors.Is(err, ErrNotSent):
			wait = min(wait*2, maxErrorWait)
			d.Log.Error("Mail delivery failed; retrying.", "error", err, "retry_in", wait)
		default:
			wait = d.Poll
		}
		timer.Reset(wait)
	}
}

// DeliverDue sends mails until no row is due, and returns how many mails
// the server accepted. It stops at the first failed send, which is then
// scheduled for a retry, because the next send would most likely fail too.
func (d *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	sent := 0
	for {
		claimed, err := d.Outbox.ClaimMail(ctx, d.Claim)
		if err != nil {
			return sent, err
		}
		if len(claimed) == 0 {
			return sent, nil
		}

		accepted, err := d.deliver(ctx, claimed)
		if err != nil {
			return sent, err
		}
		if accepted {
			sent++
		}
	}
}

// deliver sends one mail with the claimed rows of one user, records the
// outcome on the rows and reports whether the server accepted the mail.
func (d *Deliverer) deliver(ctx context.Context, claimed []db.QueuedMail) (bool, error) {
	ids := make([]int64, len(claimed))
	events := make([]db.SecurityEvent, len(claimed))
	for i, m := range claimed {
		ids[i], events[i] = m.ID, m.Event
	}
	email, userID := claimed[0].Email, claimed[0].Event.UserID
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}

	subject, body := NoticeMail(email, events)
	err := d.Sender.Send(ctx, Message{From: d.From, To: email, Subject: subject, Body: body, Date: now()})
	// The outcome is stored even when ctx ended during the send.
	store, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()

	switch {
	case err == nil:
		if err := d.Outbox.MarkMailSent(store, ids); err != nil {
			// NOTE: the rows are sent again once their lease ends.
			return true, err
		}
		d.Log.Info("Security notice mail sent.", "user_id", userID, "events", len(ids), "attempt", claimed[0].Attempts)
		return true, nil
	case ctx.Err() != nil:
		// The shutdown closed the connection, which is no sign of a fault
		// in the server, so the attempt is not counted.
		d.Log.Info("Security notice mail interrupted by the shutdown; it will be sent again.", "user_id", userID, "events", len(ids))
		if releaseErr := d.Outbox.ReleaseMail(store, ids); releaseErr != nil {
			return false, errors.Join(err, releaseErr)
		}
		return false, fmt.Errorf("%w: %w", ErrNotSent, err)
	case errors.Is(err, ErrInvalidAddress):
		d.Log.Error("Security notice mail given up: the user's email is not a valid address.", "user_id", userID, "events", len(ids), "error", err)
		return false, d.Outbox.GiveUpMail(store, ids, err.Error())
	}

	givenUp, retryErr := d.Outbox.RetryMail(store, ids, err.Error(), d.Retry)
	if retryErr != nil {
		return false, errors.Join(err, retryErr)
	}
	if len(givenUp) > 0 {
		d.Log.Error("Security notice mail given up after the last attempt.", "user_id", userID, "outbox_ids", givenUp, "attempts", d.Retry.MaxAttempts, "error", err)
	}
	if len(givenUp) < len(ids) {
		d.Log.Warn("Security notice mail not sent; it will be retried.", "user_id", userID, "events", len(ids)-len(givenUp), "attempt", claimed[0].Attempts, "error", err)
	}

	return false, fmt.Errorf("%w: %w", ErrNotSent, err)
}
