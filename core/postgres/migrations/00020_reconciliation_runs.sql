-- +goose Up
-- Stored reconciliation runs: each run of a channel's day (from the back office or the admin
-- API) with who started it, when, and what it found. idem_key makes a resubmitted form (a
-- double click) find the run it already started instead of starting another. Operators'
-- records, written rarely and read from every region: no region column (GLOBAL in the
-- CockroachDB overlay).
CREATE TABLE reconciliation_runs (
    id              TEXT PRIMARY KEY,
    idem_key        TEXT NOT NULL UNIQUE,
    channel         TEXT NOT NULL,
    day             DATE NOT NULL,
    actor           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'balanced', 'differences', 'failed')),
    channel_lines   INT8 NOT NULL DEFAULT 0,
    platform_lines  INT8 NOT NULL DEFAULT 0,
    matched         INT8 NOT NULL DEFAULT 0,
    differences     INT8 NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ
);
CREATE INDEX reconciliation_runs_started ON reconciliation_runs (started_at DESC, id DESC);

-- A run's lines on which the channel's statement and the platform disagree; the side that
-- lacks the line has a NULL amount.
CREATE TABLE reconciliation_differences (
    run_id           TEXT NOT NULL REFERENCES reconciliation_runs (id),
    n                INT8 NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('missing_on_platform', 'missing_on_channel', 'amount_mismatch')),
    line_kind        TEXT NOT NULL,
    payment_id       TEXT NOT NULL,
    refund_id        TEXT NOT NULL DEFAULT '',
    currency         TEXT NOT NULL,
    platform_amount  INT8,
    channel_amount   INT8,
    PRIMARY KEY (run_id, n)
);

-- +goose Down
DROP TABLE reconciliation_differences;
DROP TABLE reconciliation_runs;
