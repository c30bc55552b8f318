-- Calendars, task lists and personal address books (CalDAV, CardDAV): collections of an
-- account and the objects in them, kept byte for byte as clients sent them, with the change
-- log that sync-collection (RFC 6578) reads. Kept in step with ../postgres/0022_calendar.sql.

-- kind: calendar or addressbook. slug is the collection's path segment; components lists
-- what a calendar holds (VEVENT, VTODO). sync_seq is the number of its last change.
CREATE TABLE dav_collections (
    -- AUTOINCREMENT: an id is never reused, so a deleted calendar's sync token cannot pass
    -- for a new one's.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL,
    slug TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    color TEXT NOT NULL,
    components TEXT NOT NULL,
    sync_seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, slug)
);

-- One calendar object or vCard. starts_at/ends_at (seconds) bound every instance, for
-- time-range queries: NULL starts_at means no time (a task without dates), NULL ends_at an
-- unbounded recurrence. The exact answer is computed from the data; these only narrow it.
CREATE TABLE dav_objects (
    collection_id INTEGER NOT NULL REFERENCES dav_collections(id),
    name TEXT NOT NULL,
    uid TEXT NOT NULL,
    etag TEXT NOT NULL,
    component TEXT NOT NULL,
    data TEXT NOT NULL,
    starts_at INTEGER,
    ends_at INTEGER,
    modseq INTEGER NOT NULL,
    PRIMARY KEY (collection_id, name),
    UNIQUE (collection_id, uid)
);
CREATE INDEX dav_objects_span ON dav_objects(collection_id, starts_at);

-- The last change of each name in a collection: a sync token is a change number, and the
-- changes since it are the rows with a greater seq (deleted = 1 for a removed object).
CREATE TABLE dav_changes (
    collection_id INTEGER NOT NULL REFERENCES dav_collections(id),
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (collection_id, name)
);
CREATE INDEX dav_changes_seq ON dav_changes(collection_id, seq);
