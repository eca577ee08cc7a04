-- When a code was issued: its liveness (a password change since refuses it) is judged by
-- its own issue, not by the sign-in time of its session (the request's auth_time), which a
-- session kept by a password change predates. Codes live 60 seconds: those in flight get
-- their expiry less that.
ALTER TABLE oidc_codes ADD COLUMN created_at TIMESTAMPTZ;
UPDATE oidc_codes SET created_at = expires_at - INTERVAL '60 seconds';
ALTER TABLE oidc_codes ALTER COLUMN created_at SET NOT NULL;
