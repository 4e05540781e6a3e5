-- +goose Up

-- security_keys contains the FIDO2/WebAuthn credentials that users register
-- as a second factor. credential_id is the ID that the authenticator chose,
-- unique across all users, and public_key is the COSE-encoded key that
-- verifies its assertions. sign_count is the authenticator's signature
-- counter after the last accepted assertion. The WebAuthn flags are kept
-- because an assertion whose backup-eligible flag differs from the one at
-- registration must be rejected.
CREATE TABLE security_keys (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id            bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id      bytea       NOT NULL UNIQUE CHECK (octet_length(credential_id) BETWEEN 1 AND 1023),
    public_key         bytea       NOT NULL CHECK (octet_length(public_key) BETWEEN 1 AND 4096),
    sign_count         bigint      NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),
    aaguid             bytea       NOT NULL DEFAULT ''::bytea CHECK (octet_length(aaguid) IN (0, 16)),
    transports         text[]      NOT NULL DEFAULT '{}',
    attestation_format text        NOT NULL DEFAULT '',
    user_verified      boolean     NOT NULL DEFAULT false,
    backup_eligible    boolean     NOT NULL DEFAULT false,
    backup_state       boolean     NOT NULL DEFAULT false,
    name               text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_used_at       timestamptz
);
CREATE INDEX security_keys_user_id_idx ON security_keys (user_id);

-- webauthn_challenges contains the state of a WebAuthn ceremony between
-- its two requests. binding_hash is the SHA-256 of what the ceremony is
-- bound to: the random token of a pending-login cookie, or the key of the
-- session that registers a key. A row is deleted when it is used, so each
-- challenge verifies at most one response. session_data is the server's
-- state of the ceremony and options what the browser gets. next and
-- weak_password carry the rest of a login across the security-key step.
CREATE TABLE webauthn_challenges (
    binding_hash  bytea       PRIMARY KEY CHECK (octet_length(binding_hash) = 32),
    purpose       text        NOT NULL CHECK (purpose IN ('login', 'register')),
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_data  jsonb       NOT NULL,
    options       jsonb       NOT NULL,
    next          text        NOT NULL DEFAULT '',
    weak_password boolean     NOT NULL DEFAULT false,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at_idx ON webauthn_challenges (expires_at);
CREATE INDEX webauthn_challenges_user_id_idx ON webauthn_challenges (user_id);

-- Adding or removing a security key becomes a security notice, like the
-- other changes to how the account logs in.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION security_event_is_notice(kind text, details jsonb) RETURNS boolean
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
        WHEN 'security_key_added' THEN true
        WHEN 'security_key_removed' THEN true
        ELSE false
    END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION security_event_is_notice(kind text, details jsonb) RETURNS boolean
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
DROP TABLE webauthn_challenges;
DROP TABLE security_keys;
