-- Calendars shared by their owners, assistants who manage someone's calendars, and calendars
-- published at a secret URL. Kept in step with ../postgres/0025_calendar_shares.sql.

-- A calendar shared with one account (grantee_account_id) or with everyone in a department
-- and the departments below it (grantee_department_id); access is 'read' or 'write'.
CREATE TABLE dav_shares (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id INTEGER NOT NULL REFERENCES dav_collections(id),
    grantee_account_id INTEGER REFERENCES accounts(id),
    grantee_department_id INTEGER REFERENCES departments(id),
    access TEXT NOT NULL CHECK (access IN ('read', 'write')),
    created_at INTEGER NOT NULL,
    CHECK ((grantee_account_id IS NULL) <> (grantee_department_id IS NULL))
);
CREATE INDEX dav_shares_collection ON dav_shares(collection_id);
-- One share per calendar and grantee (two at once on PostgreSQL cannot both be kept).
CREATE UNIQUE INDEX dav_shares_account ON dav_shares(grantee_account_id, collection_id)
    WHERE grantee_account_id IS NOT NULL;
CREATE UNIQUE INDEX dav_shares_department ON dav_shares(grantee_department_id, collection_id)
    WHERE grantee_department_id IS NOT NULL;

-- An assistant (delegate) who manages every calendar of the owner and answers invitations
-- for them.
CREATE TABLE calendar_delegates (
    owner_id INTEGER NOT NULL REFERENCES accounts(id),
    delegate_id INTEGER NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (owner_id, delegate_id)
);
CREATE INDEX calendar_delegates_delegate ON calendar_delegates(delegate_id);

-- A calendar published read-only at a secret URL; only the SHA-256 of its token is kept.
CREATE TABLE dav_feeds (
    token_hash TEXT PRIMARY KEY,
    collection_id INTEGER NOT NULL UNIQUE REFERENCES dav_collections(id),
    created_at INTEGER NOT NULL
);
