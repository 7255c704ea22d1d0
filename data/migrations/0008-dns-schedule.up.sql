-- 0008-dns-schedule (5c1e0f4a-7d2b-4e88-9a61-3f0b8d2c4e15): when the
-- scheduled DNS re-check (docs/dns-verification.md §7) looks at each instance
-- next.  NULL means now: a new instance, or one whose key, addresses or
-- domain changed (the trigger below, on 0002's condition).  A step claims an
-- instance by moving the value to a lease and stores its answer only while
-- the lease is still there, so a change during a check drops that answer.
-- The partial index keeps a step from reading the instances not due.
ALTER TABLE mail_instances ADD COLUMN dns_next_check_at TIMESTAMP;

CREATE INDEX mail_instances_dns_due ON mail_instances (dns_next_check_at NULLS FIRST)
    WHERE status = 'ACTIVE';

CREATE FUNCTION mail_instances_dns_stale_schedule() RETURNS trigger AS $$
BEGIN
    IF NEW.ipsv4 IS DISTINCT FROM OLD.ipsv4
       OR NEW.dkim_public_key IS DISTINCT FROM OLD.dkim_public_key
       OR NEW.dkim_selector IS DISTINCT FROM OLD.dkim_selector
       OR NEW.domain IS DISTINCT FROM OLD.domain THEN
        NEW.dns_next_check_at := NULL;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER mail_instances_dns_stale_schedule BEFORE UPDATE ON mail_instances
    FOR EACH ROW EXECUTE FUNCTION mail_instances_dns_stale_schedule();
