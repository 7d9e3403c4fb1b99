DROP TABLE order_notes;
DROP TABLE fulfillment_lines;
DROP TABLE fulfillments;
ALTER TABLE order_lines DROP COLUMN fulfilled_quantity;
