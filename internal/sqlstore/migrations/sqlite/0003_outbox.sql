-- The transactional outbox and the global daily SMS budget.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    lang            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    account_id      INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    params          TEXT NOT NULL DEFAULT '{}',
    secret          TEXT,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    claimed_by      TEXT NOT NULL DEFAULT '',
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_account ON outbox (account_id);

CREATE TABLE sms_budget (
    day  TEXT PRIMARY KEY,
    used INTEGER NOT NULL
);
