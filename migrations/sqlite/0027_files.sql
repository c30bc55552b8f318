-- Each account's WebDAV file space (/dav/files/ADDRESS/): folders and files by their path
-- below the space, and the dead properties clients set on them. Kept in step with
-- ../postgres/0027_files.sql.

-- `path` is the segments joined by '/', '' for the space itself; `parent` the path of the
-- folder it is in ('' for the top level and for the space). A file's content is sealed with
-- a key derived from the organization's master key; `etag` is a keyed hash of the plain
-- content, so equal files have equal tags and nobody without the key can test a guess.
CREATE TABLE dav_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    path TEXT NOT NULL,
    parent TEXT NOT NULL,
    is_collection INTEGER NOT NULL,
    content BLOB,
    content_type TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    etag TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    UNIQUE (account_id, path)
);
CREATE INDEX dav_files_parent ON dav_files(account_id, parent);

-- A dead property: its namespace and name, the xml:lang it was set under, and its value as
-- self-contained XML.
CREATE TABLE dav_file_props (
    file_id INTEGER NOT NULL REFERENCES dav_files(id) ON DELETE CASCADE,
    ns TEXT NOT NULL,
    name TEXT NOT NULL,
    lang TEXT,
    value TEXT NOT NULL,
    PRIMARY KEY (file_id, ns, name)
);
