-- 0003-abuse-controls (d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70), after 0000: the
-- abuse controls of issue 15 (docs/abuse-controls.md).  NULL means the default
-- (the instance's for an account, the built-in one for an instance); the
-- bounds are the API's, repeated here so no other writer can store a value
-- the node would refuse.
ALTER TABLE mail_instances
    ADD COLUMN default_messages_per_hour BIGINT
        CHECK (default_messages_per_hour BETWEEN 1 AND 1000000),
    ADD COLUMN default_recipients_per_day BIGINT
        CHECK (default_recipients_per_day BETWEEN 1 AND 10000000),
    ADD COLUMN messages_per_hour_ceiling BIGINT
        CHECK (messages_per_hour_ceiling BETWEEN 1 AND 10000000),
    ADD COLUMN auth_fail_limit BIGINT CHECK (auth_fail_limit BETWEEN 1 AND 1000),
    ADD COLUMN auth_fail_window BIGINT CHECK (auth_fail_window BETWEEN 60 AND 86400);

ALTER TABLE mail_accounts
    ADD COLUMN messages_per_hour BIGINT CHECK (messages_per_hour BETWEEN 1 AND 1000000),
    ADD COLUMN recipients_per_day BIGINT CHECK (recipients_per_day BETWEEN 1 AND 10000000),
    ADD COLUMN senders VARCHAR(255) ARRAY;
