-- The organization's directory as an address book (CardDAV): phones keep it current with
-- sync-collection, whose token is a change number. Every insert or update of an account takes
-- the next number from the one row of directory_seq; that row stays locked until the writing
-- transaction ends, so numbers appear in commit order and a sync never skips a change (a
-- PostgreSQL sequence would not promise that). Kept in step with
-- ../sqlite/0023_directory_book.sql.
CREATE TABLE directory_seq (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
ALTER TABLE accounts ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET change_seq = id;
INSERT INTO directory_seq (id, seq) SELECT 1, COALESCE(MAX(id), 0) FROM accounts;
CREATE INDEX accounts_change_seq ON accounts(change_seq);

CREATE FUNCTION accounts_take_change_seq() RETURNS trigger AS $$
BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq INTO NEW.change_seq;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- Only what a card shows takes a number (a sign-in updating its time does not); an UPDATE
-- that names these columns without changing them takes none either.
CREATE TRIGGER accounts_change_seq_insert BEFORE INSERT ON accounts
FOR EACH ROW EXECUTE FUNCTION accounts_take_change_seq();
CREATE TRIGGER accounts_change_seq_update BEFORE UPDATE OF first_name, middle_name, last_name, preferred_name, category, department_id, status, primary_address ON accounts
FOR EACH ROW
WHEN ((OLD.first_name, OLD.middle_name, OLD.last_name, OLD.preferred_name, OLD.category,
       OLD.department_id, OLD.status, OLD.primary_address)
      IS DISTINCT FROM
      (NEW.first_name, NEW.middle_name, NEW.last_name, NEW.preferred_name, NEW.category,
       NEW.department_id, NEW.status, NEW.primary_address))
EXECUTE FUNCTION accounts_take_change_seq();
