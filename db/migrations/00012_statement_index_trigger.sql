-- +goose Up

-- The row-level trigger of 00006 ran one DELETE on user_sessions for each
-- deleted session, so a cleanup batch of 1,000 sessions ran 1,000 more
-- statements. This statement-level trigger reads every session that one
-- DELETE removed from its transition table and deletes their index rows in
-- one statement.
DROP TRIGGER web_sessions_delete_index ON web_sessions;
DROP FUNCTION delete_user_session_index();

-- PL/pgSQL keeps the plan of the first call in each connection. A join with
-- the transition table would be planned for that call's row count: after a
-- large cleanup batch, a scan of all of user_sessions for every later
-- logout. The planner cannot see the length of an array built at run time
-- and assumes a short one (10 elements in PostgreSQL 15), so
-- "= ANY (ARRAY(...))" always takes the unique index on session_key.
-- +goose StatementBegin
CREATE FUNCTION delete_user_session_indexes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM user_sessions
    WHERE session_key = ANY (ARRAY(SELECT key FROM deleted_sessions));
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER web_sessions_delete_index
    AFTER DELETE ON web_sessions
    REFERENCING OLD TABLE AS deleted_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION delete_user_session_indexes();

-- +goose Down
DROP TRIGGER web_sessions_delete_index ON web_sessions;
DROP FUNCTION delete_user_session_indexes();

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
