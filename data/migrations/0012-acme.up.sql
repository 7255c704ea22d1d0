-- 0012-acme (30fabbb3-cf43-4445-bf2d-52aedb2fdcc9), after 0000: issue 22 item 2's ACME settings
-- (docs/tls.md §6).  On the version, the operator's defaults; on the
-- instance, optional overrides (NULL: the version's).  The paas builder
-- sends the ones in effect to the node as the value's member `acme` when a
-- directory URL is in effect, and nothing otherwise (no ACME: the node keeps
-- its self-signed or the tenant's certificate).
--   acme_directory_url  the ACME directory (an https URL); NULL: no ACME
--   acme_contact        the account's contact, mailto:<address>; NULL: none
ALTER TABLE mail_versions
    ADD COLUMN acme_directory_url VARCHAR(1024),
    ADD COLUMN acme_contact VARCHAR(255);

ALTER TABLE mail_instances
    ADD COLUMN acme_directory_url VARCHAR(1024),
    ADD COLUMN acme_contact VARCHAR(255);
