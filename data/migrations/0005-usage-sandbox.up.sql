-- 0005-usage-sandbox (e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7081), after 0000: usage
-- per account and instance in the API (issue 16, docs/usage.md).  The node's
-- agent reports the last 24 hours' counts in its actual state; the builder
-- copies them here.  The counts are read-only fields of the account and the
-- instance; mail_instance_usage keeps the hash of the last report (so an
-- unchanged report writes nothing) and its recent delivery outcomes, served by
-- actions/deliveries.
ALTER TABLE mail_instances
    ADD COLUMN usage_accepted_24h BIGINT NOT NULL DEFAULT 0 CHECK (usage_accepted_24h >= 0),
    ADD COLUMN usage_delivered_24h BIGINT NOT NULL DEFAULT 0 CHECK (usage_delivered_24h >= 0),
    ADD COLUMN usage_deferred_24h BIGINT NOT NULL DEFAULT 0 CHECK (usage_deferred_24h >= 0),
    ADD COLUMN usage_bounced_24h BIGINT NOT NULL DEFAULT 0 CHECK (usage_bounced_24h >= 0),
    ADD COLUMN usage_held_24h BIGINT NOT NULL DEFAULT 0 CHECK (usage_held_24h >= 0),
    ADD COLUMN last_login_at TIMESTAMP,
    ADD COLUMN usage_reported_at TIMESTAMP;

ALTER TABLE mail_accounts
    ADD COLUMN usage_accepted_24h BIGINT NOT NULL DEFAULT 0 CHECK (usage_accepted_24h >= 0),
    ADD COLUMN usage_delivered_24h BIGINT NOT NULL DEFAULT 0 CHECK (usage_delivered_24h >= 0),
    ADD COLUMN usage_deferred_24h BIGINT NOT NULL DEFAULT 0 CHECK (usage_deferred_24h >= 0),
    ADD COLUMN usage_bounced_24h BIGINT NOT NULL DEFAULT 0 CHECK (usage_bounced_24h >= 0),
    ADD COLUMN usage_held_24h BIGINT NOT NULL DEFAULT 0 CHECK (usage_held_24h >= 0),
    ADD COLUMN last_login_at TIMESTAMP;

CREATE TABLE mail_instance_usage (
    instance UUID PRIMARY KEY REFERENCES mail_instances (uuid) ON DELETE CASCADE,
    hash VARCHAR(64) NOT NULL,
    deliveries TEXT NOT NULL,
    reported_at TIMESTAMP NOT NULL
);
