-- 0002-dns-verification (d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70): the live DNS
-- check of each instance (docs/dns-verification.md).  dns_status and
-- dns_checked_at are the instance's read-only fields; mail_instance_dns keeps
-- the last answer of actions/verify_dns, served again while it is fresh.
ALTER TABLE mail_instances
    ADD COLUMN dns_status VARCHAR(16) NOT NULL DEFAULT 'unverified'
        CHECK (dns_status IN ('unverified', 'ok', 'degraded', 'failing')),
    ADD COLUMN dns_checked_at TIMESTAMP;

CREATE TABLE mail_instance_dns (
    instance UUID PRIMARY KEY REFERENCES mail_instances (uuid) ON DELETE CASCADE,
    result TEXT NOT NULL,
    checked_at TIMESTAMP NOT NULL
);

-- A new DKIM key or new node addresses make the last check stale: the status
-- goes back to unverified and the cached answer is dropped, whoever writes
-- the row (the builder copying the agent's key, the infra builder's
-- addresses), so the next check runs against the new values.
CREATE FUNCTION mail_instances_dns_stale() RETURNS trigger AS $$
BEGIN
    IF NEW.ipsv4 IS DISTINCT FROM OLD.ipsv4
       OR NEW.dkim_public_key IS DISTINCT FROM OLD.dkim_public_key
       OR NEW.dkim_selector IS DISTINCT FROM OLD.dkim_selector
       OR NEW.domain IS DISTINCT FROM OLD.domain THEN
        NEW.dns_status := 'unverified';
        NEW.dns_checked_at := NULL;
        DELETE FROM mail_instance_dns WHERE instance = NEW.uuid;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER mail_instances_dns_stale BEFORE UPDATE ON mail_instances
    FOR EACH ROW EXECUTE FUNCTION mail_instances_dns_stale();
