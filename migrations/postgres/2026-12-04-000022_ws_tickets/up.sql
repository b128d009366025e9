-- WebSocket tickets (contract §11): a browser cannot set Authorization on
-- a WebSocket, so its handshake carries a single-use ticket bound to the
-- caller's session. Stored, so a ticket issued by one instance is accepted
-- by any other, once.
CREATE TABLE ws_tickets (
    -- hex SHA-256 of the ticket; the ticket itself is never stored
    ticket_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- the claims of the access token it was issued for (JSON): the
    -- handshake is authorized as that token would be
    claims TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE INDEX ws_tickets_expires_at ON ws_tickets (expires_at);
