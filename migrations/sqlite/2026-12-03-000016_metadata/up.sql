-- Key-value metadata that staff and partners attach to products, variants, orders and customer
-- accounts (a partner's own ids, say). Exactly one owner column is set; the owner's deletion
-- takes its metadata along. Public entries are shown to whoever sees the owner, private ones
-- to staff and to partner keys with the owner's read scope.
CREATE TABLE metadata (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id  BIGINT REFERENCES products (id) ON DELETE CASCADE,
    variant_id  BIGINT REFERENCES variants (id) ON DELETE CASCADE,
    order_id    BIGINT REFERENCES orders (id) ON DELETE CASCADE,
    user_id     BIGINT REFERENCES users (id) ON DELETE CASCADE,
    private     BOOLEAN NOT NULL,
    key         TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 100),
    value       TEXT NOT NULL,
    CHECK ((product_id IS NOT NULL) + (variant_id IS NOT NULL) + (order_id IS NOT NULL)
           + (user_id IS NOT NULL) = 1)
);
CREATE UNIQUE INDEX metadata_product_key ON metadata (product_id, private, key)
    WHERE product_id IS NOT NULL;
CREATE UNIQUE INDEX metadata_variant_key ON metadata (variant_id, private, key)
    WHERE variant_id IS NOT NULL;
CREATE UNIQUE INDEX metadata_order_key ON metadata (order_id, private, key)
    WHERE order_id IS NOT NULL;
CREATE UNIQUE INDEX metadata_user_key ON metadata (user_id, private, key)
    WHERE user_id IS NOT NULL;
-- Filters by key (and value): `products(where: {metadata: …})` and the like.
CREATE INDEX metadata_key_value ON metadata (key, value);
