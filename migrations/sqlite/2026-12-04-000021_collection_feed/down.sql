DROP INDEX collections_change_position;
ALTER TABLE collections DROP COLUMN change_position;
