-- Authentication: password history, lockout state, familiar sources, second factors, app
-- passwords, web sessions. Kept in step with ../postgres/0002_authentication.sql.

CREATE TABLE password_history (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    password_hash TEXT NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX password_history_account ON password_history(account_id, changed_at);

-- Consecutive failed sign-ins per account, counted apart for familiar and unfamiliar sources.
CREATE TABLE lockouts (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    source_kind TEXT NOT NULL,
    failures INTEGER NOT NULL,
    locks INTEGER NOT NULL,
    locked_until INTEGER,
    last_failure_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, source_kind)
);

-- Networks an account has signed in from successfully.
CREATE TABLE familiar_sources (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    network TEXT NOT NULL,
    last_success_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, network)
);

-- Failed sign-ins per source network over all accounts, in a fixed window.
CREATE TABLE source_failures (
    network TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL
);

-- TOTP seeds, sealed with AES-256-GCM under a key derived from the master key.
CREATE TABLE totp_secrets (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    secret_sealed TEXT NOT NULL,
    confirmed_at INTEGER,
    last_step INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    code_hash TEXT NOT NULL,
    used_at INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, code_hash)
);

CREATE TABLE app_passwords (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    label TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    last_used_source TEXT,
    revoked_at INTEGER
);
CREATE INDEX app_passwords_account ON app_passwords(account_id);

CREATE TABLE web_sessions (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    device TEXT NOT NULL,
    source TEXT,
    amr TEXT NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX web_sessions_account ON web_sessions(account_id);
