-- Reverts 0003-abuse-controls (harmless when run twice, or after 0000's down).
ALTER TABLE IF EXISTS mail_accounts
    DROP COLUMN IF EXISTS senders,
    DROP COLUMN IF EXISTS recipients_per_day,
    DROP COLUMN IF EXISTS messages_per_hour;
ALTER TABLE IF EXISTS mail_instances
    DROP COLUMN IF EXISTS auth_fail_window,
    DROP COLUMN IF EXISTS auth_fail_limit,
    DROP COLUMN IF EXISTS messages_per_hour_ceiling,
    DROP COLUMN IF EXISTS default_recipients_per_day,
    DROP COLUMN IF EXISTS default_messages_per_hour;
