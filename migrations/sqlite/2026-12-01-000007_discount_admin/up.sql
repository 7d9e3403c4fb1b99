-- Discount code administration: staff disable a code (it no longer applies to carts or
-- checkouts) and enable it again. Null while the code is enabled.
ALTER TABLE discount_codes ADD COLUMN disabled_at TIMESTAMP;
