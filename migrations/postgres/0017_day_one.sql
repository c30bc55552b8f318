-- Day one traps (kept in step with ../sqlite/0017_day_one.sql):
--
-- The root key the store's secrets are derived from, wrapped (AES-256-GCM) under each master
-- key allowed to open it. A node whose secrets.master_key unwraps none of them refuses to
-- start, instead of writing with a key the others cannot read. The fingerprint is a keyed hash
-- made from the key (never the key), printed to tell keys apart.
CREATE TABLE master_keys (
    fingerprint TEXT PRIMARY KEY,
    wrapped_root TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    added_by TEXT NOT NULL
);

-- A password an administrator set (not a temporary one): its owner may replace it at once,
-- whatever the minimum age.
ALTER TABLE credentials ADD COLUMN set_by_admin BIGINT NOT NULL DEFAULT 0;

-- Authenticator codes tried to unlock an account while it is locked: a few per lock, so six
-- digits never face more guesses than the lockout allows.
ALTER TABLE lockouts ADD COLUMN unlock_tries BIGINT NOT NULL DEFAULT 0;

-- Failed sign-ins of one source network, per login tried: a spray tries many logins (or
-- unknown ones), a busy ward workstation retries a few known ones until they succeed. A
-- success forgets its login's row; the network is paused while it holds too many rows in the
-- window. login_key is 'account:ID' for a known account, 'login:HASH' for an unknown login.
CREATE TABLE source_login_failures (
    network TEXT NOT NULL,
    login_key TEXT NOT NULL,
    account_id BIGINT,
    failures BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (network, login_key)
);
CREATE INDEX source_login_failures_recent ON source_login_failures(network, last_at);
CREATE INDEX source_login_failures_account ON source_login_failures(account_id);
