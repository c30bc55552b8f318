-- The console's accounts table: when each account last signed in (any protocol), and indexes
-- for its sort orders and filters. And the personal address HR records for a person, where a
-- first-sign-in invitation is mailed (never used for anything else).
ALTER TABLE accounts ADD COLUMN last_sign_in_at BIGINT;
CREATE INDEX accounts_last_sign_in ON accounts(last_sign_in_at);
CREATE INDEX accounts_name ON accounts(last_name, first_name);
CREATE INDEX accounts_category ON accounts(category);
CREATE INDEX account_roles_role ON account_roles(role);
ALTER TABLE accounts ADD COLUMN personal_email TEXT;
