ALTER TABLE discount_codes DROP COLUMN disabled_at;
