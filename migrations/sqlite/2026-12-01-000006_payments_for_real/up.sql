-- Money for real: payment attempts that remember what to ask the provider again (payment
-- method, request hash, provider, when to check next), refunds tied to their charge, provider
-- webhook events applied once, guest order access tokens, verified emails.

ALTER TABLE payments ADD COLUMN provider TEXT NOT NULL DEFAULT 'test';
-- The payment method as the provider tokenised it (not a card number): a charge whose answer
-- was lost is asked again with the same method and key.
ALTER TABLE payments ADD COLUMN payment_method TEXT NOT NULL DEFAULT '';
-- SHA-256 of the request, to tell a retry from a reuse of the idempotency key.
ALTER TABLE payments ADD COLUMN request_hash TEXT NOT NULL DEFAULT '';
-- The provider's secret for the customer to finish a charge that needs their action (3-D Secure).
ALTER TABLE payments ADD COLUMN client_secret TEXT;
-- The charge a refund pays back.
ALTER TABLE payments ADD COLUMN parent_id BIGINT REFERENCES payments (id);
-- When the reconcile job next asks the provider about a PENDING attempt, and how often it has.
ALTER TABLE payments ADD COLUMN next_check_at TIMESTAMP;
ALTER TABLE payments ADD COLUMN checks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN updated_at TIMESTAMP;
-- One charge in flight per order (concurrent attempts with different keys cannot both reach the
-- provider) and one refund in flight per charge. Whether the order may still be paid is checked
-- under the order's row lock; a charge that succeeds anyway (after a cancel) is recorded, then
-- refunded.
DROP INDEX payments_one_live_per_kind;
CREATE UNIQUE INDEX payments_one_pending_charge ON payments (order_id)
    WHERE kind = 'CHARGE' AND status = 'PENDING';
CREATE UNIQUE INDEX payments_one_pending_refund ON payments (parent_id)
    WHERE kind = 'REFUND' AND status = 'PENDING';
CREATE INDEX payments_due ON payments (next_check_at) WHERE status = 'PENDING';
-- Attempts left pending before this migration are checked at the next reconcile round.
UPDATE payments SET next_check_at = created_at WHERE status = 'PENDING';
CREATE INDEX payments_reference ON payments (gateway_reference) WHERE gateway_reference <> '';

-- Provider webhook events already applied: a redelivery is acknowledged and ignored.
CREATE TABLE provider_events (
    id           TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    received_at  TIMESTAMP NOT NULL
);

-- A guest's key to one order (read, pay, cancel): SHA-256 of a 256-bit token mailed to them.
ALTER TABLE orders ADD COLUMN access_token_hash TEXT;
CREATE UNIQUE INDEX orders_access_token ON orders (access_token_hash);
-- Guest orders, by email, to join the account that verifies the address.
CREATE INDEX orders_guest_email ON orders (email) WHERE user_id IS NULL;

-- An account's email is verified when its owner used the token mailed to it.
ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMP;
CREATE TABLE email_verifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX email_verifications_user ON email_verifications (user_id);
