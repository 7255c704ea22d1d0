-- 0006-tls (6e2b7c1a-9d4f-4e0a-b5c8-3f1d2a6e9b07), after 0000: issue 22's TLS
-- (docs/tls.md).  smtp_hostname is the node's one name, mail.<domain>, set by
-- the plugin from exm_mail_dns_primary_hostname() when an instance is
-- created; rows from before this migration get the same value here.
ALTER TABLE mail_instances
    ADD COLUMN smtp_hostname VARCHAR(255);

UPDATE mail_instances SET smtp_hostname = 'mail.' || domain WHERE smtp_hostname IS NULL;
