-- Reverts 0009-login-secrets (harmless when run twice, or after 0000's down).
DROP FUNCTION IF EXISTS mail_accounts_secret_logins() CASCADE;
ALTER TABLE IF EXISTS mail_accounts
    DROP COLUMN IF EXISTS previous_password_last_login_at,
    DROP COLUMN IF EXISTS password_last_login_at;
