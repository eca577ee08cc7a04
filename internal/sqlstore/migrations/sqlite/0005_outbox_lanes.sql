-- Each channel is its own lane, and within a lane links and codes go before notices, so a
-- burst of e-mail never keeps a citizen waiting for an SMS code.
ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
CREATE INDEX outbox_lane ON outbox (channel, status, priority, next_attempt_at);
