-- +goose Up
-- One-time recovery codes of a back-office user with a TOTP second factor: shown once when
-- the factor is turned on (or the codes are regenerated), accepted at sign-in in place of a
-- TOTP code, each once. Only the SHA-256 of the user ID and the code is stored (a code has
-- 80 random bits); used_at is set when a code signs in, so a code is good once.
CREATE TABLE console_recovery_codes (
    user_id     TEXT NOT NULL REFERENCES console_users (id),
    code_hash   TEXT NOT NULL,
    region      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

-- +goose Down
DROP TABLE console_recovery_codes;
