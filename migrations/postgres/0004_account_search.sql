-- Substring search over names, addresses and employee ids that stays fast at hundreds of
-- thousands of accounts: a trigram index that PostgreSQL uses for LIKE '%...%'. Kept in step
-- with ../sqlite/0004_account_search.sql, which uses an FTS5 trigram table instead.
-- pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX accounts_search_trgm ON accounts USING gin (search_text gin_trgm_ops);

-- Filters that come with the address order the listing is sorted by.
CREATE INDEX accounts_status_address ON accounts(status, primary_address);
CREATE INDEX accounts_department_address ON accounts(department_id, primary_address);
