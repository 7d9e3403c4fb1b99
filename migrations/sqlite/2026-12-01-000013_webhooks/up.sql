-- Webhook subscriptions of partner apps, and the deliveries of the event log's events to them.
CREATE TABLE webhook_subscriptions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id          BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    -- Event names, space-separated (`order.created order.paid`).
    event_types     TEXT NOT NULL,
    -- The scopes deliveries are cut to (those of the key that subscribed; every scope for an
    -- admin), space-separated.
    scopes          TEXT NOT NULL,
    -- The signing secret (HMAC-SHA256 needs it in clear).
    secret          TEXT NOT NULL,
    -- ACTIVE or PAUSED (after a delivery died; resumed by hand).
    status          TEXT NOT NULL,
    -- The event-log position up to which deliveries were made for this subscription.
    last_position   BIGINT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX webhook_subscriptions_app ON webhook_subscriptions (app_id);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id  BIGINT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    -- The event's position (no foreign key: the log is pruned).
    event_id         BIGINT NOT NULL,
    event_type       TEXT NOT NULL,
    -- The body sent, as first built (retries send the same bytes).
    body             TEXT NOT NULL,
    -- PENDING, DELIVERED or DEAD.
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  TIMESTAMP NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE webhook_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id      BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    -- The receiver's HTTP status; null when there was no answer (refused, timed out).
    status_code      INTEGER,
    -- Why it failed, when it did (no answer, or not 2xx); empty on success.
    error            TEXT NOT NULL,
    latency_ms       INTEGER NOT NULL,
    attempted_at     TIMESTAMP NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
