-- Product search is a substring match (`search_text LIKE '%phrase%'`), which a b-tree cannot
-- serve: without this every search reads the whole products table. A trigram index can
-- (pg_trgm ships with PostgreSQL and is a trusted extension: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX products_search_text_trgm ON products USING gin (search_text gin_trgm_ops);
