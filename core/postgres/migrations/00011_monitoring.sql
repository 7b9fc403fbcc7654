-- +goose Up
-- Monitoring: the abnormal-transaction detectors and the alerts they raise.

-- One row per detector: the node that leads it (runs it for the whole platform) until
-- expires_at, by the database's clock. A node claims a detector with a conditional
-- INSERT ... ON CONFLICT DO UPDATE ... WHERE (holder is me OR the lease expired), so at most
-- one node runs each detector at a time without advisory locks (CockroachDB has none).
CREATE TABLE detector_leases (
    detector     TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    last_run_at  TIMESTAMPTZ
);

-- Alerts: raised by the detectors (source 'detector') or received from Alertmanager (source
-- 'alertmanager'). A fingerprint names the condition (detector or alert name plus labels);
-- while it holds there is one firing row for it, renewed (last_seen_at) on every run; when
-- it stops holding the row is resolved and the next occurrence is a new row.
CREATE TABLE alerts (
    id             TEXT PRIMARY KEY,
    fingerprint    TEXT NOT NULL,
    source         TEXT NOT NULL,
    detector       TEXT NOT NULL,
    severity       TEXT NOT NULL,
    status         TEXT NOT NULL,
    labels         JSONB NOT NULL,
    summary        TEXT NOT NULL,
    value          FLOAT8 NOT NULL DEFAULT 0,
    evidence_query TEXT NOT NULL,
    first_seen_at  TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    resolved_at    TIMESTAMPTZ,
    notifications  INT4 NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX alerts_firing ON alerts (fingerprint) WHERE status = 'firing';
CREATE INDEX alerts_status_seen ON alerts (status, last_seen_at DESC);

-- The detectors read the recent history by time across every merchant.
CREATE INDEX payments_created ON payments (created_at);
CREATE INDEX refunds_created ON refunds (created_at);
CREATE INDEX channel_events_received ON channel_events (received_at);

-- +goose Down
DROP INDEX channel_events_received;
DROP INDEX refunds_created;
DROP INDEX payments_created;
DROP TABLE alerts;
DROP TABLE detector_leases;
