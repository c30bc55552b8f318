-- carepost as an OpenID Connect provider: its signing keys, the applications registered with
-- it, and what it issued to them. Kept in step with ../postgres/0012_oidc.sql.

-- Signing keys. The private key is PKCS#8, sealed (AES-256-GCM) under a key derived from the
-- master key; the public half is the JWK published at the JWKS endpoint. A rotation retires a
-- key (it signs no more) and keeps it published until the tokens it signed have expired.
CREATE TABLE oidc_keys (
    id INTEGER PRIMARY KEY,
    kid TEXT NOT NULL UNIQUE,
    alg TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    published_until INTEGER
);

-- Registered applications (relying parties). `secret_hash` is a keyed hash, NULL for a public
-- client; redirect URIs are matched exactly (one per line); `scopes` lists what it may ask for;
-- `allowed_roles` and `allowed_departments` (comma-separated; empty: everyone) say who may use
-- it; a department covers its subtree.
CREATE TABLE oidc_clients (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    scopes TEXT NOT NULL,
    allowed_roles TEXT NOT NULL,
    allowed_departments TEXT NOT NULL,
    consent INTEGER NOT NULL,
    require_mfa INTEGER NOT NULL,
    id_token_alg TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    removed_at INTEGER
);

-- Authorization codes: a keyed hash of the code, what it was issued for, and the grant its
-- redemption made (a replayed code revokes that grant).
CREATE TABLE oidc_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    session_id INTEGER,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    auth_time INTEGER NOT NULL,
    amr TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    grant_id INTEGER
);
CREATE INDEX oidc_codes_expiry ON oidc_codes(expires_at);

-- A grant: what one sign-in (or one client-credentials request) gave one client. Access
-- tokens name it, refresh tokens belong to it, and revoking it ends them all. `account_id` is
-- NULL for a client acting for itself. Its last use (a refresh, a mail sign-in) is kept to
-- the minute, and why it was revoked, for its owner's list of applications.
-- An id is never given again, even after a purge (access tokens name their grant):
-- AUTOINCREMENT on SQLite, an identity column on PostgreSQL.
CREATE TABLE oidc_grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts(id),
    session_id INTEGER,
    scope TEXT NOT NULL,
    auth_time INTEGER,
    amr TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoke_reason TEXT,
    last_used_at INTEGER,
    last_used_source TEXT
);
CREATE INDEX oidc_grants_account ON oidc_grants(account_id);
CREATE INDEX oidc_grants_session ON oidc_grants(session_id);

-- Refresh tokens, one live per grant: each use spends it (`used_at`) and makes the next. A
-- spent token presented again is a stolen copy or a replay, and revokes its grant.
CREATE TABLE oidc_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id INTEGER NOT NULL REFERENCES oidc_grants(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens(grant_id);

-- What each person allowed an application that asks for consent.
CREATE TABLE oidc_consents (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
