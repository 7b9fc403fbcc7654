-- +goose Up
-- Webhooks. An outbox event is fanned out by the delivery worker into one delivery per
-- subscribed endpoint (outbox_events.delivered_at marks the fan-out done); each delivery is
-- claimed with FOR UPDATE SKIP LOCKED and a lease (its next_attempt_at moved past the
-- attempt's timeout), so a node that dies mid-delivery leaves it due again; every attempt is
-- one row of webhook_delivery_attempts.

CREATE TABLE webhook_endpoints (
    id                          TEXT PRIMARY KEY,
    merchant_id                 TEXT NOT NULL REFERENCES merchants (id),
    region                      TEXT NOT NULL,
    url                         TEXT NOT NULL,
    description                 TEXT NOT NULL,
    enabled_events              TEXT[] NOT NULL,
    status                      TEXT NOT NULL,        -- enabled, disabled
    disabled_reason             TEXT,
    -- AES-256-GCM sealed signing secrets (channels.go seal), bound to the endpoint's ID.
    secret                      BYTEA NOT NULL,
    previous_secret             BYTEA,
    previous_secret_expires_at  TIMESTAMPTZ,
    -- The first failed attempt since the last success: three days of it disable the endpoint.
    failing_since               TIMESTAMPTZ,
    created_at                  TIMESTAMPTZ NOT NULL,
    updated_at                  TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, created_at DESC, id DESC);

-- One row per (event, endpoint): the delivery's state. id is event_id || ':' || endpoint_id.
CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY,
    event_id          TEXT NOT NULL,
    endpoint_id       TEXT NOT NULL,
    merchant_id       TEXT NOT NULL,
    region            TEXT NOT NULL,
    status            TEXT NOT NULL,        -- pending, succeeded, failed (retries used up), canceled
    attempts          INT4 NOT NULL DEFAULT 0,
    max_attempts      INT4 NOT NULL,
    -- When the next attempt is due; while an attempt runs, the end of its claim's lease.
    next_attempt_at   TIMESTAMPTZ NOT NULL,
    claim_token       TEXT,
    last_attempt_at   TIMESTAMPTZ,
    last_http_status  INT4,
    last_error        TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status);

-- Every attempt made, for the merchant (GET /v1/events/{id}/deliveries) and for monitoring
-- (failure rate per endpoint over attempted_at).
CREATE TABLE webhook_delivery_attempts (
    delivery_id   TEXT NOT NULL,
    attempt       INT4 NOT NULL,
    event_id      TEXT NOT NULL,
    endpoint_id   TEXT NOT NULL,
    merchant_id   TEXT NOT NULL,
    region        TEXT NOT NULL,
    status        TEXT NOT NULL,        -- succeeded (a 2xx answer), failed
    attempted_at  TIMESTAMPTZ NOT NULL,
    http_status   INT4,                 -- null when no answer came
    duration_ms   INT8 NOT NULL,
    error         TEXT,
    node_id       TEXT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX webhook_delivery_attempts_event ON webhook_delivery_attempts (event_id, attempted_at);
CREATE INDEX webhook_delivery_attempts_endpoint ON webhook_delivery_attempts (endpoint_id, attempted_at);

-- Append-only audit trail of every endpoint change, secrets included (never the secret).
CREATE TABLE webhook_endpoint_events (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    region       TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    action       TEXT NOT NULL,   -- created, updated, disabled, enabled, secret_rotated, deleted
    actor        TEXT NOT NULL,   -- merchant:<id> (the API), or platform (410 Gone, three days of failures)
    detail       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoint_events_merchant ON webhook_endpoint_events (merchant_id, created_at);

CREATE INDEX outbox_events_merchant_created ON outbox_events (merchant_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX outbox_events_merchant_created;
DROP TABLE webhook_endpoint_events;
DROP TABLE webhook_delivery_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
