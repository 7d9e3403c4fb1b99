-- An event stamps its subject's row with its position: a row's change position is always that of
-- its latest event, in the statement that writes the event (so a write raising events for many
-- rows, like a bulk stock update, spends no statement on stamping them).
CREATE FUNCTION stamp_event_subject() RETURNS trigger AS $$
BEGIN
    IF NEW.subject_type = 'Order' THEN
        UPDATE orders SET change_position = NEW.id WHERE id = NEW.subject_id;
    ELSIF NEW.subject_type = 'Product' THEN
        UPDATE products SET change_position = NEW.id WHERE id = NEW.subject_id;
    ELSIF NEW.subject_type = 'Variant' THEN
        UPDATE variants SET change_position = NEW.id WHERE id = NEW.subject_id;
    ELSIF NEW.subject_type = 'Account' THEN
        UPDATE users SET change_position = NEW.id WHERE id = NEW.subject_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER events_stamp_subject AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION stamp_event_subject();
