-- +goose Up
-- Payouts to merchants' verified bank accounts, their schedules, and the settlement days
-- reconciliation found in disagreement with the channels' statements.

-- Payouts, made by a merchant's request (exactly once per Idempotency-Key, through
-- idempotency_keys.payout_id) or by its schedule (once per merchant and period: the period is
-- the key). The money is reserved in the ledger when the payout is created (payouts_in_transit).
CREATE TABLE payouts (
    id                 TEXT PRIMARY KEY,
    merchant_id        TEXT NOT NULL REFERENCES merchants (id),
    region             TEXT NOT NULL,
    amount             INT8 NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    description        TEXT NOT NULL,
    status             TEXT NOT NULL,
    automatic          BOOL NOT NULL,
    schedule_period    TEXT,
    destination        JSONB NOT NULL,
    -- The bank account number, sealed as merchant_kyc keeps it, fixed when the payout is made.
    account_number     BYTEA NOT NULL,
    failure_code       TEXT,
    failure_message    TEXT,
    channel_reference  TEXT,
    recovery_attempts  INT4 NOT NULL DEFAULT 0,
    next_recovery_at   TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    CONSTRAINT payouts_period UNIQUE (merchant_id, currency, schedule_period)
);
CREATE INDEX payouts_merchant_created ON payouts (merchant_id, created_at DESC, id DESC);
CREATE INDEX payouts_unfinished ON payouts (status, updated_at);

-- The payout an idempotent request made, as payment_id and refund_id name theirs.
ALTER TABLE idempotency_keys ADD COLUMN payout_id TEXT;
-- A payout's (or transfer's, adjustment's) journals, for the ledger check's payout proof.
CREATE INDEX ledger_entries_source ON ledger_entries (source_id);

-- A merchant's payout schedule: daily, weekly (on weekly_anchor, 0 = Sunday) or manual, with
-- delay_days: money that became available less than delay_days ago waits for a later payout.
CREATE TABLE merchant_payout_schedules (
    merchant_id    TEXT PRIMARY KEY REFERENCES merchants (id),
    region         TEXT NOT NULL,
    schedule       TEXT NOT NULL CHECK (schedule IN ('daily', 'weekly', 'manual')),
    weekly_anchor  INT4 NOT NULL CHECK (weekly_anchor >= 0 AND weekly_anchor <= 6),
    delay_days     INT4 NOT NULL CHECK (delay_days >= 0 AND delay_days <= 30),
    updated_at     TIMESTAMPTZ NOT NULL
);

-- Reconciliation of a settlement day against the channels' statements: NULL until checked,
-- then matched or mismatch with what disagreed.
ALTER TABLE settlements ADD COLUMN reconciliation TEXT;
ALTER TABLE settlements ADD COLUMN reconciliation_detail JSONB;
ALTER TABLE settlements ADD COLUMN reconciled_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE settlements DROP COLUMN reconciled_at;
ALTER TABLE settlements DROP COLUMN reconciliation_detail;
ALTER TABLE settlements DROP COLUMN reconciliation;
DROP TABLE merchant_payout_schedules;
DROP INDEX ledger_entries_source;
ALTER TABLE idempotency_keys DROP COLUMN payout_id;
DROP TABLE payouts;
