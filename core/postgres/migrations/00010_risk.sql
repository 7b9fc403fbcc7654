-- +goose Up
-- Risk, fraud and AML: rules evaluated before every payment's channel call, lists, the
-- review queue, AML cases, and the append-only audit of every operator action on them.

-- The risk evaluation made before the channel call: {score, level, rule, outcome}.
ALTER TABLE payments ADD COLUMN risk JSONB;

-- The risk score's signals read a card's and a customer's recent payments: partial
-- expression indexes, so that payments without the attribute cost nothing.
CREATE INDEX payments_risk_card ON payments (merchant_id, (payment_method->>'fingerprint'), created_at)
    WHERE payment_method->>'fingerprint' IS NOT NULL;
CREATE INDEX payments_risk_email ON payments (merchant_id, (customer->>'email'), created_at)
    WHERE customer->>'email' IS NOT NULL;
CREATE INDEX payments_risk_customer ON payments (merchant_id, (customer->>'id'), created_at)
    WHERE customer->>'id' IS NOT NULL;

-- Velocity counters: per (merchant, key, value, bucket size) one row per bucket, read and
-- incremented in the payment's own serializable transaction, so that concurrent payments
-- sharing a value conflict on its row and are serialized.
CREATE TABLE risk_velocity (
    merchant_id   TEXT NOT NULL,
    region        TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    bucket_secs   INT8 NOT NULL,
    bucket_start  TIMESTAMPTZ NOT NULL,
    count         INT8 NOT NULL,
    amount        INT8 NOT NULL,
    PRIMARY KEY (merchant_id, key, value, bucket_secs, bucket_start)
);
CREATE INDEX risk_velocity_reap ON risk_velocity (bucket_start);

-- Rules: platform-wide (scope 'platform') or one merchant's (scope = merchant ID).
-- Reference data (GLOBAL in CockroachDB): read on every payment, written by operators.
CREATE TABLE risk_rules (
    id          TEXT PRIMARY KEY,
    scope       TEXT NOT NULL,
    name        TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('allow', 'block', 'review')),
    expression  TEXT NOT NULL,
    enabled     BOOL NOT NULL,
    version     INT8 NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT risk_rules_name UNIQUE (scope, name)
);
CREATE INDEX risk_rules_enabled ON risk_rules (scope, created_at) WHERE enabled;

-- Lists (GLOBAL in CockroachDB) and their items, looked up by (list, value).
CREATE TABLE risk_lists (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    item_type   TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE risk_list_items (
    list_id     TEXT NOT NULL REFERENCES risk_lists (id),
    value       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (list_id, value)
);

-- The review queue: one row per payment held for review.
CREATE TABLE risk_reviews (
    payment_id  TEXT PRIMARY KEY REFERENCES payments (id),
    merchant_id TEXT NOT NULL,
    region      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'approved', 'rejected')),
    rule_id     TEXT,
    reason      TEXT,
    closed_by   TEXT,
    opened_at   TIMESTAMPTZ NOT NULL,
    closed_at   TIMESTAMPTZ
);
CREATE INDEX risk_reviews_status ON risk_reviews (status, opened_at);

-- AML cases opened by the detectors; dedup_key makes a detector's run idempotent.
CREATE TABLE aml_cases (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    merchant_id TEXT,
    status      TEXT NOT NULL CHECK (status IN ('open', 'escalated', 'closed')),
    detail      JSONB NOT NULL,
    dedup_key   TEXT NOT NULL UNIQUE,
    opened_at   TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX aml_cases_status ON aml_cases (status, opened_at);

-- Single-runner leases for scheduled jobs (the AML detectors): a node runs a job only while
-- it holds its row's lease.
CREATE TABLE risk_jobs (
    name          TEXT PRIMARY KEY,
    holder        TEXT,
    locked_until  TIMESTAMPTZ,
    last_run_at   TIMESTAMPTZ
);

-- Payer verification, per merchant and customer (the merchant's customer ID): a verified
-- phone, and cards bound to the customer. Rules see them as customer.phone_verified and
-- customer.card_bound, so a merchant requires them with a rule of its own scope.
CREATE TABLE customer_verifications (
    merchant_id        TEXT NOT NULL,
    region             TEXT NOT NULL,
    customer_id        TEXT NOT NULL,
    phone              TEXT,
    phone_verified_at  TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, customer_id)
);
CREATE TABLE customer_cards (
    merchant_id   TEXT NOT NULL,
    region        TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    payment_id    TEXT NOT NULL,
    bound_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, customer_id, fingerprint)
);
-- One-time codes: only their keyed hash is kept; a code expires and allows a few attempts.
CREATE TABLE verification_codes (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL,
    region       TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    phone        TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    attempts     INT4 NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX verification_codes_customer ON verification_codes (merchant_id, customer_id, created_at);

-- Every operator action on rules, lists, reviews and AML cases, and every case opened by a
-- detector: who, when, what. Append-only: the service inserts rows, never updates or
-- deletes them.
CREATE TABLE risk_audit (
    id           TEXT PRIMARY KEY,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    detail       JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX risk_audit_object ON risk_audit (object_id, created_at);
CREATE INDEX risk_audit_created ON risk_audit (created_at);

-- +goose Down
DROP TABLE verification_codes;
DROP TABLE customer_cards;
DROP TABLE customer_verifications;
DROP TABLE risk_audit;
DROP TABLE risk_jobs;
DROP TABLE aml_cases;
DROP TABLE risk_reviews;
DROP TABLE risk_list_items;
DROP TABLE risk_lists;
DROP TABLE risk_rules;
DROP TABLE risk_velocity;
DROP INDEX payments_risk_customer;
DROP INDEX payments_risk_email;
DROP INDEX payments_risk_card;
ALTER TABLE payments DROP COLUMN risk;
