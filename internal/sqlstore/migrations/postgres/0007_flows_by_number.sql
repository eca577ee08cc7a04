-- Wrong codes are counted per number (a keyed hash of it), for flows with and without an
-- account alike: a count over every account-less flow could be inflated by anyone and made
-- the check of one number slower than another's. Rows from before have no key and age out.
ALTER TABLE code_failures ADD COLUMN key TEXT NOT NULL DEFAULT '';
CREATE INDEX code_failures_key ON code_failures (key, at);

-- The pause ends every live flow of a number.
CREATE INDEX recovery_flows_identifier ON recovery_flows (identifier);

-- A newer registration of an identifier supersedes the older pending ones, found by the
-- identifier's key (an e-mail address compared case-insensitively, as accounts do).
ALTER TABLE registrations ADD COLUMN identifier_key TEXT NOT NULL DEFAULT '';
CREATE INDEX registrations_identifier_key ON registrations (channel, identifier_key);
