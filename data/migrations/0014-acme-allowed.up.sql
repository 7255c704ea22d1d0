-- 0014-acme-allowed (15d8ac1a-7e31-4cbf-9354-5c1b9b51ddfa), after 0012: the operator's say over
-- the directories a version's instances may name as their own
-- acme_directory_url (docs/tls.md §6).  An instance's override makes its
-- node send HTTPS requests to a server of the tenant's choosing, from the
-- platform's network; this list bounds that.
--   acme_allowed_directory_urls  NULL: any directory (as before this
--                                migration); a list: the version's own
--                                directory or one of these; empty: the
--                                version's own only
ALTER TABLE mail_versions
    ADD COLUMN acme_allowed_directory_urls TEXT[];
