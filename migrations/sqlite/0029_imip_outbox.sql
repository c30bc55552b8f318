-- iTIP messages for people outside the organization (iMIP, RFC 6047), written in the
-- transaction of the calendar write that made them and mailed once it is committed: a crash
-- in between leaves them here, and the server mails them when it starts again. Kept in step
-- with ../postgres/0029_imip_outbox.sql.
CREATE TABLE imip_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    from_address TEXT NOT NULL,
    to_address TEXT NOT NULL,
    method TEXT NOT NULL,
    summary TEXT NOT NULL,
    ical TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- Tries so far, and when the next may be made: a write mails its own at once and a
    -- minute later the rest is anyone's to try; a try claims the row by raising `attempts`
    -- from the number it read, so two senders never mail the same row at once.
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_at INTEGER NOT NULL
);
CREATE INDEX imip_outbox_due ON imip_outbox(next_try_at);
