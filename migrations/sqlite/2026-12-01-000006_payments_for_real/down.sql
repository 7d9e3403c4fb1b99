DROP TABLE email_verifications;
ALTER TABLE users DROP COLUMN email_verified_at;
DROP INDEX orders_guest_email;
DROP INDEX orders_access_token;
ALTER TABLE orders DROP COLUMN access_token_hash;
DROP TABLE provider_events;
DROP INDEX payments_reference;
DROP INDEX payments_due;
DROP INDEX payments_one_pending_per_kind;
CREATE UNIQUE INDEX payments_one_live_per_kind ON payments (order_id, kind)
    WHERE status IN ('PENDING', 'SUCCEEDED');
ALTER TABLE payments DROP COLUMN updated_at;
ALTER TABLE payments DROP COLUMN checks;
ALTER TABLE payments DROP COLUMN next_check_at;
ALTER TABLE payments DROP COLUMN parent_id;
ALTER TABLE payments DROP COLUMN client_secret;
ALTER TABLE payments DROP COLUMN request_hash;
ALTER TABLE payments DROP COLUMN payment_method;
ALTER TABLE payments DROP COLUMN provider;
