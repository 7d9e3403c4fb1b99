ALTER TABLE shipping_methods DROP COLUMN max_weight_grams;
ALTER TABLE shipping_methods DROP COLUMN min_weight_grams;
ALTER TABLE variants DROP COLUMN weight_grams;
