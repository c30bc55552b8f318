-- The mail store: per-account mailboxes with IMAP's counters, one row per message copy, and
-- content-addressed bodies shared by every copy. Kept in step with
-- ../postgres/0006_mail_store.sql.

CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    special_use TEXT,
    uid_validity INTEGER NOT NULL,
    uid_next INTEGER NOT NULL,
    highest_modseq INTEGER NOT NULL,
    subscribed INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

-- A body, stored once under the keyed hash of its bytes. refs counts the message rows that
-- hold it; at zero the row and the file go. summary is what IMAP needs (envelope, structure,
-- sizes), derived once at delivery.
CREATE TABLE blobs (
    id TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    refs INTEGER NOT NULL,
    summary TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    blob_id TEXT NOT NULL REFERENCES blobs(id),
    size INTEGER NOT NULL,
    flags TEXT NOT NULL,
    internal_date INTEGER NOT NULL,
    UNIQUE (mailbox_id, uid)
);
CREATE INDEX messages_blob ON messages(blob_id);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);

-- Expunged UIDs with the modseq of their removal, for QRESYNC's VANISHED.
CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
);

-- What an account's mail occupies, kept with every change, checked against its quota.
CREATE TABLE mail_usage (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    bytes INTEGER NOT NULL,
    messages INTEGER NOT NULL
);
