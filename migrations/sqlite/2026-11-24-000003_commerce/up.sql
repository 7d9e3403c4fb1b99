-- Commerce: discount codes, carts and their lines, orders with line snapshots and events,
-- payment attempts, reviews (SQLite).
CREATE TABLE discount_codes (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Upper-cased.
    code              TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL CHECK (kind IN ('PERCENTAGE', 'FIXED_AMOUNT')),
    -- Percent (1–100) for PERCENTAGE, minor units for FIXED_AMOUNT.
    value             BIGINT NOT NULL CHECK (value > 0),
    minimum_subtotal  BIGINT NOT NULL DEFAULT 0 CHECK (minimum_subtotal >= 0),
    usage_limit       INTEGER CHECK (usage_limit IS NULL OR usage_limit >= 0),
    times_used        INTEGER NOT NULL DEFAULT 0 CHECK (times_used >= 0),
    starts_at         TIMESTAMP,
    ends_at           TIMESTAMP,
    created_at        TIMESTAMP NOT NULL
);

CREATE TABLE carts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The cart's address for clients: 128 random bits, base64url.
    token             TEXT NOT NULL UNIQUE,
    user_id           BIGINT REFERENCES users (id) ON DELETE CASCADE,
    discount_code_id  BIGINT REFERENCES discount_codes (id) ON DELETE SET NULL,
    -- Set when the cart became an order; a completed cart takes no more changes.
    order_id          BIGINT,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX carts_user ON carts (user_id, order_id);

CREATE TABLE cart_lines (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    cart_id     BIGINT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    variant_id  BIGINT NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
    quantity    INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (cart_id, variant_id)
);

CREATE TABLE orders (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            BIGINT REFERENCES users (id) ON DELETE SET NULL,
    email              TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('PENDING_PAYMENT', 'PAID', 'FULFILLED', 'CANCELLED', 'REFUNDED')),
    currency           TEXT NOT NULL,
    subtotal           BIGINT NOT NULL,
    discount_total     BIGINT NOT NULL,
    shipping_total     BIGINT NOT NULL,
    tax_total          BIGINT NOT NULL,
    total              BIGINT NOT NULL,
    discount_code      TEXT,
    -- JSON object of the address parts.
    shipping_address   TEXT NOT NULL,
    idempotency_key    TEXT UNIQUE,
    -- SHA-256 of the checkout request, to tell a replay from a reuse of the key.
    request_hash       TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX orders_user ON orders (user_id, id);
CREATE INDEX orders_status ON orders (status, id);

CREATE TABLE order_lines (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id       BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    variant_id     BIGINT REFERENCES variants (id) ON DELETE SET NULL,
    product_id     BIGINT REFERENCES products (id) ON DELETE SET NULL,
    product_name   TEXT NOT NULL,
    variant_title  TEXT NOT NULL,
    sku            TEXT NOT NULL,
    unit_price     BIGINT NOT NULL,
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    line_total     BIGINT NOT NULL
);
CREATE INDEX order_lines_order ON order_lines (order_id, id);
CREATE INDEX order_lines_product ON order_lines (product_id);

CREATE TABLE order_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id     BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    actor_id     BIGINT REFERENCES users (id) ON DELETE SET NULL,
    note         TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, id);

CREATE TABLE payments (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id           BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind               TEXT NOT NULL CHECK (kind IN ('CHARGE', 'REFUND')),
    amount             BIGINT NOT NULL,
    -- PENDING while the gateway is being asked.
    status             TEXT NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'DECLINED', 'FAILED')),
    gateway_reference  TEXT NOT NULL DEFAULT '',
    message            TEXT NOT NULL DEFAULT '',
    idempotency_key    TEXT NOT NULL UNIQUE,
    created_at         TIMESTAMP NOT NULL
);
CREATE INDEX payments_order ON payments (order_id, id);
-- At most one charge and one refund in progress or done per order: concurrent attempts with
-- different keys cannot both reach the gateway.
CREATE UNIQUE INDEX payments_one_live_per_kind ON payments (order_id, kind)
    WHERE status IN ('PENDING', 'SUCCEEDED');

CREATE TABLE reviews (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id         BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    user_id            BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rating             INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title              TEXT NOT NULL,
    body               TEXT NOT NULL DEFAULT '',
    verified_purchase  BOOLEAN NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    UNIQUE (product_id, user_id)
);
CREATE INDEX reviews_product_status ON reviews (product_id, status, id);
