-- Passkeys (contract §9) and the WebAuthn ceremonies that create and use
-- them: stored so that any instance may finish what another began.

CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the credential id the authenticator chose, base64url
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- the public key and its state as webauthn-rs keeps them (JSON)
    credential TEXT NOT NULL,
    -- the last signature counter seen: an assertion must raise it (0 stays 0)
    sign_count BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- A registration or an assertion begun and not finished: single use, 5 minutes.
CREATE TABLE webauthn_ceremonies (
    -- hex SHA-256 of the ceremony id the client holds
    id_hash TEXT PRIMARY KEY NOT NULL,
    -- register, assert (a known user's passkeys) or discover (any passkey)
    kind TEXT NOT NULL,
    -- the user it is for; NULL for discover
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    -- webauthn-rs's state of the ceremony (JSON: the challenge, the policy)
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);
