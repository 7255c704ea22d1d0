-- Reverts 0007-tls-status (harmless when run twice, or after 0000's down).
ALTER TABLE IF EXISTS mail_instances
    DROP COLUMN IF EXISTS tls_error,
    DROP COLUMN IF EXISTS tls_not_after,
    DROP COLUMN IF EXISTS tls_issuer,
    DROP COLUMN IF EXISTS tls_source;
