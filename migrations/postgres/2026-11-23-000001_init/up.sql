-- The SQLite migrations with timestamps as timestamptz; a test keeps the two
-- schemas identical (tables, columns, nullability, indexes).
CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL,
    -- lower-cased username: "Alice" and "alice" are one account
    username_key TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    -- comma-separated, canonical order: user,editor,admin
    roles TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL,
    user_agent TEXT,
    client_addr TEXT,
    revoked_at TIMESTAMPTZ,
    revoked_reason TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at);

CREATE TABLE refresh_tokens (
    -- hex SHA-256 of the token; the token itself is never stored
    token_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_hash TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    spent_at TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
