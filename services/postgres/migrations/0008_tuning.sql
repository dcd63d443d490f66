-- Settlement's hot path, measured with BenchmarkLedgerTransfers:
-- - the rows it updates in every batch (holds, balances, reservations) leave room in their
--   pages so that an update can stay on the page without touching the indexes (HOT);
-- - a transfer's record is stored as written (json) instead of parsed into jsonb: nothing
--   queries inside it, and Apply compares a repeated transfer as jsonb.
ALTER TABLE ledger_holds SET (fillfactor = 70);
ALTER TABLE ledger_balances SET (fillfactor = 70);
ALTER TABLE ledger_reserved SET (fillfactor = 70);
ALTER TABLE ledger_transfers ALTER COLUMN postings TYPE json USING postings::json;
