-- IMAP4rev1's \Recent: messages with a UID from first_recent_uid on have not been shown to a
-- session yet; the first session to select the mailbox read-write claims them. Kept in step
-- with ../postgres/0009_imap_state.sql.
ALTER TABLE mailboxes ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;
UPDATE mailboxes SET first_recent_uid = uid_next;

-- The highest UIDVALIDITY the account's mailboxes ever had: a mailbox made again under a
-- deleted one's name must get a new one, even within the same second.
ALTER TABLE mail_usage ADD COLUMN last_uid_validity INTEGER NOT NULL DEFAULT 0;

-- Subscriptions by name (RFC 9051 section 6.3.7): they outlive a deleted mailbox and may name
-- one that does not exist; LIST (SUBSCRIBED) shows those as \NonExistent. The old
-- mailboxes.subscribed column is no longer read.
CREATE TABLE subscriptions (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);
INSERT INTO subscriptions (account_id, name)
    SELECT account_id, name FROM mailboxes WHERE subscribed = 1;

-- Resynchronization asks for the expunges after a modseq (QRESYNC, and every session's look
-- at what others changed); without this each look read all of a mailbox's expunge records.
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
