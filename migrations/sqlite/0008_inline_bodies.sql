-- Small message bodies kept in the database, sealed like the files: one WAL sync per group
-- commit instead of a new file and its fsyncs per message. Kept in step with
-- ../postgres/0008_inline_bodies.sql.
ALTER TABLE blobs ADD COLUMN data BLOB;
