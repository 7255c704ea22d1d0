-- Reverts 0014-acme-allowed (harmless when run twice, or after 0000's down).
ALTER TABLE IF EXISTS mail_versions
    DROP COLUMN IF EXISTS acme_allowed_directory_urls;
