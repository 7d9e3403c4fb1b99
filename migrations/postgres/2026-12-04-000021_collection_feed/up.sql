-- Collections join the change feeds: each row carries the event-log position of its latest
-- change (fields, products or their order), as products, variants and categories do.
ALTER TABLE collections ADD COLUMN change_position BIGINT NOT NULL DEFAULT 0;
CREATE INDEX collections_change_position ON collections (change_position, id);
