-- Accounts, their password history, sessions and the sign-in slow-down.
-- Times are INTEGER Unix microseconds UTC (see db.go).
CREATE TABLE accounts (
    id                  INTEGER PRIMARY KEY,
    email               TEXT,
    email_key           TEXT UNIQUE,
    email_verified      INTEGER NOT NULL DEFAULT 0,
    phone               TEXT UNIQUE,
    phone_verified      INTEGER NOT NULL DEFAULT 0,
    password_hash       TEXT NOT NULL,
    locked              INTEGER NOT NULL DEFAULT 0,
    lang                TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL,
    CHECK (email IS NOT NULL OR phone IS NOT NULL)
);

CREATE TABLE password_history (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    skeleton_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX password_history_account ON password_history (account_id, id);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE login_throttle (
    key            TEXT PRIMARY KEY,
    failures       INTEGER NOT NULL,
    last_failed_at INTEGER NOT NULL
);
