-- Reverts 0002-dns-verification (harmless when run twice, or after 0000's
-- down: the function's CASCADE takes its trigger).
DROP FUNCTION IF EXISTS mail_instances_dns_stale() CASCADE;
DROP TABLE IF EXISTS mail_instance_dns;
ALTER TABLE IF EXISTS mail_instances
    DROP COLUMN IF EXISTS dns_checked_at,
    DROP COLUMN IF EXISTS dns_status;
