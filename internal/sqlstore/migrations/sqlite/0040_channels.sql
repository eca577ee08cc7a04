-- The citizen's own account (SPEC §9): channel changes, "this wasn't me" freeze tokens, the
-- freeze itself on the account, and the re-authentication time of a session.
-- Times are INTEGER Unix microseconds UTC (see db.go).

-- frozen_at: the account was frozen then (NULL: not frozen); frozen_trust: the channels a
-- password reset may go through to lift the freeze ("email", "phone", "email phone").
ALTER TABLE accounts ADD COLUMN frozen_at INTEGER;
ALTER TABLE accounts ADD COLUMN frozen_trust TEXT NOT NULL DEFAULT '';

-- reauth_at: the session's current password was asked again then (valid 5 minutes).
ALTER TABLE sessions ADD COLUMN reauth_at INTEGER;

-- A change of the account's e-mail or phone: pending (a link or code sent to value), then
-- completed (old_value and old_verified kept, for a freeze to revert), or a decoy (value
-- belongs to another account: it can never complete). A removal is a completed row with
-- value ''. expires_at is when the row may go: the link's or code's end while pending, the
-- end of the freeze's revert window once completed.
CREATE TABLE channel_changes (
    id           TEXT PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
    value        TEXT NOT NULL DEFAULT '',
    old_value    TEXT NOT NULL DEFAULT '',
    old_verified INTEGER NOT NULL DEFAULT 0,
    token_hash   BLOB UNIQUE,
    code_hmac    BLOB,
    attempts     INTEGER NOT NULL DEFAULT 0,
    decoy        INTEGER NOT NULL DEFAULT 0,
    lang         TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    sent_at      INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    completed_at INTEGER,
    reverted_at  INTEGER
);
CREATE INDEX channel_changes_account ON channel_changes (account_id, created_at);
CREATE INDEX channel_changes_expires ON channel_changes (expires_at);

-- The one link of a security notice: only its SHA-256 kept, single use, 7 days. channels
-- are the channels the notice went to (verified before the event it tells of).
CREATE TABLE freeze_tokens (
    id         INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    channels   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX freeze_tokens_account ON freeze_tokens (account_id);
CREATE INDEX freeze_tokens_expires ON freeze_tokens (expires_at);
