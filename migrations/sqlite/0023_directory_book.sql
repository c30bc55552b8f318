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

-- Only a change to what a card shows takes a number (a sign-in updating its time does
-- not). The inner
-- UPDATE changes change_seq, which is not among these columns, so it does not fire again.
CREATE TRIGGER accounts_change_seq_update
AFTER UPDATE OF first_name, middle_name, last_name, preferred_name, category, department_id,
    status, primary_address ON accounts
WHEN OLD.first_name IS NOT NEW.first_name
    OR OLD.middle_name IS NOT NEW.middle_name
    OR OLD.last_name IS NOT NEW.last_name
    OR OLD.preferred_name IS NOT NEW.preferred_name
    OR OLD.category IS NOT NEW.category
    OR OLD.department_id IS NOT NEW.department_id
    OR OLD.status IS NOT NEW.status
    OR OLD.primary_address IS NOT NEW.primary_address
BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1;
    UPDATE accounts SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1)
        WHERE id = NEW.id;
END;
CREATE TRIGGER accounts_change_seq_insert AFTER INSERT ON accounts BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1;
    UPDATE accounts SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1)
        WHERE id = NEW.id;
END;
