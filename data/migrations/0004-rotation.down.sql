-- Reverts 0004-rotation (harmless when run twice, or after 0000's down).
ALTER TABLE IF EXISTS mail_accounts
    DROP CONSTRAINT IF EXISTS mail_accounts_previous_together,
    DROP COLUMN IF EXISTS expires_at,
    DROP COLUMN IF EXISTS previous_password_valid_until,
    DROP COLUMN IF EXISTS previous_password_hash;
