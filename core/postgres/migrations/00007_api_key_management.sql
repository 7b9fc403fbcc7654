-- +goose Up
-- What a merchant sees of its keys (the last four characters, when each was last used) and
-- when a key was revoked rather than left to expire.
ALTER TABLE api_keys ADD COLUMN last4 TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at TIMESTAMPTZ;
ALTER TABLE api_keys ADD COLUMN revoked_at TIMESTAMPTZ;

-- Every change to a merchant's keys: who (the key that made it, or the operator), when, what.
-- Append-only: the service inserts rows and never updates or deletes them.
CREATE TABLE api_key_events (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    region      TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX api_key_events_merchant ON api_key_events (merchant_id, created_at);

-- +goose Down
DROP TABLE api_key_events;
ALTER TABLE api_keys DROP COLUMN revoked_at;
ALTER TABLE api_keys DROP COLUMN last_used_at;
ALTER TABLE api_keys DROP COLUMN last4;
