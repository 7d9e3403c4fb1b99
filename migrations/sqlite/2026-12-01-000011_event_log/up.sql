-- The event log (transactional outbox): every change a partner cares about, written in the
-- transaction of the change. An event's id is its position in the log, taken from the one-row
-- counter `event_positions` as the last step of the writing transaction: the counter's row lock
-- is held until commit, so positions are handed out in commit order and a reader walking by
-- position never skips an event that commits later with a smaller one.
CREATE TABLE event_positions (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    last  BIGINT NOT NULL
);
INSERT INTO event_positions (id, last) VALUES (1, 0);

CREATE TABLE events (
    id            BIGINT PRIMARY KEY,
    -- `order.created`, `inventory.changed`…
    event_type    TEXT NOT NULL,
    -- What changed: a node kind (`Order`, `Variant`…) and its id.
    subject_type  TEXT NOT NULL,
    subject_id    BIGINT NOT NULL,
    -- JSON: the subject as the GraphQL API gives it (see the schema's `EventType`).
    payload       TEXT NOT NULL,
    occurred_at   TIMESTAMP NOT NULL
);
CREATE INDEX events_type ON events (event_type, id);
CREATE INDEX events_occurred_at ON events (occurred_at);

-- The position of each row's latest change (0: not changed since the log began), so change
-- feeds walk rows in commit order.
ALTER TABLE products ADD COLUMN change_position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE variants ADD COLUMN change_position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE categories ADD COLUMN change_position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN change_position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN change_position BIGINT NOT NULL DEFAULT 0;
CREATE INDEX products_change_position ON products (change_position, id);
CREATE INDEX variants_change_position ON variants (change_position, id);
CREATE INDEX categories_change_position ON categories (change_position, id);
CREATE INDEX orders_change_position ON orders (change_position, id);
CREATE INDEX users_change_position ON users (change_position, id);
