-- 0011-sandbox (b605b719-ffc3-42ba-8b26-eafd5ba28936), after 0005: the sandbox
-- (issue 16 item 4, docs/sandbox.md).  An account with sandbox = true has its
-- mail DKIM-signed and kept on the node instead of delivered; the node
-- reports what it keeps in its actual state, and the paas builder copies that
-- report here: one row per instance, replaced by each new report (never
-- appended, so it stays as bounded as the report), with its hash so an
-- unchanged report writes nothing.  Served by an account's actions/captured.
ALTER TABLE mail_accounts
    ADD COLUMN sandbox BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE mail_instance_captures (
    instance UUID PRIMARY KEY REFERENCES mail_instances (uuid) ON DELETE CASCADE,
    hash VARCHAR(64) NOT NULL,
    messages TEXT NOT NULL,
    reported_at TIMESTAMP NOT NULL
);
