-- Deleting an account (SPEC §9): the request waits out the grace period here, with the hash
-- of its single-use cancel link; the retention job erases the account once due_at has
-- passed and records erased_at. The row then stays, without its cancel hash, as the record
-- that the account was erased.
--
-- An erased account keeps its accounts row, so that the audit trail keeps its account id
-- (audit_events.account_id is ON DELETE SET NULL): identifiers, hash and language are
-- emptied. 0002's CHECK wants an e-mail or a phone, and SQLite cannot change a CHECK
-- without rebuilding the table, so on both databases an erased account has email '' (no
-- address: email_key, by which accounts are found, is NULL).
-- Times are INTEGER Unix microseconds UTC (see db.go).
CREATE TABLE account_deletions (
    account_id   INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    requested_at INTEGER NOT NULL,
    due_at       INTEGER NOT NULL,
    cancel_hash  BLOB UNIQUE,
    erased_at    INTEGER
);
CREATE INDEX account_deletions_due ON account_deletions (due_at) WHERE erased_at IS NULL;
