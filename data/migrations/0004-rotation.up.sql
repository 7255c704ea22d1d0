-- 0004-rotation (9b3f6d2e-41a7-4c85-b0e9-7d2c5a8f1e64), after 0000: issue 15's
-- rotation with an overlap window and account expiry
-- (docs/abuse-controls.md §5).  previous_password_hash is the secret a
-- rotation replaced; it logs in until previous_password_valid_until and never
-- after, so the two are set together or not at all.  expires_at ends every
-- login of the account; NULL: never.
ALTER TABLE mail_accounts
    ADD COLUMN previous_password_hash VARCHAR(255),
    ADD COLUMN previous_password_valid_until TIMESTAMP,
    ADD COLUMN expires_at TIMESTAMP,
    ADD CONSTRAINT mail_accounts_previous_together
        CHECK ((previous_password_hash IS NULL) = (previous_password_valid_until IS NULL));
