-- The objects of a collection in the order of their last write: an initial sync-collection
-- reads them a page at a time in that order. Kept in step with ../postgres/0028_sync_order.sql.
CREATE INDEX dav_objects_modseq ON dav_objects(collection_id, modseq);
