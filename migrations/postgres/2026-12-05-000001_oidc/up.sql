-- Signing in with an OpenID Provider (contract §10).

-- A user as a provider knows them: the pair (issuer, subject), never an
-- e-mail address or a name.
CREATE TABLE oidc_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX oidc_identities_user_id ON oidc_identities (user_id);

-- A sign-in on its way through the provider: single use, 10 minutes, bound
-- to the browser that started it (the SHA-256 of its portcullis_oidc
-- cookie). The state is stored hashed too.
CREATE TABLE oidc_flows (
    state_hash TEXT PRIMARY KEY NOT NULL,
    provider_id TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE INDEX oidc_flows_created_at ON oidc_flows (created_at);

-- Back-channel logout tokens seen, by issuer and jti: each is accepted once.
CREATE TABLE oidc_logout_tokens (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (issuer, jti)
);

-- The provider a session was opened through, and the provider's session id.
ALTER TABLE sessions ADD COLUMN oidc_provider TEXT;
ALTER TABLE sessions ADD COLUMN oidc_sid TEXT;
CREATE INDEX sessions_oidc ON sessions (oidc_provider, oidc_sid);
