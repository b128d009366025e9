ALTER TABLE sessions DROP COLUMN last_user_agent;
ALTER TABLE sessions DROP COLUMN last_client_addr;
DROP TABLE security_events;
