-- 0000-init-mail (b2c3d4e5-f6a7-8901-bcde-f12345678901): the mail schema of
-- upstream's init migration (docs/mail.md §1.2) minus the
-- dropped root password.  Usernames are stored lower-cased and unique per instance
-- ignoring case, because exim's lsearch ignores case (docs/mail.md §6).
CREATE TABLE mail_versions (
    uuid UUID PRIMARY KEY,
    name VARCHAR(255) UNIQUE NOT NULL,
    description TEXT,
    image TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE mail_instances (
    uuid UUID PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    project_id UUID NOT NULL,
    domain VARCHAR(255) NOT NULL,
    status VARCHAR(64) NOT NULL DEFAULT 'NEW',
    cpu INT NOT NULL CHECK (cpu BETWEEN 1 AND 128),
    ram INT NOT NULL CHECK (ram BETWEEN 512 AND 1073741824),
    disk_size INT NOT NULL CHECK (disk_size BETWEEN 8 AND 1073741824),
    version UUID NOT NULL REFERENCES mail_versions (uuid),
    "ipsv4" VARCHAR(15) ARRAY,
    dkim_public_key TEXT NOT NULL DEFAULT '',
    dkim_selector VARCHAR(255) NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE INDEX mail_instances_project_id_name_idx ON mail_instances (project_id, name);

CREATE TABLE mail_accounts (
    uuid UUID PRIMARY KEY,
    name VARCHAR(255),
    description TEXT,
    project_id UUID NOT NULL,
    instance UUID NOT NULL REFERENCES mail_instances (uuid),
    username VARCHAR(255) NOT NULL,
    password_hash VARCHAR(1024) NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE INDEX mail_accounts_project_id_idx ON mail_accounts (project_id);
CREATE UNIQUE INDEX mail_accounts_instance_username_idx
    ON mail_accounts (instance, lower(username));
