-- +goose Up

-- pgstore keeps each session as an opaque blob, so this index links a
-- session row to its user. The foreign keys keep it consistent: deleting a
-- session row (logout, revocation, expiry cleanup) or a user deletes the
-- matching index rows.
CREATE TABLE user_sessions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_key  bytea       NOT NULL UNIQUE REFERENCES web_sessions (key) ON DELETE CASCADE,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    user_agent   text        NOT NULL DEFAULT '',
    client_ip    text        NOT NULL DEFAULT ''
);

CREATE INDEX user_sessions_user_id_idx ON user_sessions (user_id);

-- +goose Down
DROP TABLE user_sessions;
