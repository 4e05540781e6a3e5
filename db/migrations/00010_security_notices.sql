-- +goose Up

-- Security notices: the dashboard and the account page list the security
-- events of a user that the user has not dismissed yet. notices_seen_at is
-- the time of the newest event the user dismissed; the column's default
-- gives existing users no notices for events older than this migration.
-- notices_pending tells a page whether there is anything to query, so a
-- request that has nothing to show reads no events. The user row carries
-- both columns, so every instance sees a change through the
-- portero_user_changed notification of migration 00008.
ALTER TABLE users
    ADD COLUMN notices_seen_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN notices_pending boolean     NOT NULL DEFAULT false;

-- The session that caused an event, as the id of its user_sessions row, or
-- NULL for an event outside a session (failed logins, the command line).
-- There is no foreign key, because events outlive the sessions.
ALTER TABLE security_events ADD COLUMN user_session_id bigint;

-- security_event_is_notice decides which events become notices. Logins
-- count only from a browser or address that is new to the account, and
-- logouts and account creation never count. An admin's change to their own
-- account counts only from another session, which the query that lists
-- notices checks.
-- +goose StatementBegin
CREATE FUNCTION security_event_is_notice(kind text, details jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE kind
        WHEN 'login_succeeded' THEN coalesce(details->>'new_device', '') = 'true'
        WHEN 'login_failed' THEN true
        WHEN 'lockout' THEN true
        WHEN 'password_changed' THEN true
        WHEN 'session_revoked' THEN true
        WHEN 'user_disabled' THEN true
        WHEN 'user_enabled' THEN true
        WHEN 'role_changed' THEN true
        WHEN 'login_unlocked' THEN true
        ELSE false
    END
$$;
-- +goose StatementEnd

-- The trigger sets notices_pending for every writer of events: the pages,
-- the command line and SQL run by hand. It locks the user row first, so a
-- dismissal that runs at the same time either sees this event or runs
-- before it and is followed by this update. It updates the row only when
-- the flag changes, so a burst of failed logins sends one notification.
-- +goose StatementBegin
CREATE FUNCTION mark_notice_pending() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM users WHERE id = NEW.user_id FOR NO KEY UPDATE;
    UPDATE users
    SET notices_pending = true
    WHERE id = NEW.user_id
      AND NOT notices_pending;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER security_events_mark_notice
    AFTER INSERT ON security_events
    FOR EACH ROW
    WHEN (NEW.user_id IS NOT NULL AND security_event_is_notice(NEW.kind, NEW.details))
    EXECUTE FUNCTION mark_notice_pending();

-- +goose Down
DROP TRIGGER security_events_mark_notice ON security_events;
DROP FUNCTION mark_notice_pending();
DROP FUNCTION security_event_is_notice(text, jsonb);
ALTER TABLE security_events DROP COLUMN user_session_id;
ALTER TABLE users
    DROP COLUMN notices_pending,
    DROP COLUMN notices_seen_at;
