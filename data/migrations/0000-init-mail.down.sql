-- Reverts 0000-init-mail: children first.
DROP TABLE IF EXISTS mail_accounts;
DROP TABLE IF EXISTS mail_instances;
DROP TABLE IF EXISTS mail_versions;
