-- The directory address book also holds rooms, equipment and distribution lists, and follows
-- department renames. Resources and lists take change numbers from directory_seq as accounts
-- do (migration 0023), so one token covers them all; a deleted one leaves a row in
-- directory_gone with the number of its removal, which a sync reports as gone. A renamed
-- department renumbers the accounts and resources in it, because their cards show its name.
-- Kept in step with ../postgres/0026_directory_book_entries.sql.
ALTER TABLE calendar_resources ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mail_lists ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE directory_gone (
    -- 'resource' (ref: its id) or 'list' (ref: its address).
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    change_seq INTEGER NOT NULL,
    PRIMARY KEY (kind, ref)
);
CREATE INDEX directory_gone_change_seq ON directory_gone(change_seq);

-- The resources and lists there are now take numbers after every account's.
UPDATE calendar_resources SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1) + r.n
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM calendar_resources) AS r
WHERE calendar_resources.id = r.id;
UPDATE directory_seq SET seq = seq + (SELECT COUNT(*) FROM calendar_resources) WHERE id = 1;
UPDATE mail_lists SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1) + l.n
FROM (SELECT address, row_number() OVER (ORDER BY address) AS n FROM mail_lists) AS l
WHERE mail_lists.address = l.address;
UPDATE directory_seq SET seq = seq + (SELECT COUNT(*) FROM mail_lists) WHERE id = 1;
CREATE INDEX calendar_resources_change_seq ON calendar_resources(change_seq);
CREATE INDEX mail_lists_change_seq ON mail_lists(change_seq);

-- The inner UPDATEs change change_seq, which is not among the watched columns, so they do
-- not fire again. A booking decision (lock_seq) or a rule change is not on the card.
CREATE TRIGGER calendar_resources_change_seq_insert AFTER INSERT ON calendar_resources BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1;
    UPDATE calendar_resources SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1)
        WHERE id = NEW.id;
END;
CREATE TRIGGER calendar_resources_change_seq_update
AFTER UPDATE OF name, kind, department_id, capacity, address ON calendar_resources
WHEN OLD.name IS NOT NEW.name
    OR OLD.kind IS NOT NEW.kind
    OR OLD.department_id IS NOT NEW.department_id
    OR OLD.capacity IS NOT NEW.capacity
    OR OLD.address IS NOT NEW.address
BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1;
    UPDATE calendar_resources SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1)
        WHERE id = NEW.id;
END;
CREATE TRIGGER mail_lists_change_seq_insert AFTER INSERT ON mail_lists BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1;
    UPDATE mail_lists SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1)
        WHERE address = NEW.address;
    -- A list made again at a removed one's address is present, not gone.
    DELETE FROM directory_gone WHERE kind = 'list' AND ref = NEW.address;
END;
CREATE TRIGGER mail_lists_change_seq_update AFTER UPDATE OF name ON mail_lists
WHEN OLD.name IS NOT NEW.name
BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1;
    UPDATE mail_lists SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1)
        WHERE address = NEW.address;
END;
CREATE TRIGGER calendar_resources_gone AFTER DELETE ON calendar_resources BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1;
    INSERT OR REPLACE INTO directory_gone (kind, ref, change_seq)
        VALUES ('resource', CAST(OLD.id AS TEXT), (SELECT seq FROM directory_seq WHERE id = 1));
END;
CREATE TRIGGER mail_lists_gone AFTER DELETE ON mail_lists BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1;
    INSERT OR REPLACE INTO directory_gone (kind, ref, change_seq)
        VALUES ('list', OLD.address, (SELECT seq FROM directory_seq WHERE id = 1));
END;

-- A renamed department: every account and resource in it takes a number of its own (a sync
-- pages by number, so two cards never share one). SQLite has one writer: nothing joins the
-- department between the renumbering and the count.
CREATE TRIGGER departments_renamed AFTER UPDATE OF name ON departments
WHEN OLD.name IS NOT NEW.name
BEGIN
    UPDATE accounts SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1) + r.n
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM accounts
          WHERE department_id = NEW.id) AS r
    WHERE accounts.id = r.id;
    UPDATE directory_seq SET seq = seq + (SELECT COUNT(*) FROM accounts
        WHERE department_id = NEW.id) WHERE id = 1;
    UPDATE calendar_resources SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1) + r.n
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM calendar_resources
          WHERE department_id = NEW.id) AS r
    WHERE calendar_resources.id = r.id;
    UPDATE directory_seq SET seq = seq + (SELECT COUNT(*) FROM calendar_resources
        WHERE department_id = NEW.id) WHERE id = 1;
END;
