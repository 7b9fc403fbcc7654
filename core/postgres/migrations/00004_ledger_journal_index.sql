-- +goose Up
-- Nothing looks ledger entries up by journal: the checks that group by journal read the whole
-- ledger (or a merchant's) anyway. The index only cost every posting an index insertion.
-- Entry IDs are the journal's ID with the posting's number, so the primary key keeps a
-- journal's entries together.
DROP INDEX IF EXISTS ledger_entries_journal;

-- +goose Down
CREATE INDEX ledger_entries_journal ON ledger_entries (journal_id);
