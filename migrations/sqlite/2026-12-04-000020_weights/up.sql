-- Weights: what one unit of a variant weighs, in grams (0: not set), and a shipping method's
-- weight band (the cart's total weight from min_weight_grams, below max_weight_grams), as a
-- carrier prices parcels by weight.
ALTER TABLE variants ADD COLUMN weight_grams BIGINT NOT NULL DEFAULT 0
    CHECK (weight_grams BETWEEN 0 AND 10000000);
ALTER TABLE shipping_methods ADD COLUMN min_weight_grams BIGINT NOT NULL DEFAULT 0
    CHECK (min_weight_grams >= 0);
ALTER TABLE shipping_methods ADD COLUMN max_weight_grams BIGINT
    CHECK (max_weight_grams > min_weight_grams);
