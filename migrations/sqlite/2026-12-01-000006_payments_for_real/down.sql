DROP TABLE email_verifications;
ALTER TABLE users DROP COLUMN email_verified_at;
DROP INDEX orders_guest_email;
DROP INDEX orders_access_token;
ALTER TABLE orders DROP COLUMN access_token_hash;
DROP TABLE provider_events;
DROP INDEX payments_reference;
DROP INDEX payments_due;
DROP INDEX payments_one_pending_refund;
DROP INDEX payments_one_pending_charge;
CREATE UNIQUE INDEX payments_one_live_per_kind ON payments (order_id, kind)
    WHERE status IN ('PENDING', 'SUCCEEDED');
ALTER TABLE payments DROP COLUMN updated_at;
ALTER TABLE payments DROP COLUMN checks;
ALTER TABLE payments DROP COLUMN next_check_at;
-- parent_id stays: SQLite cannot drop a column that is part of a foreign key, and nothing
-- before this migration reads it.
ALTER TABLE payments DROP COLUMN client_secret;
ALTER TABLE payments DROP COLUMN request_hash;
ALTER TABLE payments DROP COLUMN payment_method;
ALTER TABLE payments DROP COLUMN provider;
