-- Distribution lists: an address of the organization that expands, at delivery, to the active
-- accounts of a department and the departments below it, or of the whole organization
-- (department_id NULL). Only signed-in staff holding one of the sender roles may post to one.
-- The address is claimed in addresses (kind 'list', no account) so nobody is given it. Kept in
-- step with ../postgres/0010_mail_lists.sql.
CREATE TABLE mail_lists (
    address TEXT PRIMARY KEY REFERENCES addresses(address),
    name TEXT NOT NULL,
    department_id INTEGER REFERENCES departments(id),
    senders TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
