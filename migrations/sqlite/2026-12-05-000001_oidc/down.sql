DROP INDEX sessions_oidc;
ALTER TABLE sessions DROP COLUMN oidc_sid;
ALTER TABLE sessions DROP COLUMN oidc_provider;
DROP TABLE oidc_logout_tokens;
DROP TABLE oidc_flows;
DROP TABLE oidc_identities;
