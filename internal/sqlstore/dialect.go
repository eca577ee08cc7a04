package sqlstore

// The few real differences between the dialects' SQL, in one place. Everything else is
// written once with $N placeholders (rewritten for SQLite by the DB wrapper).

// forUpdate locks the selected rows until the transaction ends. SQLite has no row locks: its
// write transactions begin IMMEDIATE and so already hold the one write lock.
var forUpdate = map[Dialect]string{SQLite: "", Postgres: " FOR UPDATE"}

// skipLocked makes concurrent claimers pass over rows another transaction has locked
// instead of waiting for it (PostgreSQL); SQLite serialises writers anyway.
var skipLocked = map[Dialect]string{SQLite: "", Postgres: " FOR UPDATE SKIP LOCKED"}
