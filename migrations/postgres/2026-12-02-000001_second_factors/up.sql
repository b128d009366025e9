-- Second factors (contract §9), the logins waiting for one, and how each
-- session authenticated.

-- amr/acr/auth_time of access tokens (contract §9); sessions opened before
-- had a password alone, at their creation.
ALTER TABLE sessions ADD COLUMN auth_time TIMESTAMPTZ NOT NULL DEFAULT '1970-01-01 00:00:00+00';
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE sessions ADD COLUMN acr TEXT NOT NULL DEFAULT 'pwd';
UPDATE sessions SET auth_time = created_at;

CREATE TABLE totp_factors (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the seed, sealed (XChaCha20-Poly1305 under PORTCULLIS_ENCRYPTION_KEY_FILE,
    -- bound to the user): NULL until a code confirms it
    secret TEXT,
    -- a seed set up and not confirmed yet, sealed the same way
    pending_secret TEXT,
    -- the last step a code was accepted for: a step's code works once
    last_step INTEGER,
    enabled_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- hex SHA-256 of the code's normal form; the code itself is never stored
    code_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

-- A password login waiting for its second factor: any instance may finish it.
CREATE TABLE pending_logins (
    -- hex SHA-256 of the mfa_token; the token itself is never stored
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- how the first step authenticated (amr, comma-separated)
    amr TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    -- wrong codes so far; the fifth ends it
    failures INTEGER NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);
ALTER TABLE sessions ALTER COLUMN auth_time DROP DEFAULT;
