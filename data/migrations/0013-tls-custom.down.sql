-- Reverts 0013-tls-custom (harmless when run twice, or after 0000's down).
DROP TABLE IF EXISTS mail_instance_certificates;
