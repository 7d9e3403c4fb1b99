-- Where the shop ships and what it charges there. A zone is a set of countries and regions
-- (a region is a country's subdivision code, such as CA for California; '' is the whole
-- country); a country or region belongs to one zone at most, and an address's region entry is
-- matched before its country's. A zone offers shipping methods, each with a price, an optional
-- subtotal band and an optional free-shipping threshold.
CREATE TABLE shipping_zones (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE shipping_zone_regions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    zone_id       BIGINT NOT NULL REFERENCES shipping_zones (id) ON DELETE CASCADE,
    country_code  TEXT NOT NULL CHECK (length(country_code) = 2),
    region_code   TEXT NOT NULL DEFAULT '',
    UNIQUE (country_code, region_code)
);
CREATE INDEX shipping_zone_regions_zone ON shipping_zone_regions (zone_id, id);

CREATE TABLE shipping_methods (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    zone_id       BIGINT NOT NULL REFERENCES shipping_zones (id) ON DELETE CASCADE,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    price         BIGINT NOT NULL CHECK (price >= 0),
    free_from     BIGINT CHECK (free_from >= 0),
    min_subtotal  BIGINT NOT NULL DEFAULT 0 CHECK (min_subtotal >= 0),
    max_subtotal  BIGINT CHECK (max_subtotal > min_subtotal),
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX shipping_methods_zone ON shipping_methods (zone_id, id);

-- Tax rates by country and region. Every rate matching an address applies (a country's rate
-- and its region's add up, as Canada's GST and a province's PST do), each as its own tax line.
CREATE TABLE tax_rates (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    country_code  TEXT NOT NULL CHECK (length(country_code) = 2),
    region_code   TEXT NOT NULL DEFAULT '',
    rate_bp       INTEGER NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
    created_at    TIMESTAMP NOT NULL,
    UNIQUE (country_code, region_code, name)
);

-- The cart knows who buys and where it goes; checkout uses it.
ALTER TABLE carts ADD COLUMN buyer_email TEXT NOT NULL DEFAULT '';
ALTER TABLE carts ADD COLUMN shipping_address TEXT NOT NULL DEFAULT '';
ALTER TABLE carts ADD COLUMN billing_address TEXT NOT NULL DEFAULT '';
ALTER TABLE carts ADD COLUMN shipping_method_id BIGINT
    REFERENCES shipping_methods (id) ON DELETE SET NULL;
CREATE INDEX carts_shipping_method ON carts (shipping_method_id);

-- What the order was charged for shipping and tax, as it was when placed.
ALTER TABLE orders ADD COLUMN billing_address TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN shipping_method TEXT;
ALTER TABLE orders ADD COLUMN tax_lines TEXT NOT NULL DEFAULT '[]';
ALTER TABLE orders ADD COLUMN taxes_included BOOLEAN NOT NULL DEFAULT FALSE;
