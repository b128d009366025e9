-- Security events (contract §12): what happened to an account, written in
-- the transaction of the change it records. Kept PORTCULLIS_EVENT_RETENTION
-- days. Never a password, code or token.
CREATE TABLE security_events (
    -- increasing: the cursor of "newest first" pages
    id BIGSERIAL PRIMARY KEY NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    username TEXT,
    session_id TEXT,
    client_addr TEXT,
    user_agent TEXT,
    -- why a session ended, or what a refresh-token reuse looked like
    reason TEXT,
    -- the admin who acted on someone else's account
    actor TEXT,
    -- more of what happened, a JSON object
    detail TEXT
);
CREATE INDEX security_events_user_id ON security_events (user_id, id);
CREATE INDEX security_events_at ON security_events (at);

-- Who used a session last, to compare a refresh-token reuse with.
ALTER TABLE sessions ADD COLUMN last_client_addr TEXT;
ALTER TABLE sessions ADD COLUMN last_user_agent TEXT;
UPDATE sessions SET last_client_addr = client_addr, last_user_agent = user_agent;
