-- Manual collections: products staff group by hand (a sale, staff picks), in the order they
-- set, beside the category tree. A product can be in several collections; an unpublished
-- collection is seen by staff and partner keys only.
CREATE TABLE collections (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    title        TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    slug         TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    published    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

CREATE TABLE collection_products (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id  BIGINT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    product_id     BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    UNIQUE (collection_id, product_id)
);
CREATE INDEX collection_products_order ON collection_products (collection_id, position, product_id);
CREATE INDEX collection_products_product ON collection_products (product_id);
