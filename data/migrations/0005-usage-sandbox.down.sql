-- Reverts 0005-usage-sandbox (harmless when run twice, or after 0000's down).
DROP TABLE IF EXISTS mail_instance_usage;
ALTER TABLE IF EXISTS mail_accounts
    DROP COLUMN IF EXISTS last_login_at,
    DROP COLUMN IF EXISTS usage_held_24h,
    DROP COLUMN IF EXISTS usage_bounced_24h,
    DROP COLUMN IF EXISTS usage_deferred_24h,
    DROP COLUMN IF EXISTS usage_delivered_24h,
    DROP COLUMN IF EXISTS usage_accepted_24h;
ALTER TABLE IF EXISTS mail_instances
    DROP COLUMN IF EXISTS usage_reported_at,
    DROP COLUMN IF EXISTS last_login_at,
    DROP COLUMN IF EXISTS usage_held_24h,
    DROP COLUMN IF EXISTS usage_bounced_24h,
    DROP COLUMN IF EXISTS usage_deferred_24h,
    DROP COLUMN IF EXISTS usage_delivered_24h,
    DROP COLUMN IF EXISTS usage_accepted_24h;
