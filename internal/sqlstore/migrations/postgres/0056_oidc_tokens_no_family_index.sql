-- No query selects tokens by family any more: a reused or revoked refresh token revokes its
-- whole grant by auth_request_id (indexed), access tokens included. The index only cost a
-- write on every token inserted. The column stays: it still tells which rotations belong
-- together.
DROP INDEX oidc_tokens_family;
