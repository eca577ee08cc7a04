-- The service-centre desk (SPEC §10): operators, their second factor, console sessions,
-- slip codes, and the operator who acted on each audit event.
-- Times are INTEGER Unix microseconds UTC (see db.go).

CREATE TABLE operators (
    account_id        INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    role              TEXT NOT NULL CHECK (role IN ('support', 'admin')),
    totp_secret       BLOB,              -- AES-GCM sealed base32 secret; NULL until enrolled
    pending_secret    BLOB,
    enrol_ticket_hash BLOB UNIQUE,
    enrol_expires_at  INTEGER,
    last_step         INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL
);

CREATE TABLE operator_backup_codes (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES operators (account_id) ON DELETE CASCADE,
    code_hmac  BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX operator_backup_codes_account ON operator_backup_codes (account_id);

CREATE TABLE console_sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES operators (account_id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);

CREATE TABLE desk_codes (
    id          INTEGER PRIMARY KEY,
    code_hmac   BLOB NOT NULL UNIQUE,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    operator_id INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX desk_codes_account ON desk_codes (account_id);

-- Wrong slip codes by (keyed hash of) client IP, for the 5-per-hour limit.
CREATE TABLE desk_code_failures (
    id     INTEGER PRIMARY KEY,
    ip_key TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX desk_code_failures_ip ON desk_code_failures (ip_key, at);

ALTER TABLE audit_events ADD COLUMN operator_id INTEGER REFERENCES accounts (id) ON DELETE SET NULL;
CREATE INDEX audit_events_at ON audit_events (at, id);
