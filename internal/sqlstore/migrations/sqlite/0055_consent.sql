-- The personal-data consent given at registration (SPEC §11): the version of the text the
-- citizen agreed to and when, kept with the registration and then with the account it
-- becomes. NULL: an account made otherwise (imported, added by an operator) or before
-- consent was asked.
ALTER TABLE registrations ADD COLUMN consent_version TEXT;
ALTER TABLE accounts ADD COLUMN consent_version TEXT;
ALTER TABLE accounts ADD COLUMN consent_at INTEGER;
