-- Reverts 0012-acme (harmless when run twice, or after 0000's down).
ALTER TABLE IF EXISTS mail_instances
    DROP COLUMN IF EXISTS acme_contact,
    DROP COLUMN IF EXISTS acme_directory_url;
ALTER TABLE IF EXISTS mail_versions
    DROP COLUMN IF EXISTS acme_contact,
    DROP COLUMN IF EXISTS acme_directory_url;
