-- Recovery, registration, rate limits and the audit trail.

-- Recovery requests wait here until the processor resolves them: the request itself does
-- the same work whether or not the identifier has an account.
CREATE TABLE recovery_requests (
    id         INTEGER PRIMARY KEY,
    channel    TEXT NOT NULL,
    identifier TEXT NOT NULL,
    flow_id    TEXT,
    lang       TEXT NOT NULL,
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

-- Single-use tokens: e-mail recovery links and the reset tokens a verified code gives.
CREATE TABLE recovery_tokens (
    id         INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX recovery_tokens_account ON recovery_tokens (account_id);

-- Phone recovery flows. account_id is NULL for a number without an account: such a flow
-- exists, answers and counts like any other, and can never succeed.
CREATE TABLE recovery_flows (
    id              TEXT PRIMARY KEY,
    account_id      INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    identifier      TEXT NOT NULL,
    lang            TEXT NOT NULL,
    code_hmac       BLOB,
    code_expires_at INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_request_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX recovery_flows_account ON recovery_flows (account_id);

-- Wrong codes, for the account-wide count that pauses the SMS channel.
CREATE TABLE code_failures (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL
);
CREATE INDEX code_failures_account ON code_failures (account_id, at);

ALTER TABLE accounts ADD COLUMN sms_paused_until INTEGER;

CREATE TABLE registrations (
    id            TEXT PRIMARY KEY,
    channel       TEXT NOT NULL,
    identifier    TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    skeleton_hash TEXT NOT NULL,
    lang          TEXT NOT NULL,
    token_hash    BLOB UNIQUE,
    code_hmac     BLOB,
    attempts      INTEGER NOT NULL DEFAULT 0,
    duplicate     INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    completed_at  INTEGER
);

-- Rate limits: the GCRA state (theoretical arrival time) of each limit and key.
CREATE TABLE rate_limits (
    name TEXT NOT NULL,
    key  TEXT NOT NULL,
    tat  INTEGER NOT NULL,
    PRIMARY KEY (name, key)
);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    type       TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_account ON audit_events (account_id, id);
