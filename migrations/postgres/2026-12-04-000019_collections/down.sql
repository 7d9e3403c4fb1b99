DROP TABLE collection_products;
DROP TABLE collections;
