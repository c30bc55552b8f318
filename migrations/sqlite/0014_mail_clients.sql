-- The mail apps each account signs in with: protocol, credential (the password, an app
-- password, or a single sign-on grant), where from, and when last. Its owner's sessions list
-- shows them ("why did my phone stop syncing"); rows unseen for 30 days are forgotten. Kept
-- in step with ../postgres/0014_mail_clients.sql.
CREATE TABLE mail_clients (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    protocol TEXT NOT NULL,
    credential TEXT NOT NULL,
    source TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (account_id, protocol, credential, source)
);
CREATE INDEX mail_clients_last_seen ON mail_clients(last_seen);
