-- First-sign-in invitations (kept in step with ../postgres/0019_invitations.sql): a one-time
-- code, kept as a keyed hash, that lets a new member of staff set their first password. IT
-- (or a supervisor, for their own staff) issues them after an import; each is used once,
-- expires, and can be revoked while unused.
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    code_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX invitations_account ON invitations(account_id, created_at);
