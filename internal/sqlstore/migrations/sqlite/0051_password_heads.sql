-- The heads (algorithm and cost, without salt and key) of the password hashes the accounts
-- hold, so that start-up finds the costliest in one short read instead of scanning every
-- account (sqlstore.Sessions.HashHeads). Filled from the accounts once, by the first start
-- after this migration; kept on write since: each start records the head it hashes at, the
-- importer the heads it imports.
CREATE TABLE password_heads (
    head TEXT PRIMARY KEY
);
