-- 0010-breaker (871c9357-1e94-44f7-8244-db9ad1d90f2b), after 0000: the
-- circuit breaker for a stolen credential (issue 15 item 4,
-- docs/abuse-controls.md §7).
--
-- Instance thresholds, NULL meaning the built-in default like the other
-- limits of 0003 (so a later change of a default reaches every instance that
-- never chose one); the bounds are the API's, repeated so no other writer can
-- store a value the node would refuse.
ALTER TABLE mail_instances
    ADD COLUMN breaker_new_recipients_per_day BIGINT
        CHECK (breaker_new_recipients_per_day BETWEEN 1 AND 1000000),
    ADD COLUMN breaker_bounce_percent BIGINT CHECK (breaker_bounce_percent BETWEEN 1 AND 100),
    ADD COLUMN breaker_bounce_min BIGINT CHECK (breaker_bounce_min BETWEEN 1 AND 1000000);

-- The account's breaker as the node last reported it (read-only fields):
--   sending       normal | held, or releasing | discarding while a tenant's
--                 action waits for the node to report it done
--   held_reason   new_recipients | bounces while held
--   held_since    when it tripped
--   held_counts   {new_recipients, recipients, bounces, held_messages}
-- and the pending action (hidden): breaker_op with the token the node reports
-- back once it performed it; the two are set together or not at all.
ALTER TABLE mail_accounts
    ADD COLUMN sending VARCHAR(16) NOT NULL DEFAULT 'normal'
        CHECK (sending IN ('normal', 'held', 'releasing', 'discarding')),
    ADD COLUMN held_reason VARCHAR(16) CHECK (held_reason IN ('new_recipients', 'bounces')),
    ADD COLUMN held_since TIMESTAMP,
    ADD COLUMN held_counts JSONB CHECK (held_counts IS NULL OR jsonb_typeof(held_counts) = 'object'),
    ADD COLUMN breaker_op VARCHAR(16) CHECK (breaker_op IN ('release', 'discard')),
    ADD COLUMN breaker_token UUID,
    ADD CONSTRAINT mail_accounts_breaker_together
        CHECK ((breaker_op IS NULL) = (breaker_token IS NULL));

-- The hash of the node's last breaker report, so an unchanged one writes
-- nothing (as mail_instance_usage does for usage).
CREATE TABLE mail_instance_breaker (
    instance UUID PRIMARY KEY REFERENCES mail_instances (uuid) ON DELETE CASCADE,
    hash VARCHAR(64) NOT NULL
);
