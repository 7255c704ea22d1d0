-- 0013-tls-custom (efc4d935-826f-47ee-885e-ee6dbb2bcc5f), after 0006: a
-- tenant's own certificate (issue 22 item 3, docs/tls.md §3).  One row per
-- instance while it has one, written by the `certificate` action and deleted
-- by `certificate_remove`; the paas builder carries chain and key to the
-- node.  The key is write-only: no model field names this table, no user-API
-- read selects `key` (docs/SECURITY.md §8).  fingerprint (SHA-256 of the
-- leaf's DER, hex) and not_after describe what the action accepted.
CREATE TABLE mail_instance_certificates (
    instance UUID PRIMARY KEY REFERENCES mail_instances (uuid) ON DELETE CASCADE,
    chain TEXT NOT NULL CHECK (length(chain) BETWEEN 1 AND 65536),
    key TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 65536),
    fingerprint VARCHAR(64) NOT NULL,
    not_after TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
