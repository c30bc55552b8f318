-- Mail waiting to leave the organization: one row per message, one per remote recipient with
-- its own state and schedule. The body is a blob held by a reference like a mailbox copy.
-- Kept in step with ../postgres/0007_outbound_queue.sql.

CREATE TABLE queue_messages (
    id INTEGER PRIMARY KEY,
    blob_id TEXT NOT NULL REFERENCES blobs(id),
    mail_from TEXT NOT NULL,
    sender_account_id INTEGER REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- status: pending, delivered, failed. next_attempt also serves as a lease: a worker claims a
-- due row by moving it into the future, so two nodes never deliver the same recipient at once.
CREATE TABLE queue_recipients (
    queue_id INTEGER NOT NULL REFERENCES queue_messages(id),
    recipient TEXT NOT NULL,
    domain TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    last_error TEXT,
    PRIMARY KEY (queue_id, recipient)
);
CREATE INDEX queue_recipients_due ON queue_recipients(status, next_attempt);
