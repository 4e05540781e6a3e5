-- +goose Up

-- Admins manage users at /admin/users. Every existing user starts as 'user'.
ALTER TABLE users
    ADD COLUMN role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));

-- Security events: logins, logouts, lockouts, password changes, revoked
-- sessions and disabled or enabled users. Events outlive their user, whose
-- id becomes NULL, and a failed login for an unknown email has no user.
-- client_ip and user_agent are '' for events that the command line records.
CREATE TABLE security_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    user_id     bigint      REFERENCES users (id) ON DELETE SET NULL,
    kind        text        NOT NULL,
    client_ip   text        NOT NULL DEFAULT '',
    -- The client sends the User-Agent, so its length is capped.
    user_agent  text        NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    details     jsonb       NOT NULL DEFAULT '{}'
);

-- The account page lists one user's latest events, and the admin events
-- page the latest of all users.
CREATE INDEX security_events_user_id_occurred_at_idx ON security_events (user_id, occurred_at DESC);
CREATE INDEX security_events_occurred_at_idx ON security_events (occurred_at DESC);

-- +goose Down
DROP TABLE security_events;
ALTER TABLE users DROP COLUMN role;
