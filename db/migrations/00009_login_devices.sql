-- +goose Up

-- A row of kind 'device' counts the failed logins made with one device
-- cookie, which a browser gets after a successful login. Its key is an HMAC
-- of the cookie's random nonce, so the table contains no cookie value. A
-- login that carries a valid device cookie is counted on its device row
-- instead of the account row, so a lock that someone else caused on the
-- account does not stop the owner from logging in on a device they used
-- before.
ALTER TABLE login_failures DROP CONSTRAINT login_failures_kind_check;
ALTER TABLE login_failures ADD CONSTRAINT login_failures_kind_check
    CHECK (kind IN ('account', 'device', 'ip'));

-- user_id is the user whose email an account or device row counts, or NULL
-- for an email that no user has and for IP rows. It lets `portero user
-- unlock` find a user's rows without the HMAC key of the account rows,
-- which derives from SESSION_SECRET. There is no foreign key: a user deleted
-- between the lookup of a login and the insert of its failure must not turn
-- the failed login into an error, and the row expires on its own.
ALTER TABLE login_failures ADD COLUMN user_id bigint;
CREATE INDEX login_failures_user_id_idx ON login_failures (user_id) WHERE user_id IS NOT NULL;

-- +goose Down
DROP INDEX login_failures_user_id_idx;
ALTER TABLE login_failures DROP COLUMN user_id;
DELETE FROM login_failures WHERE kind = 'device';
ALTER TABLE login_failures DROP CONSTRAINT login_failures_kind_check;
ALTER TABLE login_failures ADD CONSTRAINT login_failures_kind_check
    CHECK (kind IN ('account', 'ip'));
