-- History keys (docs/password.md, "History"). An entry made from now on keeps history_key:
-- an Argon2id hash of its peppered history secret under the account's history salt, which
-- all the account's keyed entries share, so that one computation checks a new password
-- against all of them. The entries made before keep their skeleton_hash (history_key '')
-- and are checked as before, one computation each, until newer passwords push them out.
-- A pending registration keeps the key of its account's first entry the same way.
ALTER TABLE password_history ADD COLUMN history_key TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN history_key TEXT NOT NULL DEFAULT '';
