-- A new link kills the account's older unused links, and a new password every unused token:
-- both look for the account's live tokens only. Used tokens stay (the record of a link's use)
-- and would otherwise be read again at every new link.
CREATE INDEX recovery_tokens_live ON recovery_tokens (account_id, purpose) WHERE used_at IS NULL;
