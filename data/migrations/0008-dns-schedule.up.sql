-- 0008-dns-schedule (5c1e0f4a-7d2b-4e88-9a61-3f0b8d2c4e15): when the
-- scheduled DNS re-check (docs/dns-verification.md §Schedule) looks at each
-- instance next.  NULL means now: a new instance, or one whose key, addresses
-- or domain changed (0002's trigger then clears dns_checked_at, and the
-- trigger below follows it).  The partial index keeps a step from scanning
-- the instances that are not due.
ALTER TABLE mail_instances ADD COLUMN dns_next_check_at TIMESTAMP;

CREATE INDEX mail_instances_dns_due ON mail_instances (dns_next_check_at NULLS FIRST)
    WHERE status = 'ACTIVE';

-- Named to run after mail_instances_dns_stale (triggers fire in name order).
CREATE FUNCTION mail_instances_dns_stale_schedule() RETURNS trigger AS $$
BEGIN
    IF NEW.dns_checked_at IS NULL THEN
        NEW.dns_next_check_at := NULL;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER mail_instances_dns_stale_schedule BEFORE UPDATE ON mail_instances
    FOR EACH ROW EXECUTE FUNCTION mail_instances_dns_stale_schedule();
