-- PostgreSQL gets a trigram index for product search here; SQLite has no index that serves
-- `LIKE '%phrase%'`, so its searches scan the products table (fine at SQLite's scale).
SELECT 1;
