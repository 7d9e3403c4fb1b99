-- The staff audit log: who changed what and when (prices, stock, roles, discount codes, order
-- states, review moderation), written in the same transaction as the change.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id      BIGINT REFERENCES users (id) ON DELETE SET NULL,
    -- What was done, e.g. `variant.update`, `inventory.adjust`, `account.role`.
    action        TEXT NOT NULL,
    -- What it was done to: a node kind (`Variant`, `Account`…) and its id.
    subject_type  TEXT NOT NULL,
    subject_id    BIGINT NOT NULL,
    -- JSON: the values before and after.
    details       TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id, id);
