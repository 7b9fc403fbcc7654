-- +goose Up
-- Merchant operations: fees, T+N availability and the balance transactions read from the
-- ledger.
--
-- A payment carries the terms it was made under (fee schedule, T+N delay, settlement time
-- zone), fixed at creation so that every later transition (capture, refund, recovery) posts
-- the same fee. NULL for payments made before: no fee, available at once.
ALTER TABLE payments ADD COLUMN terms JSONB;

-- When a merchant_available posting becomes available; NULL (postings made before) means at
-- once. Pending and available are sums over this column: no balance row to keep in step.
ALTER TABLE ledger_entries ADD COLUMN available_on TIMESTAMPTZ;
CREATE INDEX ledger_entries_available ON ledger_entries (merchant_id, account, currency, available_on);
-- Balance transactions are the merchant_available postings, newest first.
CREATE INDEX ledger_entries_merchant_created ON ledger_entries (merchant_id, account, created_at DESC, journal_id DESC);

-- Fee schedules set by operators, per merchant and channel; channel '*' is the merchant's
-- default and merchant '*' the platform's.
CREATE TABLE fee_schedules (
    merchant_id  TEXT NOT NULL,
    channel      TEXT NOT NULL,
    region       TEXT NOT NULL,
    percent_bps  INT8 NOT NULL CHECK (percent_bps >= 0 AND percent_bps <= 10000),
    fixed        INT8 NOT NULL CHECK (fixed >= 0),
    refund_fees  BOOL NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, channel)
);

-- A merchant's settlement terms: T+N delay and the time zone of its settlement day.
CREATE TABLE merchant_settlement_terms (
    merchant_id  TEXT PRIMARY KEY REFERENCES merchants (id),
    region       TEXT NOT NULL,
    delay_days   INT4 NOT NULL CHECK (delay_days >= 0 AND delay_days <= 30),
    time_zone    TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Every operator action on a merchant's operations (fees, settlement terms), append-only:
-- who, when, what.
CREATE TABLE merchant_ops_events (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL,
    region       TEXT NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    detail       JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX merchant_ops_events_merchant ON merchant_ops_events (merchant_id, created_at);

-- A merchant's KYC verification: the submitted details (the representative's ID number and
-- the bank account number sealed, their last four in the clear) and the operator's decision.
-- Every submission and decision is appended to merchant_ops_events.
CREATE TABLE merchant_kyc (
    merchant_id      TEXT PRIMARY KEY REFERENCES merchants (id),
    region           TEXT NOT NULL,
    status           TEXT NOT NULL,
    details          JSONB NOT NULL,
    id_number        BYTEA NOT NULL,
    account_number   BYTEA NOT NULL,
    rejected_reason  TEXT,
    submitted_at     TIMESTAMPTZ NOT NULL,
    decided_at       TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- Journals of no payment (transfers, reversals, adjustments) name what moved the money.
ALTER TABLE ledger_entries ADD COLUMN source_id TEXT;

-- Merchants an operator allowed to transfer to other merchants.
CREATE TABLE merchant_transfer_permissions (
    merchant_id  TEXT PRIMARY KEY REFERENCES merchants (id),
    region       TEXT NOT NULL,
    allowed      BOOL NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Transfers between merchants, exactly once per (merchant, Idempotency-Key).
CREATE TABLE transfers (
    id               TEXT PRIMARY KEY,
    merchant_id      TEXT NOT NULL REFERENCES merchants (id),
    region           TEXT NOT NULL,
    destination      TEXT NOT NULL REFERENCES merchants (id),
    amount           INT8 NOT NULL CHECK (amount > 0),
    amount_reversed  INT8 NOT NULL DEFAULT 0,
    currency         TEXT NOT NULL,
    description      TEXT NOT NULL,
    idem_key         TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT transfers_reversed CHECK (amount_reversed >= 0 AND amount_reversed <= amount),
    CONSTRAINT transfers_key UNIQUE (merchant_id, idem_key)
);
CREATE INDEX transfers_merchant_created ON transfers (merchant_id, created_at DESC, id DESC);

CREATE TABLE transfer_reversals (
    id            TEXT PRIMARY KEY,
    transfer_id   TEXT NOT NULL REFERENCES transfers (id),
    merchant_id   TEXT NOT NULL,
    region        TEXT NOT NULL,
    amount        INT8 NOT NULL CHECK (amount > 0),
    currency      TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT transfer_reversals_key UNIQUE (merchant_id, idem_key)
);
CREATE INDEX transfer_reversals_transfer ON transfer_reversals (transfer_id);

-- Operators' adjustments of merchants' balances (also in merchant_ops_events).
CREATE TABLE adjustments (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL REFERENCES merchants (id),
    region         TEXT NOT NULL,
    amount         INT8 NOT NULL,
    currency       TEXT NOT NULL,
    reason         TEXT NOT NULL,
    allow_negative BOOL NOT NULL,
    actor          TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

-- Closed settlement days, one per merchant, day (in its settlement time zone) and currency.
-- The unique key is the claim: every node's settlement job may close the same day, the
-- first insert wins and the others change nothing. The lines are the day's balance
-- transactions, read from the ledger.
CREATE TABLE settlements (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    region       TEXT NOT NULL,
    day          DATE NOT NULL,
    day_start    TIMESTAMPTZ NOT NULL,
    day_end      TIMESTAMPTZ NOT NULL,
    currency     TEXT NOT NULL,
    count        INT8 NOT NULL,
    gross        INT8 NOT NULL,
    refunds      INT8 NOT NULL,
    fees         INT8 NOT NULL,
    net          INT8 NOT NULL,
    status       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT settlements_day UNIQUE (merchant_id, day, currency)
);
CREATE INDEX settlements_merchant ON settlements (merchant_id, day DESC, id DESC);

-- +goose Down
DROP TABLE settlements;
DROP TABLE adjustments;
DROP TABLE transfer_reversals;
DROP TABLE transfers;
DROP TABLE merchant_transfer_permissions;
ALTER TABLE ledger_entries DROP COLUMN source_id;
DROP TABLE merchant_kyc;
DROP TABLE merchant_ops_events;
DROP TABLE merchant_settlement_terms;
DROP TABLE fee_schedules;
DROP INDEX ledger_entries_merchant_created;
DROP INDEX ledger_entries_available;
ALTER TABLE ledger_entries DROP COLUMN available_on;
ALTER TABLE payments DROP COLUMN terms;
