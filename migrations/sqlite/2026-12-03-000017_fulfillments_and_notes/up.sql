-- Fulfilments: an order ships in parts, each part some units of some lines, with the carrier's
-- name, tracking number and address. A line counts its shipped units (`fulfilled_quantity`),
-- raised by a conditional update that never passes the units bought, so that two fulfilments
-- at once cannot ship a unit twice.
ALTER TABLE order_lines ADD COLUMN fulfilled_quantity INTEGER NOT NULL DEFAULT 0
    CHECK (fulfilled_quantity >= 0 AND fulfilled_quantity <= quantity);

CREATE TABLE fulfillments (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id         BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    carrier          TEXT NOT NULL,
    tracking_number  TEXT NOT NULL,
    tracking_url     TEXT,
    created_at       TIMESTAMP NOT NULL
);
CREATE INDEX fulfillments_order ON fulfillments (order_id, id);

CREATE TABLE fulfillment_lines (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    fulfillment_id  BIGINT NOT NULL REFERENCES fulfillments (id) ON DELETE CASCADE,
    order_line_id   BIGINT NOT NULL REFERENCES order_lines (id) ON DELETE CASCADE,
    quantity        INTEGER NOT NULL CHECK (quantity > 0)
);
CREATE INDEX fulfillment_lines_fulfillment ON fulfillment_lines (fulfillment_id, id);
CREATE INDEX fulfillment_lines_order_line ON fulfillment_lines (order_line_id);

-- Staff notes on an order, never shown to its customer: by a staff account or a partner app.
CREATE TABLE order_notes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    author_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    app_id      BIGINT REFERENCES apps (id) ON DELETE SET NULL,
    body        TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX order_notes_order ON order_notes (order_id, id);
