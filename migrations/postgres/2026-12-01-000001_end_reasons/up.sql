-- Sessions' end reasons take the names the sessions service gives them
-- (contract §12); older rows are renamed to match.
UPDATE sessions SET revoked_reason = 'reuse_detected' WHERE revoked_reason = 'refresh_token_reused';
UPDATE sessions SET revoked_reason = 'ended_elsewhere' WHERE revoked_reason = 'ended_by_user';
UPDATE sessions SET revoked_reason = 'admin' WHERE revoked_reason = 'ended_by_admin';
