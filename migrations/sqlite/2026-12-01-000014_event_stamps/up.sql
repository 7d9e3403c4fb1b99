-- An event stamps its subject's row with its position: a row's change position is always that of
-- its latest event, in the statement that writes the event (so a write raising events for many
-- rows, like a bulk stock update, spends no statement on stamping them).
CREATE TRIGGER events_stamp_orders AFTER INSERT ON events WHEN NEW.subject_type = 'Order'
BEGIN
    UPDATE orders SET change_position = NEW.id WHERE id = NEW.subject_id;
END;
CREATE TRIGGER events_stamp_products AFTER INSERT ON events WHEN NEW.subject_type = 'Product'
BEGIN
    UPDATE products SET change_position = NEW.id WHERE id = NEW.subject_id;
END;
CREATE TRIGGER events_stamp_variants AFTER INSERT ON events WHEN NEW.subject_type = 'Variant'
BEGIN
    UPDATE variants SET change_position = NEW.id WHERE id = NEW.subject_id;
END;
CREATE TRIGGER events_stamp_users AFTER INSERT ON events WHEN NEW.subject_type = 'Account'
BEGIN
    UPDATE users SET change_position = NEW.id WHERE id = NEW.subject_id;
END;
