-- Catalog: a category tree, products, their variants and images (SQLite).
CREATE TABLE categories (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id   BIGINT REFERENCES categories (id) ON DELETE RESTRICT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        TEXT NOT NULL UNIQUE,
    -- Ids from the root down, delimited: '/1/4/'. Descendants share the prefix.
    path        TEXT NOT NULL,
    position    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX categories_parent_position ON categories (parent_id, position, id);
CREATE INDEX categories_path ON categories (path);

CREATE TABLE products (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    category_id  BIGINT REFERENCES categories (id) ON DELETE SET NULL,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug         TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('DRAFT', 'ACTIVE', 'ARCHIVED')),
    -- Lowest and highest variant price in minor units, kept in step by the services.
    price_min    BIGINT NOT NULL DEFAULT 0,
    price_max    BIGINT NOT NULL DEFAULT 0,
    -- Lower-cased name, description and SKUs: what text search matches.
    search_text  TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX products_category ON products (category_id);
CREATE INDEX products_status_name ON products (status, name, id);
CREATE INDEX products_status_price ON products (status, price_min, id);
CREATE INDEX products_status_created ON products (status, created_at, id);

CREATE TABLE variants (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id        BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    sku               TEXT NOT NULL UNIQUE,
    title             TEXT NOT NULL,
    -- JSON array of {"name": …, "value": …}.
    options           TEXT NOT NULL DEFAULT '[]',
    price             BIGINT NOT NULL CHECK (price >= 0),
    compare_at_price  BIGINT CHECK (compare_at_price IS NULL OR compare_at_price >= 0),
    stock             INTEGER NOT NULL CHECK (stock >= 0),
    position          INTEGER NOT NULL DEFAULT 0,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX variants_product_position ON variants (product_id, position, id);
CREATE INDEX variants_product_stock ON variants (product_id, stock);

CREATE TABLE product_images (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id  BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    alt_text    TEXT NOT NULL DEFAULT '',
    position    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX product_images_product_position ON product_images (product_id, position, id);
