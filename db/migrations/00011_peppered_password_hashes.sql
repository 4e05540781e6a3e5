-- +goose Up

-- With PASSWORD_PEPPER set, Portero stores "$pepper1$" followed by a
-- 60-character bcrypt hash of a keyed pre-hash of the password (see
-- password.Hasher). The check accepts that form next to plain bcrypt
-- hashes. In LIKE, "_" matches one character and "$" is literal.
ALTER TABLE users DROP CONSTRAINT users_password_hash_check;
ALTER TABLE users ADD CONSTRAINT users_password_hash_check CHECK (
    (password_hash LIKE '$2_$%' AND length(password_hash) = 60)
    OR (password_hash LIKE '$pepper1$$2_$%' AND length(password_hash) = 69)
);

-- +goose Down
-- This fails while a peppered hash remains: set those passwords again with
-- `portero user passwd` without PASSWORD_PEPPER first.
ALTER TABLE users DROP CONSTRAINT users_password_hash_check;
ALTER TABLE users ADD CONSTRAINT users_password_hash_check
    CHECK (password_hash LIKE '$2_$%' AND length(password_hash) = 60);
