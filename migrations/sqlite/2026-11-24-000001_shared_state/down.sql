DROP TABLE ledger_secrets;
DROP TABLE login_attempts;
