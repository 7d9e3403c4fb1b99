DROP TRIGGER events_stamp_subject ON events;
DROP FUNCTION stamp_event_subject();
