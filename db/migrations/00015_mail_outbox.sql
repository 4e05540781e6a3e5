-- +goose Up

-- Security notices by email. When SMTP is configured, `portero serve` sets
-- mail_settings.enabled at start, and a trigger then queues a row in
-- mail_outbox for every event that becomes a security notice, in the
-- transaction that inserts the event. Every writer of events is covered:
-- the pages, the command line and SQL run by hand. The background loop of
-- `portero serve` sends the queued rows; see mail/deliver.go.

-- The single row of mail_settings. enabled is false until an instance with
-- SMTP settings starts, and an instance without them sets it back to false,
-- so while email is off no row is queued.
CREATE TABLE mail_settings (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    enabled boolean NOT NULL DEFAULT false
);
INSERT INTO mail_settings DEFAULT VALUES;

-- One row per event to mail. The recipient is the user's email at the time
-- of sending. A row is claimed by moving next_attempt_at past the time a
-- send may take, so a crashed instance's rows are retried once that time
-- has passed. sent_at is set after the SMTP server accepted the mail, and
-- failed_at when the deliverer gave up. Old rows are deleted by the
-- periodic cleanup.
CREATE TABLE mail_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        bigint      NOT NULL REFERENCES security_events (id) ON DELETE CASCADE,
    user_id         bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    failed_at       timestamptz,
    -- The SMTP error of the last failed attempt; it contains no password.
    last_error      text        NOT NULL DEFAULT ''
);

-- The deliverer looks for due rows, and for mails sent to a user within the
-- last minute; the cleanup for old rows.
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_user_id_sent_at_idx ON mail_outbox (user_id, sent_at)
    WHERE sent_at IS NOT NULL;
CREATE INDEX mail_outbox_created_at_idx ON mail_outbox (created_at);

-- +goose StatementBegin
CREATE FUNCTION queue_notice_mail() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mail_outbox (event_id, user_id)
    SELECT NEW.id, NEW.user_id
    FROM mail_settings
    WHERE enabled;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- The same condition as the trigger that makes security notices, in
-- migration 00010.
CREATE TRIGGER security_events_queue_mail
    AFTER INSERT ON security_events
    FOR EACH ROW
    WHEN (NEW.user_id IS NOT NULL AND security_event_is_notice(NEW.kind, NEW.details))
    EXECUTE FUNCTION queue_notice_mail();

-- +goose Down
DROP TRIGGER security_events_queue_mail ON security_events;
DROP FUNCTION queue_notice_mail();
DROP TABLE mail_outbox;
DROP TABLE mail_settings;
