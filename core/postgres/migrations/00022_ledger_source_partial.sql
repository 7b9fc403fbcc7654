-- +goose Up
-- ledger_entries_source serves the lookups by source (the entries of a payout, a transfer or
-- an adjustment: source_id = $1, and the ledger check's join from payouts). A payment's
-- entries have no source, yet each of them wrote a NULL entry into it: two index insertions
-- per payment, into an index that grew with the whole ledger's history while serving only
-- the few entries that have a source. It holds only those now; the planner uses it for the
-- equality lookups, which imply source_id IS NOT NULL.
DROP INDEX ledger_entries_source;
CREATE INDEX ledger_entries_source ON ledger_entries (source_id) WHERE source_id IS NOT NULL;

-- +goose Down
DROP INDEX ledger_entries_source;
CREATE INDEX ledger_entries_source ON ledger_entries (source_id);
