-- Reverts 0008-dns-schedule (harmless when run twice, or after 0000's down).
DROP FUNCTION IF EXISTS mail_instances_dns_stale_schedule() CASCADE;
DROP INDEX IF EXISTS mail_instances_dns_due;
ALTER TABLE IF EXISTS mail_instances DROP COLUMN IF EXISTS dns_next_check_at;
