CREATE INDEX products_category ON products (category_id);
DROP INDEX products_category_status_created;
DROP INDEX products_category_status_price;
DROP INDEX products_category_status_name;
