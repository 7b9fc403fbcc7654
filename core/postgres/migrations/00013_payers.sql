-- +goose Up
-- Customers: a merchant's payers. Personal fields (email, phone, name, metadata) are
-- redacted by a delete; the row stays so the money trail (wallets, balance transactions,
-- payments naming it) keeps its owner.
CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    email       TEXT,
    phone       TEXT,
    name        TEXT,
    language    TEXT NOT NULL DEFAULT 'en',
    metadata    JSONB NOT NULL DEFAULT '{}',
    -- Opt-outs per notice channel, and the wallet balance (per currency, minor units) below
    -- which a low-balance reminder is sent.
    email_opt_out BOOL NOT NULL DEFAULT false,
    sms_opt_out   BOOL NOT NULL DEFAULT false,
    low_balance_threshold JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ
);
CREATE INDEX customers_merchant ON customers (merchant_id, created_at DESC, id DESC);

-- A customer's stored value per currency, held by the merchant: the projection of the
-- ledger's customer_wallet postings (balance = -sum), written in the same transaction as
-- them. It is never negative. Wallet rows live in the customer's home region (region).
CREATE TABLE customer_wallets (
    merchant_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    currency    TEXT NOT NULL,
    balance     INT8 NOT NULL CHECK (balance >= 0),
    -- low_armed: a low-balance reminder may be sent when the balance falls below the
    -- threshold; cleared when one is, set again once the balance is back at or above it.
    low_armed   BOOL NOT NULL DEFAULT true,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, currency)
);

-- Every change of a wallet's balance, with the balance after it.
CREATE TABLE customer_balance_transactions (
    id            TEXT PRIMARY KEY,
    merchant_id   TEXT NOT NULL,
    region        TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    currency      TEXT NOT NULL,
    amount        INT8 NOT NULL,
    balance_after INT8 NOT NULL,
    type          TEXT NOT NULL,
    payment_id    TEXT,
    refund_id     TEXT,
    journal_id    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX customer_balance_transactions_customer ON customer_balance_transactions (customer_id, created_at DESC, id DESC);
-- One credit per top-up, one debit per wallet payment, one credit per refund.
CREATE UNIQUE INDEX customer_balance_transactions_once ON customer_balance_transactions (type, payment_id, COALESCE(refund_id, ''));

-- Top-ups: payments whose success credits a customer's wallet, once (credited_at).
CREATE TABLE top_ups (
    payment_id  TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    customer_region TEXT NOT NULL,
    region      TEXT NOT NULL,
    currency    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    credited_at TIMESTAMPTZ
);

-- Notices to payers (email, SMS): made by the webhook fan-out from outbox events in the
-- same transaction that marks the events fanned out (payment results, top-up receipts), or
-- in the transaction of the wallet debit that crossed the low-balance threshold. The ID is
-- deterministic (<event or balance transaction>:<template>:<channel>), so one event makes a
-- notice at most once; it is the email's Message-ID and the SMS provider's idempotency key.
CREATE TABLE payer_notices (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    region          TEXT NOT NULL,
    event_id        TEXT,
    template        TEXT NOT NULL,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    language        TEXT NOT NULL,
    data            JSONB NOT NULL,
    status          TEXT NOT NULL,
    attempts        INT4 NOT NULL DEFAULT 0,
    max_attempts    INT4 NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claim_token     TEXT,
    last_error      TEXT,
    sent_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX payer_notices_due ON payer_notices (next_attempt_at) WHERE status = 'pending';
CREATE INDEX payer_notices_customer ON payer_notices (customer_id, created_at DESC);

-- +goose Down
DROP TABLE payer_notices;
DROP TABLE top_ups;
DROP TABLE customer_balance_transactions;
DROP TABLE customer_wallets;
DROP TABLE customers;
