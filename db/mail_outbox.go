package db

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// QueuedMail is one claimed row of mail_outbox with the event it reports.
type QueuedMail struct {
	ID int64
	// Attempts counts the attempts to send the row, this one included.
	Attempts int
	// Email is the recipient: the email of the event's user.
	Email string
	Event SecurityEvent
}

// MailClaim sets which rows ClaimMail takes and for how long.
type MailClaim struct {
	// Limit is the maximum number of rows in one claim.
	Limit int
	// UserGap keeps a user's rows waiting while a mail to that user was sent
	// less than UserGap ago, so that a burst of events makes few mails.
	UserGap time.Duration
	// Lease is how long the claimed rows stay with the claimer. After that
	// another instance may claim them again, so it must exceed the time a
	// send can take.
	Lease time.Duration
}

// MailRetry sets when a failed row is tried again.
type MailRetry struct {
	// FirstDelay is the wait after the first failed attempt. It doubles
	// with each further attempt, up to MaxDelay.
	FirstDelay time.Duration
	MaxDelay   time.Duration
	// MaxAttempts is the number of attempts after which a row is given up.
	MaxAttempts int
}

// SetMailEnabled turns the queueing of security notice mails on or off for
// every writer of security events.
func (d *DB) SetMailEnabled(ctx context.Context, enabled bool) error {
	_, err := d.Pool.Exec(ctx, `
		UPDATE mail_settings
		SET enabled = $1
		WHERE enabled <> $1`, enabled)
	if err != nil {
		return fmt.Errorf("set mail_settings.enabled to %t: %w", enabled, err)
	}

	return nil
}

// ClaimMail claims the due rows of one user, oldest first, and returns
// them, or none when no row is due. Rows that another instance holds are
// skipped rather than awaited, so two instances never claim the same row
// while its lease runs. A user is skipped while one of the user's rows is
// claimed or waits for a retry, so later events neither overtake it in a
// mail of their own nor make one attempt after another while the server
// fails.
func (d *DB) ClaimMail(ctx context.Context, claim MailClaim) ([]QueuedMail, error) {
	rows, err := d.Pool.Query(ctx, `
		WITH next_user AS (
			SELECT o.user_id
			FROM mail_outbox o
			WHERE o.sent_at IS NULL
			  AND o.failed_at IS NULL
			  AND o.next_attempt_at <= now()
			  -- The users who got a mail within the gap, and those with a
			  -- row claimed or waiting for a retry. One set, which
			  -- PostgreSQL hashes once, rather than a probe per due row.
			  AND o.user_id NOT IN (
			      SELECT s.user_id
			      FROM mail_outbox s
			      WHERE s.sent_at > now() - make_interval(secs => $2)
			      UNION ALL
			      SELECT w.user_id
			      FROM mail_outbox w
			      WHERE w.sent_at IS NULL
			        AND w.failed_at IS NULL
			        AND w.attempts > 0
			        AND w.next_attempt_at > now()
			  )
			ORDER BY o.id
			LIMIT 1
			FOR UPDATE OF o SKIP LOCKED
		),
		due AS (
			SELECT o.id
			FROM mail_outbox o
			JOIN next_user n ON n.user_id = o.user_id
			WHERE o.sent_at IS NULL
			  AND o.failed_at IS NULL
			  AND o.next_attempt_at <= now()
			ORDER BY o.id
			LIMIT $1
			FOR UPDATE OF o SKIP LOCKED
		)
		UPDATE mail_outbox o
		SET attempts = o.attempts + 1,
		    next_attempt_at = now() + make_interval(secs => $3)
		FROM due, security_events e, users u
		WHERE o.id = due.id
		  AND e.id = o.event_id
		  AND u.id = o.user_id
		RETURNING
			o.id,
			o.attempts,
			u.email,
			e.id,
			e.occurred_at,
			o.user_id,
			e.kind,
			e.client_ip,
			e.user_agent,
			e.details`,
		claim.Limit, claim.UserGap.Seconds(), claim.Lease.Seconds())
	if err != nil {
		return nil, fmt.Errorf("claim queued mails: %w", err)
	}
	defer rows.Close()

	var claimed []QueuedMail
	for rows.Next() {
		var m QueuedMail
		e := &m.Event
		if err := rows.Scan(&m.ID, &m.Attempts, &m.Email, &e.ID, &e.OccurredAt, &e.UserID, &e.Kind, &e.ClientIP, &e.UserAgent, &e.Details); err != nil {
			return nil, fmt.Errorf("claim queued mails: %w", err)
		}
		m.Event.UserEmail = m.Email
		claimed = append(claimed, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim queued mails: %w", err)
	}

	// RETURNING follows no ORDER BY, and a mail lists its events in order.
	slices.SortFunc(claimed, func(a, b QueuedMail) int { return cmp.Compare(a.ID, b.ID) })

	return claimed, nil
}

// MarkMailSent records that the SMTP server accepted the mail of the rows.
func (d *DB) MarkMailSent(ctx context.Context, ids []int64) error {
	_, err := d.Pool.Exec(ctx, `
		UPDATE mail_outbox
		SET sent_at = now(),
		    last_error = ''
		WHERE id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("mark mails %v as sent: %w", ids, err)
	}

	return nil
}

// RetryMail records a failed attempt on the rows and schedules the next one
// by retry. A row that has had retry.MaxAttempts attempts is given up, and
// RetryMail returns the ids of those rows. cause is stored, cut to 500
// bytes.
func (d *DB) RetryMail(ctx context.Context, ids []int64, cause string, retry MailRetry) ([]int64, error) {
	rows, err := d.Pool.Query(ctx, `
		UPDATE mail_outbox
		SET last_error = $2,
		    next_attempt_at = now() + least(
		        make_interval(secs => $3) * power(2, greatest(attempts - 1, 0)),
		        make_interval(secs => $4)
		    ),
		    failed_at = CASE WHEN attempts >= $5 THEN now() END
		WHERE id = ANY($1)
		RETURNING id, failed_at IS NOT NULL`,
		ids, cleanText(cause, 500), retry.FirstDelay.Seconds(), retry.MaxDelay.Seconds(), retry.MaxAttempts)
	if err != nil {
		return nil, fmt.Errorf("schedule another attempt for mails %v: %w", ids, err)
	}
	defer rows.Close()

	var givenUp []int64
	for rows.Next() {
		var id int64
		var failed bool
		if err := rows.Scan(&id, &failed); err != nil {
			return nil, fmt.Errorf("schedule another attempt for mails %v: %w", ids, err)
		}
		if failed {
			givenUp = append(givenUp, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schedule another attempt for mails %v: %w", ids, err)
	}

	return givenUp, nil
}

// ReleaseMail returns claimed rows to the queue without counting the
// attempt, for a send that the shutdown of the instance interrupted, so
// that the next instance sends them at once.
func (d *DB) ReleaseMail(ctx context.Context, ids []int64) error {
	_, err := d.Pool.Exec(ctx, `
		UPDATE mail_outbox
		SET attempts = greatest(attempts - 1, 0),
		    next_attempt_at = now()
		WHERE id = ANY($1)
		  AND sent_at IS NULL
		  AND failed_at IS NULL`, ids)
	if err != nil {
		return fmt.Errorf("release mails %v: %w", ids, err)
	}

	return nil
}

// GiveUpMail marks the rows as failed at once, for mails that no retry can
// send, such as one to an invalid address.
func (d *DB) GiveUpMail(ctx context.Context, ids []int64, cause string) error {
	_, err := d.Pool.Exec(ctx, `
		UPDATE mail_outbox
		SET failed_at = now(),
		    last_error = $2
		WHERE id = ANY($1)`, ids, cleanText(cause, 500))
	if err != nil {
		return fmt.Errorf("give up mails %v: %w", ids, err)
	}

	return nil
}

// DeleteOldMail deletes up to limit rows of mail_outbox queued more than
// maxAge ago, sent or not, and returns how many it deleted.
func (d *DB) DeleteOldMail(ctx context.Context, maxAge time.Duration, limit int) (int64, error) {
	tag, err := d.Pool.Exec(ctx, `
		DELETE FROM mail_outbox
		WHERE id IN (
			SELECT id
			FROM mail_outbox
			WHERE created_at < now() - make_interval(secs => $1)
			ORDER BY created_at
			LIMIT $2
		)`, maxAge.Seconds(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete mail_outbox rows older than %s: %w", maxAge, err)
	}

	return tag.RowsAffected(), nil
}
