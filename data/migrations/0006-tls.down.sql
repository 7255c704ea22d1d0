-- Reverts 0006-tls (harmless when run twice, or after 0000's down).
ALTER TABLE IF EXISTS mail_instances
    DROP COLUMN IF EXISTS smtp_hostname;
