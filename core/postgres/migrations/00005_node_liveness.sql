-- +goose Up
-- Node liveness: every running node (one row per incarnation, a new random ID at every
-- start) renews heartbeat_at with the database's clock a few times a second. A key held by
-- an incarnation whose heartbeat is older than the liveness timeout, or whose row is gone
-- (a newer incarnation of the node replaced it, or it stopped cleanly), may be taken over at
-- once instead of when its lease runs out. The lease token still fences every phase commit.
CREATE TABLE nodes (
    incarnation  TEXT PRIMARY KEY,
    node_id      TEXT NOT NULL,
    region       TEXT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX nodes_node_id ON nodes (node_id);
-- The incarnation that holds an in-flight key (NULL: a node without liveness; only the
-- lease frees it).
ALTER TABLE idempotency_keys ADD COLUMN holder TEXT;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN holder;
DROP TABLE nodes;
