-- The directory address book also holds rooms, equipment and distribution lists, and follows
-- department renames. Resources and lists take change numbers from directory_seq as accounts
-- do (migration 0023), so one token covers them all; a deleted one leaves a row in
-- directory_gone with the number of its removal, which a sync reports as gone. A renamed
-- department renumbers the accounts and resources in it, because their cards show its name.
-- Kept in step with ../sqlite/0026_directory_book_entries.sql.
ALTER TABLE calendar_resources ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mail_lists ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE directory_gone (
    -- 'resource' (ref: its id) or 'list' (ref: its address).
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    change_seq BIGINT NOT NULL,
    PRIMARY KEY (kind, ref)
);
CREATE INDEX directory_gone_change_seq ON directory_gone(change_seq);

-- The resources and lists there are now take numbers after every account's.
UPDATE calendar_resources SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1) + r.n
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM calendar_resources) r
WHERE calendar_resources.id = r.id;
UPDATE directory_seq SET seq = seq + (SELECT COUNT(*) FROM calendar_resources) WHERE id = 1;
UPDATE mail_lists SET change_seq = (SELECT seq FROM directory_seq WHERE id = 1) + l.n
FROM (SELECT address, row_number() OVER (ORDER BY address) AS n FROM mail_lists) l
WHERE mail_lists.address = l.address;
UPDATE directory_seq SET seq = seq + (SELECT COUNT(*) FROM mail_lists) WHERE id = 1;
CREATE INDEX calendar_resources_change_seq ON calendar_resources(change_seq);
CREATE INDEX mail_lists_change_seq ON mail_lists(change_seq);

-- accounts_take_change_seq (0023) sets NEW.change_seq from directory_seq for any table.
CREATE TRIGGER calendar_resources_change_seq_insert BEFORE INSERT ON calendar_resources
FOR EACH ROW EXECUTE FUNCTION accounts_take_change_seq();
-- A booking decision (lock_seq) or a rule change is not on the card and takes no number.
CREATE TRIGGER calendar_resources_change_seq_update
BEFORE UPDATE OF name, kind, department_id, capacity, address ON calendar_resources
FOR EACH ROW
WHEN ((OLD.name, OLD.kind, OLD.department_id, OLD.capacity, OLD.address)
      IS DISTINCT FROM (NEW.name, NEW.kind, NEW.department_id, NEW.capacity, NEW.address))
EXECUTE FUNCTION accounts_take_change_seq();
CREATE TRIGGER mail_lists_change_seq_insert BEFORE INSERT ON mail_lists
FOR EACH ROW EXECUTE FUNCTION accounts_take_change_seq();
CREATE TRIGGER mail_lists_change_seq_update BEFORE UPDATE OF name ON mail_lists
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
EXECUTE FUNCTION accounts_take_change_seq();

CREATE FUNCTION directory_mark_gone(gone_kind TEXT, gone_ref TEXT) RETURNS void AS $$
DECLARE n BIGINT;
BEGIN
    UPDATE directory_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq INTO n;
    INSERT INTO directory_gone (kind, ref, change_seq) VALUES (gone_kind, gone_ref, n)
    ON CONFLICT (kind, ref) DO UPDATE SET change_seq = EXCLUDED.change_seq;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION calendar_resources_gone() RETURNS trigger AS $$
BEGIN
    PERFORM directory_mark_gone('resource', OLD.id::TEXT);
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER calendar_resources_gone AFTER DELETE ON calendar_resources
FOR EACH ROW EXECUTE FUNCTION calendar_resources_gone();
CREATE FUNCTION mail_lists_gone() RETURNS trigger AS $$
BEGIN
    PERFORM directory_mark_gone('list', OLD.address);
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER mail_lists_gone AFTER DELETE ON mail_lists
FOR EACH ROW EXECUTE FUNCTION mail_lists_gone();
-- A list made again at a removed one's address is present, not gone.
CREATE FUNCTION mail_lists_back() RETURNS trigger AS $$
BEGIN
    DELETE FROM directory_gone WHERE kind = 'list' AND ref = NEW.address;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER mail_lists_back AFTER INSERT ON mail_lists
FOR EACH ROW EXECUTE FUNCTION mail_lists_back();

-- A renamed department: every account and resource in it takes a number of its own (a sync
-- pages by number, so two cards never share one). The department's rows are locked first,
-- in id order, and directory_seq after them: a write of one of those accounts takes its row
-- and then directory_seq too, so the two wait for each other instead of deadlocking. Once
-- directory_seq is held no account or resource joins the department before the renumbering
-- (one that joins takes directory_seq first and has committed by then).
CREATE FUNCTION departments_renumber_cards() RETURNS trigger AS $$
DECLARE base BIGINT; na BIGINT; nr BIGINT;
BEGIN
    PERFORM 1 FROM accounts WHERE department_id = NEW.id ORDER BY id FOR UPDATE;
    PERFORM 1 FROM calendar_resources WHERE department_id = NEW.id ORDER BY id FOR UPDATE;
    PERFORM 1 FROM directory_seq WHERE id = 1 FOR UPDATE;
    SELECT COUNT(*) INTO na FROM accounts WHERE department_id = NEW.id;
    SELECT COUNT(*) INTO nr FROM calendar_resources WHERE department_id = NEW.id;
    UPDATE directory_seq SET seq = seq + na + nr WHERE id = 1 RETURNING seq - na - nr INTO base;
    UPDATE accounts SET change_seq = base + r.n
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM accounts
          WHERE department_id = NEW.id) r
    WHERE accounts.id = r.id;
    UPDATE calendar_resources SET change_seq = base + na + r.n
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM calendar_resources
          WHERE department_id = NEW.id) r
    WHERE calendar_resources.id = r.id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER departments_renamed AFTER UPDATE OF name ON departments
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
EXECUTE FUNCTION departments_renumber_cards();
