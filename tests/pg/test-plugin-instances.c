/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail REST API through the plugin ABI, on a real PostgreSQL: instances
 * (docs/rest-conventions.md, docs/mail.md §6).
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define INSTANCES "instances/"

/* ------------------------------------------------------------------ instances */

#define SEED_INSTANCE_BODY                                                                         \
	"{\n"                                                                                      \
	"    \"name\": \"mail-prod\",\n"                                                           \
	"    \"project_id\": \"4d657461-0000-0000-0000-000000000002\",\n"                          \
	"    \"domain\": \"example.com\",\n"                                                       \
	"    \"cpu\": 2,\n"                                                                        \
	"    \"ram\": 2048,\n"                                                                     \
	"    \"disk_size\": 20,\n"                                                                 \
	"    \"version\": \"/v1/types/mail/versions/%s\"\n"                                        \
	"  }"

/* Per-test state of the instance tests: the seed README's instance. */
typedef struct {
	ExmFixture *f;
	gchar *vuri;
	gchar *id;
	gchar *path;
	ExmReply *created;
} InstancesFixture;

static void
instances_fixture_setup(InstancesFixture *a, gconstpointer data)
{
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *body = NULL;

	a->f = exm_fixture_new();
	if (a->f == NULL)
		return;
	v1 = exm_fixture_version(a->f, "exim4_1");
	a->vuri = g_strdup_printf("/v1/types/mail/versions/%s", v1);
	body = g_strdup_printf(SEED_INSTANCE_BODY, v1);
	a->created = exm_fixture_call(a->f, NULL, &exm_who_owner1, "POST", INSTANCES, NULL, body);
	exm_assert_status(a->created, 201);
	a->id = g_strdup(exm_reply_str(a->created, "uuid"));
	a->path = g_strdup_printf("instances/%s", a->id);
}

static void
instances_fixture_teardown(InstancesFixture *a, gconstpointer data)
{
	exm_fixture_free(a->f);
	g_free(a->vuri);
	g_free(a->id);
	g_free(a->path);
	exm_reply_free(a->created);
}

static void
test_instances_create(InstancesFixture *a, gconstpointer data)
{
	ExmFixture *f = a->f;
	const gchar *vuri = a->vuri;
	const gchar *id = a->id;
	const gchar *path = a->path;
	g_autoptr(ExmReply) r = g_steal_pointer(&a->created);

	if (f == NULL)
		return;
	g_assert_cmpstr(exm_reply_str(r, "status"), ==, "NEW");
	g_assert_cmpstr(exm_reply_str(r, "domain"), ==, "example.com");
	g_assert_cmpstr(exm_reply_str(r, "version"), ==, vuri);
	g_assert_cmpstr(exm_reply_str(r, "dkim_public_key"), ==, "");
	g_assert_cmpstr(exm_reply_str(r, "dkim_selector"), ==, "");
	g_assert_cmpstr(exm_reply_str(r, "description"), ==, "");
	g_assert_cmpstr(exm_reply_str(r, "project_id"), ==, EXM_P1);
	g_assert_nonnull(strstr(r->body, "\"ipsv4\":[],\"cpu\":2,\"ram\":2048,\"disk_size\":20,"));
	/* model property order (docs/rest-conventions.md §5.2) */
	g_assert_true(g_str_has_prefix(r->body, "{\"uuid\":"));
	g_assert_nonnull(
		strstr(r->body, "\"name\":\"mail-prod\",\"description\":\"\",\"project_id\":"));
	g_assert_nonnull(strstr(r->body, "\"dkim_public_key\":\"\",\"dkim_selector\":\"\","));
	/* a new instance's DNS is unverified until its first check, which sets
	 * dns_checked_at */
	g_assert_nonnull(strstr(r->body, "\"dns_status\":\"unverified\","));
	/* issue 22: the node's one name, from the normalised domain */
	g_assert_cmpstr(exm_reply_str(r, "smtp_hostname"), ==, "mail.example.com");
	/* no certificate reported by a node yet (migration 0007): null, so left out */
	g_assert_false(exm_reply_has(r, "tls_source"));
	g_assert_false(exm_reply_has(r, "tls_not_after"));
	/* then the usage of migration 0005: zero, no login or report yet */
	g_assert_true(g_str_has_suffix(r->body,
				       "\"usage_accepted_24h\":0,\"usage_delivered_24h\":0,"
				       "\"usage_deferred_24h\":0,\"usage_bounced_24h\":0,"
				       "\"usage_held_24h\":0}"));
	g_clear_pointer(&r, exm_reply_free);

	exm_fixture_assert_list_len(f, NULL, 1);
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", path, "fields=cpu&fields=uuid", NULL);
	exm_assert_status(r, 200);
	{
		g_autofree gchar *expect = g_strdup_printf("{\"uuid\":\"%s\",\"cpu\":2}", id);
		g_assert_cmpstr(r->body, ==, expect);
	}
	g_clear_pointer(&r, exm_reply_free);
}

/* PUT is partial, PATCH the same; an update that changes nothing does not
 * bump updated_at. */
static void
test_instances_update(InstancesFixture *a, gconstpointer data)
{
	ExmFixture *f = a->f;
	const gchar *path = a->path;
	g_autofree gchar *updated = NULL;
	g_autoptr(ExmReply) r = NULL;

	if (f == NULL)
		return;
	updated = g_strdup(exm_reply_str(a->created, "updated_at"));
	/* PUT partial; the same PUT again changes nothing */
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "PUT", path, NULL, "{\"cpu\":4}");
	exm_assert_status(r, 200);
	g_assert_cmpint(exm_reply_int(r, "cpu"), ==, 4);
	g_assert_cmpint(exm_reply_int(r, "ram"), ==, 2048);
	g_assert_cmpstr(exm_reply_str(r, "updated_at"), >, updated);
	g_free(updated);
	updated = g_strdup(exm_reply_str(r, "updated_at"));
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "PATCH", path, NULL, "{\"cpu\":4}");
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "updated_at"), ==, updated);
	g_clear_pointer(&r, exm_reply_free);
}

static void
test_instances_fixed(InstancesFixture *a, gconstpointer data)
{
	ExmFixture *f = a->f;
	const gchar *vuri = a->vuri;
	const gchar *path = a->path;
	g_autoptr(ExmReply) r = NULL;

	if (f == NULL)
		return;
	/* fixed after create, RO always */
	r = exm_fixture_call(
		f, NULL, &exm_who_owner1, "PUT", path, NULL, "{\"domain\":\"other.com\"}");
	exm_assert_error(r, 403, "FieldPermissionError");
	g_assert_cmpstr(exm_reply_str(r, "message"), ==, "Permission denied for field domain.");
	g_clear_pointer(&r, exm_reply_free);
	{
		/* even unchanged: upstream's model read_only (a relationship never
		 * equals the URI it is sent as) */
		g_autofree gchar *b = g_strdup_printf("{\"version\":\"%s\"}", vuri);
		r = exm_fixture_call(f, NULL, &exm_who_owner1, "PUT", path, NULL, b);
		exm_assert_error(r, 400, "ReadOnlyProperty");
		g_assert_cmpstr(
			exm_reply_str(r, "message"),
			==,
			"Property 'version' of model "
			"<class 'exordos_mail.controlplane.dm.models.MailInstance'> is read only.");
		g_clear_pointer(&r, exm_reply_free);
	}
	for (guint i = 0; i < 4; i++) {
		const gchar *ro[] = { "{\"status\":\"ACTIVE\"}",
				      "{\"ipsv4\":[]}",
				      "{\"dkim_public_key\":\"x\"}",
				      "{\"dkim_selector\":\"x\"}" };
		r = exm_fixture_call(f, NULL, &exm_who_owner1, "PUT", path, NULL, ro[i]);
		exm_assert_error(r, 403, "FieldPermissionError");
		g_clear_pointer(&r, exm_reply_free);
	}
	exm_fixture_assert_call_error(
		f, &exm_who_owner1, "PUT", path, "{\"cpu\":\"4\"}", 400, "ModelTypeError");
	/* out of the Integer's range on update: upstream's ModelTypeError */
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "PUT", path, NULL, "{\"cpu\":0}");
	exm_assert_error(r, 400, "ModelTypeError");
	g_assert_cmpstr(exm_reply_str(r, "message"),
			==,
			"Invalid type value '0'(<class 'int'>) for 'MailInstance.cpu'(Integer).");
	g_clear_pointer(&r, exm_reply_free);

	/* disk_size grows, never shrinks */
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "PUT", path, NULL, "{\"disk_size\":10}");
	exm_assert_error(r, 400, "ValidationError");
	g_assert_nonnull(strstr(exm_reply_str(r, "message"), "shrink"));
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "PUT", path, NULL, "{\"disk_size\":30}");
	exm_assert_status(r, 200);
	g_assert_cmpint(exm_reply_int(r, "disk_size"), ==, 30);
	g_clear_pointer(&r, exm_reply_free);

	/* body uuid must match the URL */
	exm_fixture_assert_call_error(f,
				      &exm_who_owner1,
				      "PUT",
				      path,
				      "{\"uuid\":\"00000000-0000-0000-0000-000000000001\"}",
				      400,
				      "NotEqualUuidException");
}

/* Out of an Integer's range or a String's length at create: upstream's
 * TypeError, worded as upstream (value, then the type's class). */
static void
create_out_of_range(ExmFixture *f, const gchar *vuri)
{
	g_autofree gchar *long_name = g_strnfill(256, 'n');
	struct {
		const gchar *name;
		gint cpu, ram, disk;
		const gchar *message;
	} cases[] = {
		{ "m2", 0, 512, 8, "Invalid type value '0' for 'Integer'." },
		{ "m2", 129, 512, 8, "Invalid type value '129' for 'Integer'." },
		{ "m2", 1, 256, 8, "Invalid type value '256' for 'Integer'." },
		{ "m2", 1, 512, 7, "Invalid type value '7' for 'Integer'." },
		{ "", 1, 512, 8, "Invalid type value '' for 'String'." },
		{ long_name, 1, 512, 8, NULL },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *b = g_strdup_printf(
			"{\"name\":\"%s\",\"domain\":\"a.example\",\"cpu\":%d,\"ram\":%d,"
			"\"disk_size\":%d,\"version\":\"%s\"}",
			cases[i].name,
			cases[i].cpu,
			cases[i].ram,
			cases[i].disk,
			vuri);
		g_autofree gchar *want =
			cases[i].message != NULL
				? g_strdup(cases[i].message)
				: g_strdup_printf("Invalid type value '%s' for 'String'.",
						  long_name);
		g_autoptr(ExmReply) r =
			exm_fixture_call(f, NULL, &exm_who_owner1, "POST", INSTANCES, NULL, b);

		exm_assert_error(r, 400, "TypeError");
		g_assert_cmpstr(exm_reply_str(r, "message"), ==, want);
	}
}

static void
test_instances_create_rejects(InstancesFixture *a, gconstpointer data)
{
	ExmFixture *f = a->f;
	const gchar *vuri = a->vuri;
	g_autoptr(ExmReply) r = NULL;

	if (f == NULL)
		return;
	/* create: RO field → 403, required → 400, unknown version → 404 */
	{
		g_autofree gchar *b = g_strdup_printf(
			"{\"name\":\"m2\",\"domain\":\"a.example\",\"cpu\":1,\"ram\":512,"
			"\"disk_size\":8,\"version\":\"%s\",\"status\":\"ACTIVE\"}",
			vuri);
		r = exm_fixture_call(f, NULL, &exm_who_owner1, "POST", INSTANCES, NULL, b);
		exm_assert_error(r, 403, "FieldPermissionError");
		g_assert_cmpstr(
			exm_reply_str(r, "message"), ==, "Permission denied for field status.");
		g_clear_pointer(&r, exm_reply_free);
	}
	{
		g_autofree gchar *b = g_strdup_printf("{\"name\":\"m2\",\"cpu\":1,\"ram\":512,"
						      "\"disk_size\":8,\"version\":\"%s\"}",
						      vuri);
		r = exm_fixture_call(f, NULL, &exm_who_owner1, "POST", INSTANCES, NULL, b);
		exm_assert_error(r, 400, "PropertyRequired");
		g_assert_nonnull(strstr(exm_reply_str(r, "message"), "'domain'"));
		g_clear_pointer(&r, exm_reply_free);
	}
	exm_fixture_assert_call_error(
		f,
		&exm_who_owner1,
		"POST",
		INSTANCES,
		"{\"name\":\"m2\",\"domain\":\"a.example\",\"cpu\":1,\"ram\":512,"
		"\"disk_size\":8,\"version\":\"/v1/types/mail/versions/"
		"00000000-0000-0000-0000-000000000009\"}",
		404,
		"RecordNotFound");
	exm_fixture_assert_call_error(
		f,
		&exm_who_owner1,
		"POST",
		INSTANCES,
		"{\"name\":\"m2\",\"domain\":\"a.example\",\"cpu\":1,\"ram\":512,"
		"\"disk_size\":8,\"version\":\"00000000-0000-0000-0000-000000000009\"}",
		404,
		"LocatorNotFound");
	create_out_of_range(f, vuri);
	/* an unscoped operator must name the project */
	{
		g_autofree gchar *b = g_strdup_printf(
			"{\"name\":\"m2\",\"domain\":\"a.example\",\"cpu\":1,\"ram\":512,"
			"\"disk_size\":8,\"version\":\"%s\"}",
			vuri);
		r = exm_fixture_call(f, NULL, &exm_who_admin, "POST", INSTANCES, NULL, b);
		exm_assert_error(r, 400, "PropertyRequired");
		g_clear_pointer(&r, exm_reply_free);
	}
	g_assert_cmpint(exm_fixture_count(f, "mail_instances"), ==, 1);
}

static void
test_instance_delete_cascades(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autoptr(ExmReply) r = NULL;
	g_autofree gchar *v1 = NULL;
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *i2 = NULL;
	g_autofree gchar *path = NULL;

	if (f == NULL)
		return;
	v1 = exm_fixture_version(f, "exim4_1");
	i1 = exm_fixture_instance(f, &exm_who_owner1, NULL, v1, "m1");
	i2 = exm_fixture_instance(f, &exm_who_owner1, NULL, v1, "m2");
	g_free(exm_fixture_account(f, &exm_who_owner1, i1, "alice"));
	g_free(exm_fixture_account(f, &exm_who_owner1, i1, "bob"));
	g_free(exm_fixture_account(f, &exm_who_owner1, i2, "alice"));
	g_assert_cmpint(exm_fixture_count(f, "mail_accounts"), ==, 3);
	path = g_strdup_printf("instances/%s", i1);
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "DELETE", path, NULL, NULL);
	exm_assert_status(r, 204);
	g_assert_null(r->body);
	g_assert_cmpint(exm_fixture_count(f, "mail_accounts"), ==, 1);
	g_assert_cmpint(exm_fixture_count(f, "mail_instances"), ==, 1);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
#define INSTANCES_TEST(path, fn)                                                                   \
	g_test_add(path,                                                                           \
		   InstancesFixture,                                                               \
		   NULL,                                                                           \
		   instances_fixture_setup,                                                        \
		   fn,                                                                             \
		   instances_fixture_teardown)
	INSTANCES_TEST("/plugin/instances/create", test_instances_create);
	INSTANCES_TEST("/plugin/instances/update", test_instances_update);
	INSTANCES_TEST("/plugin/instances/fixed", test_instances_fixed);
	INSTANCES_TEST("/plugin/instances/create-rejects", test_instances_create_rejects);
	g_test_add_func("/plugin/instance-delete-cascades", test_instance_delete_cascades);
	return g_test_run();
}
