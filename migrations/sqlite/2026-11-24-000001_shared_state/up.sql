-- State every gateway instance on this database shares.

-- Login attempts per bucket ("user:NAME" or "addr:ADDRESS") in fixed
-- windows that expire; counted before the password is checked.
CREATE TABLE login_attempts (
    bucket TEXT PRIMARY KEY NOT NULL,
    window_start TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE INDEX login_attempts_window_start ON login_attempts (window_start);

-- Secrets the ledger generates for itself on first start (the key refresh
-- tokens' successors are derived under), so every instance agrees without
-- configuration.
CREATE TABLE ledger_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
