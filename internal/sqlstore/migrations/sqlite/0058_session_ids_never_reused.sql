-- A session's id is its sid in ID tokens and logout tokens, and tokens and authorizations
-- keep it after the session ends: it must never name another session. SQLite gives an
-- INTEGER PRIMARY KEY without AUTOINCREMENT the largest id plus one, so after the newest
-- session ended the next one took its id (an ID token of the ended session then looked like
-- one of the new session). The table is rebuilt with AUTOINCREMENT, whose counter starts
-- past every id a session, a token or an authorization still holds.
CREATE TABLE sessions_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   BLOB NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    reauth_at    INTEGER
);
INSERT INTO sessions_new (id, token_hash, account_id, created_at, last_seen_at, expires_at, ip, user_agent, reauth_at)
    SELECT id, token_hash, account_id, created_at, last_seen_at, expires_at, ip, user_agent, reauth_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
DELETE FROM sqlite_sequence WHERE name = 'sessions';
INSERT INTO sqlite_sequence (name, seq) SELECT 'sessions', max(
    (SELECT coalesce(max(id), 0) FROM sessions),
    (SELECT coalesce(max(session_id), 0) FROM oidc_tokens),
    (SELECT coalesce(max(session_id), 0) FROM oidc_auth_requests));
