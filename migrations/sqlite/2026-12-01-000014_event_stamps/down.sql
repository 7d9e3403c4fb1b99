DROP TRIGGER events_stamp_users;
DROP TRIGGER events_stamp_variants;
DROP TRIGGER events_stamp_products;
DROP TRIGGER events_stamp_orders;
