-- 0009-login-secrets (382a51b1-05eb-4a62-9b3f-69f023e54f8d), after 0004 and
-- 0005: when each live secret of an account last logged in (issue 15 item 5,
-- docs/abuse-controls.md §5).  The node logs every login with the secret's
-- fingerprint and reports the last time per fingerprint (docs/usage.md); the
-- paas builder maps the report onto the account's current and previous hash.
-- Read-only; NULL: not seen since the secret was set.
--
-- A password write moves the times with the secrets, whatever path wrote it
-- (the rotate action, a PUT, the EM path): after a rotation the replaced
-- secret's time becomes the previous secret's, and the new secret starts
-- unseen; any other change of a hash forgets the time of the hash it replaced.
ALTER TABLE mail_accounts
    ADD COLUMN password_last_login_at TIMESTAMP,
    ADD COLUMN previous_password_last_login_at TIMESTAMP;

CREATE FUNCTION mail_accounts_secret_logins() RETURNS trigger AS $$
BEGIN
    IF NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
        IF NEW.previous_password_hash IS NOT NULL
           AND NEW.previous_password_hash = OLD.password_hash THEN
            NEW.previous_password_last_login_at := OLD.password_last_login_at;
        ELSE
            NEW.previous_password_last_login_at := NULL;
        END IF;
        NEW.password_last_login_at := NULL;
    ELSIF NEW.previous_password_hash IS DISTINCT FROM OLD.previous_password_hash THEN
        NEW.previous_password_last_login_at := NULL;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER mail_accounts_secret_logins
    BEFORE UPDATE OF password_hash, previous_password_hash ON mail_accounts
    FOR EACH ROW EXECUTE FUNCTION mail_accounts_secret_logins();
