-- Passkeys (WebAuthn credentials) as second factors, the state of ceremonies in progress, and
-- when each account was first found to need a second factor (the start of its enrollment
-- grace). Kept in step with ../postgres/0011_passkeys.sql.

-- One row per credential. `credential` is the verified public key, counter and flags as
-- webauthn-rs serializes them; `sign_count` repeats the counter so that an update from a stale
-- read can never move it back. A credential id belongs to one account only.
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    sign_count INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    last_used_source TEXT
);
CREATE INDEX passkeys_account ON passkeys(account_id);

-- A registration or sign-in ceremony waiting for the browser's answer: the challenge state,
-- taken (deleted) by the one answer that may use it.
CREATE TABLE webauthn_ceremonies (
    id TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    purpose TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies(expires_at);

-- The MFA enrollment grace runs from the first sign-in at which the policy applied and the
-- account had no second factor, not from the account's creation. The row stays after
-- enrollment, so removing one's factors later does not buy a new grace.
CREATE TABLE mfa_grace (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    started_at INTEGER NOT NULL
);
-- Accounts that exist at this upgrade keep the grace they had: it ran from their creation.
INSERT INTO mfa_grace (account_id, started_at) SELECT id, created_at FROM accounts;
