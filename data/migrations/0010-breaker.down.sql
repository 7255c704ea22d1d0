-- Reverts 0010-breaker (harmless when run twice, or after 0000's down).
DROP TABLE IF EXISTS mail_instance_breaker;
ALTER TABLE IF EXISTS mail_accounts
    DROP CONSTRAINT IF EXISTS mail_accounts_breaker_together,
    DROP COLUMN IF EXISTS breaker_token,
    DROP COLUMN IF EXISTS breaker_op,
    DROP COLUMN IF EXISTS held_counts,
    DROP COLUMN IF EXISTS held_since,
    DROP COLUMN IF EXISTS held_reason,
    DROP COLUMN IF EXISTS sending;
ALTER TABLE IF EXISTS mail_instances
    DROP COLUMN IF EXISTS breaker_bounce_min,
    DROP COLUMN IF EXISTS breaker_bounce_percent,
    DROP COLUMN IF EXISTS breaker_new_recipients_per_day;
