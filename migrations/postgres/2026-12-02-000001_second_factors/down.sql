DROP TABLE pending_logins;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
ALTER TABLE sessions DROP COLUMN acr;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN auth_time;
