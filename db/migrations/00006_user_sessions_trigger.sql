-- +goose Up

-- The index row is now written before pgstore inserts the session row, so
-- that no session can exist without it. A foreign key would reject that
-- order, so a trigger keeps the index consistent instead: deleting a
-- session row (logout, revocation, expiry cleanup) deletes its index row.
-- An index row whose session insert failed matches no session, which every
-- query joins on, and the periodic cleanup deletes it.
ALTER TABLE user_sessions DROP CONSTRAINT user_sessions_session_key_fkey;

-- +goose StatementBegin
CREATE FUNCTION delete_user_session_index() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM user_sessions WHERE session_key = OLD.key;
    RETURN OLD;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER web_sessions_delete_index
    AFTER DELETE ON web_sessions
    FOR EACH ROW EXECUTE FUNCTION delete_user_session_index();

-- +goose Down
DROP TRIGGER web_sessions_delete_index ON web_sessions;
DROP FUNCTION delete_user_session_index();
ALTER TABLE user_sessions
    ADD CONSTRAINT user_sessions_session_key_fkey
    FOREIGN KEY (session_key) REFERENCES web_sessions (key) ON DELETE CASCADE;
