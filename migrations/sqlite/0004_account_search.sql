-- Substring search over names, addresses and employee ids that stays fast at hundreds of
-- thousands of accounts: an FTS5 trigram index kept in step with accounts.search_text by
-- triggers (SQLite answers LIKE '%...%' on it). Kept in step with
-- ../postgres/0004_account_search.sql, which uses a pg_trgm index instead.
CREATE VIRTUAL TABLE accounts_search USING fts5(
    search_text, content='accounts', content_rowid='id', tokenize='trigram'
);
INSERT INTO accounts_search(rowid, search_text) SELECT id, search_text FROM accounts;
CREATE TRIGGER accounts_search_insert AFTER INSERT ON accounts BEGIN
    INSERT INTO accounts_search(rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER accounts_search_delete AFTER DELETE ON accounts BEGIN
    INSERT INTO accounts_search(accounts_search, rowid, search_text)
    VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER accounts_search_update AFTER UPDATE OF search_text ON accounts BEGIN
    INSERT INTO accounts_search(accounts_search, rowid, search_text)
    VALUES ('delete', old.id, old.search_text);
    INSERT INTO accounts_search(rowid, search_text) VALUES (new.id, new.search_text);
END;

-- Filters that come with the address order the listing is sorted by.
CREATE INDEX accounts_status_address ON accounts(status, primary_address);
CREATE INDEX accounts_department_address ON accounts(department_id, primary_address);
