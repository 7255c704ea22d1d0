-- 0001-em-seals (aa0c8c05-986d-4d9b-b602-65fce206e2d3): the EM path's seals
-- (docs/em-path.md).  A seal is the host's opaque, sealed copy of the
-- read-hidden fields (password, password_hash) an element manifest set on an
-- account; the plugin never reads it and drops it when any other write
-- changes those fields.  It goes with its account.
CREATE TABLE mail_account_seals (
    account UUID PRIMARY KEY REFERENCES mail_accounts (uuid) ON DELETE CASCADE,
    seal VARCHAR(4096) NOT NULL
);
