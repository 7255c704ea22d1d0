-- 0007-tls-status (e14d8404-55aa-4af5-aa77-26805dd12888), after 0006: the
-- certificate the node serves, on the instance (issue 22 item 4,
-- docs/tls.md §4).  The node's agent reports it in its actual value (member
-- `tls`); the paas builder checks the report and copies it here when it
-- changed.  Read-only fields; NULL until the node has reported.
--   tls_source     self_signed | acme | custom
--   tls_issuer     the served leaf's issuer, one line
--   tls_not_after  its notAfter (UTC)
--   tls_error      what keeps the node from serving (or, with ACME, renewing)
--                  its certificate, as the node last reported it; NULL: none
ALTER TABLE mail_instances
    ADD COLUMN tls_source VARCHAR(16)
        CHECK (tls_source IN ('self_signed', 'acme', 'custom')),
    ADD COLUMN tls_issuer VARCHAR(1024),
    ADD COLUMN tls_not_after TIMESTAMP,
    ADD COLUMN tls_error VARCHAR(512);
