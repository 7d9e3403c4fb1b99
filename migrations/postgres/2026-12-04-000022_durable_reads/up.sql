-- Readers that hand out event-log positions call this after their read: it returns once every
-- commit they could see is on disk (writers of events commit before their WAL flush, and flush
-- right after: see `db::models::event`). It waits for the writers' own flushes, which come
-- within one flush time, instead of forcing one: a flood of such reads would otherwise cost a
-- disk flush and a transaction id each. After 50 ms, or when synchronous standbys must confirm
-- too, it flushes itself: a transactional WAL message makes its statement's commit synchronous.
CREATE FUNCTION bazaar_wait_until_durable() RETURNS void AS $$
DECLARE
    seen pg_lsn := pg_current_wal_insert_lsn();
BEGIN
    IF current_setting('synchronous_standby_names') = '' THEN
        FOR attempt IN 1..50 LOOP
            IF pg_current_wal_flush_lsn() >= seen THEN
                RETURN;
            END IF;
            PERFORM pg_sleep(0.001);
        END LOOP;
    END IF;
    PERFORM pg_logical_emit_message(true, 'bazaar', 'flush');
END
$$ LANGUAGE plpgsql VOLATILE;
