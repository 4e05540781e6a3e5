-- +goose Up

-- Failed logins per account and per client IP, shared by every instance.
-- An account row is keyed by an HMAC of the lowercased submitted email, so an
-- unknown email is counted like a known one and no typed address (or a
-- password typed into the email field) is stored in clear. An IP row is
-- keyed by the client IP as text.
CREATE TABLE login_failures (
    kind         text        NOT NULL CHECK (kind IN ('account', 'ip')),
    key          text        NOT NULL,
    -- failures counts the failed logins since window_start.
    failures     integer     NOT NULL CHECK (failures > 0),
    window_start timestamptz NOT NULL,
    -- locked_until is set once failures reaches the limit of the kind.
    locked_until timestamptz,
    PRIMARY KEY (kind, key)
);

-- A row is stale, and its count starts again, one failure window after the
-- later of window_start and locked_until. GREATEST ignores a NULL
-- locked_until. The cleanup finds stale rows through this index.
CREATE INDEX login_failures_active_until_idx ON login_failures (GREATEST(window_start, locked_until));

-- +goose Down
DROP TABLE login_failures;
