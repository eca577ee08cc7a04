-- The retention job deletes expired rows in small batches, picking each batch by the time
-- column: these indexes let it find them without reading the whole table. rate_limits and
-- login_throttle get none: their time column changes at every write (an index would slow
-- every limit check), and the job reads them once per round.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX recovery_tokens_expires ON recovery_tokens (expires_at);
CREATE INDEX recovery_flows_expires ON recovery_flows (expires_at);
CREATE INDEX registrations_expires ON registrations (expires_at);
CREATE INDEX code_failures_at ON code_failures (at);
CREATE INDEX outbox_done ON outbox (updated_at) WHERE status IN ('sent', 'blocked', 'abandoned');
