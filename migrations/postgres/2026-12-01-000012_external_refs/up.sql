-- The reference a partner system (an ERP) knows a product by, so that it can push its catalog
-- again and again (`productUpsert`): unique when set, null for products made in Bazaar.
-- (000011 is the event log's.)
ALTER TABLE products ADD COLUMN external_ref TEXT;
CREATE UNIQUE INDEX products_external_ref ON products (external_ref);
