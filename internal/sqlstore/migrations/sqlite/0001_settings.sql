-- Server-wide settings that must survive restarts and be shared by every instance,
-- such as the secret generated on first start (see EnsureSetting).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
