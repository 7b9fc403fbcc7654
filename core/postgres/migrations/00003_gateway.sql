-- +goose Up
-- In-doubt recovery: when the recovery worker may next look at a payment, and how often it
-- has. The worker claims payments with FOR UPDATE SKIP LOCKED, so every node can run it.
ALTER TABLE payments ADD COLUMN recovery_attempts INT4 NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN next_recovery_at TIMESTAMPTZ;
CREATE INDEX payments_in_doubt ON payments (updated_at) WHERE status IN ('processing', 'requires_action') OR pending_op IS NOT NULL;
CREATE INDEX refunds_pending ON refunds (updated_at) WHERE status = 'pending';
-- The recovery worker must not fail a payment a live request is still working on.
CREATE INDEX idempotency_keys_payment ON idempotency_keys (payment_id);

-- Channel notifications already applied, so duplicates change nothing.
CREATE TABLE channel_events (
    channel     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    region      TEXT NOT NULL,
    payment_id  TEXT,
    outcome     TEXT NOT NULL,
    applied     BOOL NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel, event_id)
);

-- Which channels a merchant may use, with its own channel credentials encrypted at rest
-- (AES-256-GCM; the key never reaches the database).
CREATE TABLE merchant_channels (
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    channel      TEXT NOT NULL,
    region       TEXT NOT NULL,
    enabled      BOOL NOT NULL,
    credentials  BYTEA,
    key_version  INT4 NOT NULL DEFAULT 1,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, channel)
);

-- +goose Down
DROP TABLE merchant_channels;
DROP TABLE channel_events;
DROP INDEX idempotency_keys_payment;
DROP INDEX refunds_pending;
DROP INDEX payments_in_doubt;
ALTER TABLE payments DROP COLUMN next_recovery_at;
ALTER TABLE payments DROP COLUMN recovery_attempts;
