-- +goose Up

-- Each instance keeps copies of session and user rows in memory and drops a
-- copy when PostgreSQL says its row changed. These triggers say so for every
-- writer: the pages of any instance, the CLI, and SQL run by hand.
--
-- A session is named by the SHA-256 of its key, in hex, so that no session
-- key travels in a notification. Deleting a row that has already expired
-- sends nothing: no instance serves an expired session, and the periodic
-- cleanup deletes such rows by the thousand. TRUNCATE sends "*", which
-- drops every copy of that kind.

-- +goose StatementBegin
CREATE FUNCTION notify_session_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portero_session_changed', encode(sha256(OLD.key), 'hex'));
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION notify_sessions_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portero_session_changed', encode(sha256(gone.key), 'hex'))
    FROM gone
    WHERE gone.expires_on > now();
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION notify_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '*');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION notify_user_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portero_user_changed', OLD.id::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER web_sessions_notify_update
    AFTER UPDATE ON web_sessions
    FOR EACH ROW EXECUTE FUNCTION notify_session_updated();

CREATE TRIGGER web_sessions_notify_delete
    AFTER DELETE ON web_sessions
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION notify_sessions_deleted();

CREATE TRIGGER users_notify_change
    AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_user_changed();

CREATE TRIGGER web_sessions_notify_truncate
    AFTER TRUNCATE ON web_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_truncated('portero_session_changed');

CREATE TRIGGER users_notify_truncate
    AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_truncated('portero_user_changed');

-- +goose Down
DROP TRIGGER users_notify_truncate ON users;
DROP TRIGGER web_sessions_notify_truncate ON web_sessions;
DROP TRIGGER users_notify_change ON users;
DROP TRIGGER web_sessions_notify_delete ON web_sessions;
DROP TRIGGER web_sessions_notify_update ON web_sessions;
DROP FUNCTION notify_user_changed();
DROP FUNCTION notify_truncated();
DROP FUNCTION notify_sessions_deleted();
DROP FUNCTION notify_session_updated();
