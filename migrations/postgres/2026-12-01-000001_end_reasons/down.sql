UPDATE sessions SET revoked_reason = 'refresh_token_reused' WHERE revoked_reason = 'reuse_detected';
UPDATE sessions SET revoked_reason = 'ended_by_user' WHERE revoked_reason = 'ended_elsewhere';
UPDATE sessions SET revoked_reason = 'ended_by_admin' WHERE revoked_reason = 'admin';
UPDATE sessions SET revoked_reason = 'expired' WHERE revoked_reason = 'idle';
