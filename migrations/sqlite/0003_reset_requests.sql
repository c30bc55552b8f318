-- Password resets a helpdesk agent asked for on behalf of someone who could not prove who they
-- are, waiting for the approval of a supervisor of that person's department (four eyes).
-- Kept in step with ../postgres/0003_reset_requests.sql.
CREATE TABLE reset_requests (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    requested_by TEXT NOT NULL,
    requested_by_id INTEGER,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    decided_by TEXT,
    decided_at INTEGER
);
CREATE INDEX reset_requests_account ON reset_requests(account_id);
