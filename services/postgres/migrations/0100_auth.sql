-- The auth store (moved from the auth service's own migrations; IF NOT EXISTS so that a database
-- that already has these tables from there migrates cleanly).
CREATE TABLE IF NOT EXISTS auth_users (
    id            text PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    role          text NOT NULL CHECK (role IN ('trader', 'admin')),
    password_hash text NOT NULL,
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS auth_refresh_tokens (
    hash       text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES auth_users (id),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS auth_refresh_tokens_user ON auth_refresh_tokens (user_id) WHERE revoked_at IS NULL;

CREATE TABLE IF NOT EXISTS auth_api_keys (
    id         text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES auth_users (id),
    label      text NOT NULL,
    scopes     text[] NOT NULL,
    sealed     bytea NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS auth_api_keys_user ON auth_api_keys (user_id, created_at);
