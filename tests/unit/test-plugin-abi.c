/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The descriptor's model tables, derived from the one declaration of each
 * model (exm-plugin-abi.c), are exactly the tables the plugin declared by
 * hand before: kind, table, path, parent, and every field's type, flags,
 * access and related kind.
 */
#include "exm-plugin-private.h"
#include "exm-test.h"

#define PK   (EXORDOS_PAAS_FIELD_FLAG_PRIMARY_KEY | EXORDOS_PAAS_FIELD_FLAG_READ_ONLY)
#define REQ  EXORDOS_PAAS_FIELD_FLAG_REQUIRED
#define FIX  EXORDOS_PAAS_FIELD_FLAG_READ_ONLY
#define WO   EXORDOS_PAAS_FIELD_FLAG_WRITE_ONLY
#define NONE EXORDOS_PAAS_FIELD_FLAG_NONE
#define T(x) EXORDOS_PAAS_FIELD_##x
#define A(x) EXORDOS_PAAS_ACCESS_##x

typedef struct {
	const gchar *name;
	ExordosPaasFieldType type;
	guint32 flags;
	ExordosPaasFieldAccess c, r, u;
	const gchar *related;
} Expect;

static const Expect version_fields[] = {
	{ "uuid", T(UUID), PK, A(RW), A(RO), A(RW), NULL },
	{ "name", T(STRING), NONE, A(RW), A(RW), A(RW), NULL },
	{ "description", T(STRING), NONE, A(RW), A(RW), A(RW), NULL },
	{ "created_at", T(TIMESTAMP), FIX, A(RW), A(RO), A(RW), NULL },
	{ "updated_at", T(TIMESTAMP), FIX, A(RW), A(RO), A(RW), NULL },
	{ "image", T(STRING), NONE, A(RW), A(RW), A(RW), NULL },
	/* ACME (migration 0012, docs/tls.md §6) */
	{ "acme_directory_url", T(STRING), NONE, A(RW), A(RW), A(RW), NULL },
	{ "acme_contact", T(STRING), NONE, A(RW), A(RW), A(RW), NULL },
	/* migration 0014 (docs/tls.md §6) */
	{ "acme_allowed_directory_urls", T(STRING_LIST), NONE, A(RW), A(RW), A(RW), NULL },
	{ NULL },
};
static const Expect instance_fields[] = {
	{ "uuid", T(UUID), PK, A(RW), A(RO), A(RW), NULL },
	{ "name", T(STRING), REQ, A(RW), A(RW), A(RW), NULL },
	{ "description", T(STRING), NONE, A(RW), A(RW), A(RW), NULL },
	{ "project_id", T(UUID), REQ | FIX, A(RW), A(RO), A(RW), NULL },
	{ "created_at", T(TIMESTAMP), FIX, A(RW), A(RO), A(RW), NULL },
	{ "updated_at", T(TIMESTAMP), FIX, A(RW), A(RO), A(RW), NULL },
	{ "domain", T(STRING), REQ | FIX, A(RW), A(RO), A(RO), NULL },
	{ "status", T(ENUM), NONE, A(RO), A(RO), A(RO), NULL },
	{ "ipsv4", T(STRING_LIST), NONE, A(RO), A(RO), A(RO), NULL },
	{ "cpu", T(INTEGER), REQ, A(RW), A(RW), A(RW), NULL },
	{ "ram", T(INTEGER), REQ, A(RW), A(RW), A(RW), NULL },
	{ "disk_size", T(INTEGER), REQ, A(RW), A(RW), A(RW), NULL },
	/* model read_only, no field permission on update: as upstream */
	{ "version", T(RELATIONSHIP), REQ | FIX, A(RW), A(RO), A(RW), "mail_version" },
	{ "dkim_public_key", T(STRING), NONE, A(RO), A(RO), A(RO), NULL },
	{ "dkim_selector", T(STRING), NONE, A(RO), A(RO), A(RO), NULL },
	{ "default_messages_per_hour", T(INTEGER), NONE, A(RW), A(RW), A(RW), NULL },
	{ "default_recipients_per_day", T(INTEGER), NONE, A(RW), A(RW), A(RW), NULL },
	{ "messages_per_hour_ceiling", T(INTEGER), NONE, A(RW), A(RW), A(RW), NULL },
	{ "auth_fail_limit", T(INTEGER), NONE, A(RW), A(RW), A(RW), NULL },
	{ "auth_fail_window", T(INTEGER), NONE, A(RW), A(RW), A(RW), NULL },
	{ "dns_status", T(ENUM), NONE, A(RO), A(RO), A(RO), NULL },
	{ "dns_checked_at", T(TIMESTAMP), NONE, A(RO), A(RO), A(RO), NULL },
	{ "dns_next_check_at", T(TIMESTAMP), NONE, A(RO), A(RO), A(RO), NULL },
	{ "smtp_hostname", T(STRING), NONE, A(RO), A(RO), A(RO), NULL },
	/* the served certificate (migration 0007, docs/tls.md §4) */
	{ "tls_source", T(ENUM), NONE, A(RO), A(RO), A(RO), NULL },
	{ "tls_issuer", T(STRING), NONE, A(RO), A(RO), A(RO), NULL },
	{ "tls_not_after", T(TIMESTAMP), NONE, A(RO), A(RO), A(RO), NULL },
	{ "tls_error", T(STRING), NONE, A(RO), A(RO), A(RO), NULL },
	/* usage (migration 0005, docs/usage.md) */
	{ "usage_accepted_24h", T(INTEGER), NONE, A(RO), A(RO), A(RO), NULL },
	{ "usage_delivered_24h", T(INTEGER), NONE, A(RO), A(RO), A(RO), NULL },
	{ "usage_deferred_24h", T(INTEGER), NONE, A(RO), A(RO), A(RO), NULL },
	{ "usage_bounced_24h", T(INTEGER), NONE, A(RO), A(RO), A(RO), NULL },
	{ "usage_held_24h", T(INTEGER), NONE, A(RO), A(RO), A(RO), NULL },
	{ "last_login_at", T(TIMESTAMP), NONE, A(RO), A(RO), A(RO), NULL },
	{ "usage_reported_at", T(TIMESTAMP), NONE, A(RO), A(RO), A(RO), NULL },
	/* the circuit breaker's thresholds (migration 0010) */
	{ "breaker_new_recipients_per_day", T(INTEGER), NONE, A(RW), A(RW), A(RW), NULL },
	{ "breaker_bounce_percent", T(INTEGER), NONE, A(RW), A(RW), A(RW), NULL },
	{ "breaker_bounce_min", T(INTEGER), NONE, A(RW), A(RW), A(RW), NULL },
	/* ACME overrides (migration 0012); null: the version's */
	{ "acme_directory_url", T(STRING), NONE, A(RW), A(RW), A(RW), NULL },
	{ "acme_contact", T(STRING), NONE, A(RW), A(RW), A(RW), NULL },
	{ NULL },
};
static const Expect account_fields[] = {
	{ "uuid", T(UUID), PK, A(RW), A(RO), A(RW), NULL },
	{ "name", T(STRING), NONE, A(RW), A(RW), A(RW), NULL },
	{ "description", T(STRING), NONE, A(RW), A(RW), A(RW), NULL },
	{ "created_at", T(TIMESTAMP), FIX, A(RW), A(RO), A(RW), NULL },
	{ "updated_at", T(TIMESTAMP), FIX, A(RW), A(RO), A(RW), NULL },
	{ "project_id", T(UUID), REQ | FIX, A(RW), A(RO), A(RW), NULL },
	{ "instance", T(RELATIONSHIP), REQ | FIX, A(RW), A(RO), A(RO), "mail_instance" },
	{ "username", T(STRING), REQ | FIX, A(RW), A(RO), A(RO), NULL },
	{ "password_hash", T(STRING), REQ, A(RW), A(HIDDEN), A(RW), NULL },
	{ "active", T(BOOLEAN), NONE, A(RW), A(RW), A(RW), NULL },
	{ "password", T(STRING), WO, A(RW), A(HIDDEN), A(RW), NULL },
	{ "messages_per_hour", T(INTEGER), NONE, A(RW), A(RW), A(RW), NULL },
	{ "recipients_per_day", T(INTEGER), NONE, A(RW), A(RW), A(RW), NULL },
	{ "senders", T(STRING_LIST), NONE, A(RW), A(RW), A(RW), NULL },
	/* rotation and expiry (migration 0004, docs/abuse-controls.md §5) */
	{ "previous_password_hash", T(STRING), NONE, A(RO), A(HIDDEN), A(RO), NULL },
	{ "previous_password_valid_until", T(TIMESTAMP), NONE, A(RO), A(RO), A(RO), NULL },
	{ "expires_at", T(TIMESTAMP), NONE, A(RW), A(RW), A(RW), NULL },
	/* the sandbox (migration 0011, docs/sandbox.md) */
	{ "sandbox", T(BOOLEAN), NONE, A(RW), A(RW), A(RW), NULL },
	/* usage (migration 0005, docs/usage.md) */
	{ "usage_accepted_24h", T(INTEGER), NONE, A(RO), A(RO), A(RO), NULL },
	{ "usage_delivered_24h", T(INTEGER), NONE, A(RO), A(RO), A(RO), NULL },
	{ "usage_deferred_24h", T(INTEGER), NONE, A(RO), A(RO), A(RO), NULL },
	{ "usage_bounced_24h", T(INTEGER), NONE, A(RO), A(RO), A(RO), NULL },
	{ "usage_held_24h", T(INTEGER), NONE, A(RO), A(RO), A(RO), NULL },
	{ "last_login_at", T(TIMESTAMP), NONE, A(RO), A(RO), A(RO), NULL },
	/* the last login per secret (migration 0009, docs/abuse-controls.md §5) */
	{ "password_last_login_at", T(TIMESTAMP), NONE, A(RO), A(RO), A(RO), NULL },
	{ "previous_password_last_login_at", T(TIMESTAMP), NONE, A(RO), A(RO), A(RO), NULL },
	/* the circuit breaker (migration 0010, docs/abuse-controls.md §7); the
	 * ABI has no object type: held_counts is text to the host */
	{ "sending", T(ENUM), NONE, A(RO), A(RO), A(RO), NULL },
	{ "held_reason", T(ENUM), NONE, A(RO), A(RO), A(RO), NULL },
	{ "held_since", T(TIMESTAMP), NONE, A(RO), A(RO), A(RO), NULL },
	{ "held_counts", T(STRING), NONE, A(RO), A(RO), A(RO), NULL },
	{ "breaker_op", T(STRING), NONE, A(RO), A(HIDDEN), A(RO), NULL },
	{ "breaker_token", T(UUID), NONE, A(RO), A(HIDDEN), A(RO), NULL },
	{ NULL },
};

static void
check_model(const ExordosPaasModel *m,
	    const gchar *kind,
	    const gchar *table,
	    const gchar *path,
	    const gchar *parent,
	    const Expect *want)
{
	guint i = 0;

	g_assert_cmpstr(m->kind, ==, kind);
	g_assert_cmpstr(m->table, ==, table);
	g_assert_cmpstr(m->path, ==, path);
	g_assert_cmpstr(m->parent_kind, ==, parent);
	for (; want[i].name != NULL; i++) {
		const ExordosPaasField *f = m->fields[i];
		g_assert_nonnull(f);
		g_assert_cmpstr(f->name, ==, want[i].name);
		g_assert_cmpint(f->type, ==, want[i].type);
		g_assert_cmpuint(f->flags, ==, want[i].flags);
		g_assert_cmpint(f->access_create, ==, want[i].c);
		g_assert_cmpint(f->access_read, ==, want[i].r);
		g_assert_cmpint(f->access_update, ==, want[i].u);
		g_assert_cmpstr(f->related_kind, ==, want[i].related);
	}
	g_assert_null(m->fields[i]);
}

static void
test_models(void)
{
	const ExordosPaasPluginDescriptor *d = exm_plugin_get_descriptor();
	const ExordosPaasModel *const *models = d->models;

	g_assert_true(models == exm_plugin_abi_models());
	check_model(models[0], "mail_version", "mail_versions", "versions/", NULL, version_fields);
	check_model(
		models[1], "mail_instance", "mail_instances", "instances/", NULL, instance_fields);
	check_model(models[2],
		    "mail_account",
		    "mail_accounts",
		    "instances/{instance}/accounts/",
		    "mail_instance",
		    account_fields);
	g_assert_null(models[3]);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/abi/models", test_models);
	return g_test_run();
}
