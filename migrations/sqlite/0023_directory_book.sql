-- The organization's directory as an address book (CardDAV): phones keep it current with
-- sync-collection, whose token is a change number. Every insert or update of an account takes
-- the next number from directory_seq, in the writing transaction (SQLite has one writer, so
-- numbers appear in commit order and a sync never skips a change). Kept in step with
-- ../postgres/0023_directory_book.sql.
CREATE TABLE directory_seq (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
ALTER TABLE accounts ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET change_seq = id;
INSERT INTO directory_seq (id, seq) SELECT 1, COALESCE(MAX(id), 0) FROM accounts;
CREATE INDEX accounts_change_seq ON accounts(change_seq);

-- The inner UPDATE changes change_seq, so the WHEN clause stops it from firing again.
CREATE TRIGGER accounts_change_seq_update AFTER UPDATE ON accounts
WHEN NEW.change_seq = OLD.change_seq BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1;
    UPDATE accounts SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1)
        WHERE id = NEW.id;
END;
CREATE TRIGGER accounts_change_seq_insert AFTER INSERT ON accounts BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1;
    UPDATE accounts SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1)
        WHERE id = NEW.id;
END;
