-- Single sign-on: clients, pending authorizations, codes, tokens, consents, signing keys.
-- Lists (redirect URIs, scopes, AMR) are newline-separated text.
CREATE TABLE oidc_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               BLOB,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '',
    backchannel_logout_uri    TEXT NOT NULL DEFAULT '',
    scopes                    TEXT NOT NULL,
    public                    INTEGER NOT NULL,
    first_party               INTEGER NOT NULL,
    created_at                INTEGER NOT NULL
);

CREATE TABLE oidc_auth_requests (
    id             TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    state          TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    prompt         TEXT NOT NULL,
    max_age        INTEGER NOT NULL,
    login_hint     TEXT NOT NULL,
    ui_locales     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    account_id     INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    session_id     INTEGER,
    auth_time      INTEGER,
    amr            TEXT NOT NULL DEFAULT '',
    done           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

CREATE TABLE oidc_codes (
    hash            BLOB PRIMARY KEY,
    auth_request_id TEXT NOT NULL REFERENCES oidc_auth_requests (id) ON DELETE CASCADE,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);

CREATE TABLE oidc_tokens (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    hash            BLOB UNIQUE,
    family          TEXT NOT NULL DEFAULT '',
    auth_request_id TEXT NOT NULL,
    client_id       TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    session_id      INTEGER NOT NULL,
    scopes          TEXT NOT NULL,
    auth_time       INTEGER NOT NULL,
    amr             TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    rotated_at      INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX oidc_tokens_account ON oidc_tokens (account_id);
CREATE INDEX oidc_tokens_session ON oidc_tokens (session_id);
CREATE INDEX oidc_tokens_family ON oidc_tokens (family);
CREATE INDEX oidc_tokens_auth_request ON oidc_tokens (auth_request_id);

CREATE TABLE oidc_consents (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

-- active is true for the one key that signs and NULL for retired ones: UNIQUE allows one.
CREATE TABLE oidc_keys (
    id         TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    active     INTEGER UNIQUE
);
