ALTER TABLE variants DROP COLUMN archived_at;
ALTER TABLE categories DROP COLUMN archived_at;
DROP TABLE addresses;
DROP TABLE password_resets;
DROP TABLE sessions;
DROP TABLE users;
