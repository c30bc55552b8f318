-- Changes a department supervisor asks IT to make to an account of their department (a new
-- legal name, a move to another department), waiting for an IT administrator to approve
-- (which makes the change) or decline with a note. Kept in step with
-- ../postgres/0016_change_requests.sql.
CREATE TABLE change_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    change TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_by_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    decided_by TEXT,
    decided_at INTEGER,
    outcome TEXT,
    note TEXT
);
CREATE INDEX change_requests_open ON change_requests(decided_at, created_at);
CREATE INDEX change_requests_requester ON change_requests(requested_by_id, created_at);
