-- Reverts 0011-sandbox (harmless when run twice, or after 0000's down).
DROP TABLE IF EXISTS mail_instance_captures;
ALTER TABLE IF EXISTS mail_accounts
    DROP COLUMN IF EXISTS sandbox;
