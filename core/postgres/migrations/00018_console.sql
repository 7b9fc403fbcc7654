-- +goose Up
-- The back office's overview reads closed days from these rollups instead of scanning the
-- payments (see console_rollup.go): per merchant, UTC day, channel, payment region and
-- currency, the payments created that day (succeeded: succeeded or requires_capture, with
-- their amount as volume) and the succeeded refunds created that day. region is the
-- merchant's home region (where the row lives); payment_region is the region that took the
-- payment or refund.
CREATE TABLE console_daily_stats (
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    day             DATE NOT NULL,
    channel         TEXT NOT NULL,
    payment_region  TEXT NOT NULL,
    currency        TEXT NOT NULL,
    region          TEXT NOT NULL,
    payments        INT8 NOT NULL,
    succeeded       INT8 NOT NULL,
    volume          INT8 NOT NULL,
    refunds         INT8 NOT NULL,
    refunded        INT8 NOT NULL,
    PRIMARY KEY (merchant_id, day, channel, payment_region, currency)
);

-- Which of a merchant's days are rolled up, and when they last were: a day is recomputed
-- while it may still change (payments settling late, refunds completing).
CREATE TABLE console_rollup_days (
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    day          DATE NOT NULL,
    region       TEXT NOT NULL,
    computed_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, day)
);

-- A back-office user's TOTP second factor (RFC 6238): the secret sealed like the channel
-- credentials, set while enrolling (totp_pending) and once confirmed with a code
-- (totp_secret, from then on required at login); totp_last_step is the time step of the last
-- code accepted, so a code is good once.
ALTER TABLE console_users ADD COLUMN totp_pending BYTEA;
ALTER TABLE console_users ADD COLUMN totp_secret BYTEA;
ALTER TABLE console_users ADD COLUMN totp_enabled_at TIMESTAMPTZ;
ALTER TABLE console_users ADD COLUMN totp_last_step INT8 NOT NULL DEFAULT 0;

-- Invitations by e-mail: a merchant's owner invites a person with a role; the e-mailed link
-- carries a random token (only its SHA-256 is stored), good once (used_at) until expires_at,
-- and sets the new user's password.
CREATE TABLE console_invitations (
    token_hash   TEXT PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    region       TEXT NOT NULL,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL,
    invited_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ
);
CREATE INDEX console_invitations_merchant ON console_invitations (merchant_id, created_at DESC);

-- +goose Down
DROP TABLE console_invitations;
ALTER TABLE console_users DROP COLUMN totp_last_step;
ALTER TABLE console_users DROP COLUMN totp_enabled_at;
ALTER TABLE console_users DROP COLUMN totp_secret;
ALTER TABLE console_users DROP COLUMN totp_pending;
DROP TABLE console_rollup_days;
DROP TABLE console_daily_stats;
