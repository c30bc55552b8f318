-- Tokens for automation (HR feeds, monitoring, scripts): made by IT administrators, carrying
-- roles, always expiring, stored only as keyed hashes. Kept in step with
-- ../postgres/0005_api_tokens.sql.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    roles TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
