-- The subject of the authorization request's id_token_hint ('' without one): a session of
-- another account does not answer the request silently (OpenID Connect Core 3.1.2.1).
ALTER TABLE oidc_auth_requests ADD COLUMN hint_subject TEXT NOT NULL DEFAULT '';
