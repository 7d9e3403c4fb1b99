DROP INDEX products_external_ref;
ALTER TABLE products DROP COLUMN external_ref;
