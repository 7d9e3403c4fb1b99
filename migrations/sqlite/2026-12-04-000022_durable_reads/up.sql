-- PostgreSQL's `bazaar_wait_until_durable()`; nothing on SQLite, whose writers commit as they
-- flush.
SELECT 1;
