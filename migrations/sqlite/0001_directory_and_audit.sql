-- The staff directory, the first credentials and the audit chain. Times are integer
-- milliseconds since the epoch. Kept in step with ../postgres/0001_directory_and_audit.sql.

CREATE TABLE departments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    parent_id INTEGER REFERENCES departments(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX departments_parent ON departments(parent_id);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    middle_name TEXT,
    last_name TEXT NOT NULL,
    preferred_name TEXT,
    employee_id TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    department_id INTEGER NOT NULL REFERENCES departments(id),
    supervisor_id INTEGER REFERENCES accounts(id),
    status TEXT NOT NULL,
    primary_address TEXT NOT NULL,
    search_text TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX accounts_department ON accounts(department_id);
CREATE INDEX accounts_status ON accounts(status);
CREATE INDEX accounts_primary_address ON accounts(primary_address);

-- Every address ever assigned. The primary key is what makes two concurrent creations of
-- "John Smith" end with two different addresses. An address is held while reusable_after is
-- NULL or in the future; active = 0 means it no longer receives mail.
CREATE TABLE addresses (
    address TEXT PRIMARY KEY,
    account_id INTEGER REFERENCES accounts(id),
    kind TEXT NOT NULL,
    active INTEGER NOT NULL,
    reusable_after INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX addresses_account ON addresses(account_id);

CREATE TABLE account_roles (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    role TEXT NOT NULL,
    scope_department_id INTEGER REFERENCES departments(id),
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, role)
);

CREATE TABLE credentials (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    password_hash TEXT NOT NULL,
    must_change INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
);

CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    actor_id INTEGER,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    source TEXT,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_actor ON audit_events(actor);
CREATE INDEX audit_events_target ON audit_events(target);

-- The end of the chain; its row is locked by every audited transaction, which orders them.
-- seal is an HMAC of (seq, hash) under a key derived from the master key.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    seal TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash, seal)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '');
