-- IMAP4rev1's \Recent: messages with a UID from first_recent_uid on have not been shown to a
-- session yet; the first session to select the mailbox read-write claims them. Kept in step
-- with ../postgres/0009_recent.sql.
ALTER TABLE mailboxes ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;
UPDATE mailboxes SET first_recent_uid = uid_next;
