-- Sessions: every refresh token and access token names one, so revoking it ends them all.
CREATE TABLE IF NOT EXISTS auth_sessions (
    id         text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES auth_users (id),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS auth_sessions_user ON auth_sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens from before sessions become one session each.
ALTER TABLE auth_refresh_tokens ADD COLUMN IF NOT EXISTS session_id text REFERENCES auth_sessions (id);
INSERT INTO auth_sessions (id, user_id, created_at, revoked_at)
    SELECT hash, user_id, created_at, revoked_at FROM auth_refresh_tokens WHERE session_id IS NULL
    ON CONFLICT (id) DO NOTHING;
UPDATE auth_refresh_tokens SET session_id = hash WHERE session_id IS NULL;
ALTER TABLE auth_refresh_tokens ALTER COLUMN session_id SET NOT NULL;
CREATE INDEX IF NOT EXISTS auth_refresh_tokens_session ON auth_refresh_tokens (session_id) WHERE revoked_at IS NULL;

-- Attempt budgets (login per e-mail and per e-mail and address, reset requests per address).
-- They replace auth_users.failed_logins and locked_until, which stay (unused) for a rolling
-- upgrade.
CREATE TABLE IF NOT EXISTS auth_attempts (
    key           text PRIMARY KEY,
    failures      integer NOT NULL,
    blocked_until timestamptz,
    touched_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_attempts_touched ON auth_attempts (touched_at);

-- Single-use password reset tokens, by the SHA-256 of their value.
CREATE TABLE IF NOT EXISTS auth_password_resets (
    hash       text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES auth_users (id),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX IF NOT EXISTS auth_password_resets_user ON auth_password_resets (user_id) WHERE used_at IS NULL;
