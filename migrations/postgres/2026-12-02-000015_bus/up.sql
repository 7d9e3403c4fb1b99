-- The bus (see `services/bus.rs`): a change that other instances must hear of notifies the
-- channel `bazaar` as it commits, whoever makes it (an instance, the CLI, plain SQL). Payloads
-- carry ids only; the data is read from the tables and the event log.

-- Events written: the last position of each INSERT.
CREATE FUNCTION bus_events_written() RETURNS trigger AS $$
DECLARE
    last_position BIGINT;
BEGIN
    SELECT max(id) INTO last_position FROM written;
    IF last_position IS NOT NULL THEN
        PERFORM pg_notify('bazaar', 'events:' || last_position);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER events_bus AFTER INSERT ON events
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION bus_events_written();

-- A session ended: revoked, or removed while live.
CREATE FUNCTION bus_session_ended() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('bazaar', 'session:' || OLD.id);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER sessions_bus_revoked AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION bus_session_ended();
CREATE TRIGGER sessions_bus_removed AFTER DELETE ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL)
    EXECUTE FUNCTION bus_session_ended();

-- An account's authority changed: its role or password, or the account is gone.
CREATE FUNCTION bus_account_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('bazaar', 'account:' || OLD.id);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER users_bus_changed AFTER UPDATE OF role, password_hash ON users
    FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role
                       OR OLD.password_hash IS DISTINCT FROM NEW.password_hash)
    EXECUTE FUNCTION bus_account_changed();
CREATE TRIGGER users_bus_removed AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION bus_account_changed();

-- An API key was revoked or removed (with its app, too).
CREATE FUNCTION bus_key_revoked() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('bazaar', 'key:' || OLD.id);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER api_keys_bus_revoked AFTER UPDATE OF revoked_at ON api_keys
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION bus_key_revoked();
CREATE TRIGGER api_keys_bus_removed AFTER DELETE ON api_keys
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL)
    EXECUTE FUNCTION bus_key_revoked();

-- The category tree changed.
CREATE FUNCTION bus_categories_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('bazaar', 'categories');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER categories_bus AFTER INSERT OR UPDATE OR DELETE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION bus_categories_changed();
