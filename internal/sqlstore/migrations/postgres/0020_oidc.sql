-- Single sign-on: clients, pending authorizations, codes, tokens, consents, signing keys.
-- Lists (redirect URIs, scopes, AMR) are newline-separated text.
CREATE TABLE oidc_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               BYTEA,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '',
    backchannel_logout_uri    TEXT NOT NULL DEFAULT '',
    scopes                    TEXT NOT NULL,
    public                    BOOLEAN NOT NULL,
    first_party               BOOLEAN NOT NULL,
    created_at                TIMESTAMPTZ NOT NULL
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
    max_age        BIGINT NOT NULL,
    login_hint     TEXT NOT NULL,
    ui_locales     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    account_id     BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    session_id     BIGINT,
    auth_time      TIMESTAMPTZ,
    amr            TEXT NOT NULL DEFAULT '',
    done           BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

CREATE TABLE oidc_codes (
    hash            BYTEA PRIMARY KEY,
    auth_request_id TEXT NOT NULL REFERENCES oidc_auth_requests (id) ON DELETE CASCADE,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ
);

CREATE TABLE oidc_tokens (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    hash            BYTEA UNIQUE,
    family          TEXT NOT NULL DEFAULT '',
    auth_request_id TEXT NOT NULL,
    client_id       TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    account_id      BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    session_id      BIGINT NOT NULL,
    scopes          TEXT NOT NULL,
    auth_time       TIMESTAMPTZ NOT NULL,
    amr             TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    rotated_at      TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ
);
CREATE INDEX oidc_tokens_account ON oidc_tokens (account_id);
CREATE INDEX oidc_tokens_session ON oidc_tokens (session_id);
CREATE INDEX oidc_tokens_family ON oidc_tokens (family);
CREATE INDEX oidc_tokens_auth_request ON oidc_tokens (auth_request_id);

CREATE TABLE oidc_consents (
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

-- active is true for the one key that signs and NULL for retired ones: UNIQUE allows one.
CREATE TABLE oidc_keys (
    id         TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ,
    active     BOOLEAN UNIQUE
);
