-- Every change to a session's revocation (or a session's removal), whatever statement makes
-- it, notifies the channel cantondex_auth_sessions when its transaction commits: the
-- services that reuse sessions they read active (auth.Service with the PostgreSQL store's
-- SessionFeed) forget them then. One notification per statement, with no payload.
CREATE FUNCTION auth_sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cantondex_auth_sessions', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER auth_sessions_revoked AFTER UPDATE OF revoked_at OR DELETE ON auth_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION auth_sessions_changed();
