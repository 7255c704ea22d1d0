/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail REST API through the plugin ABI (no HTTP), on a real PostgreSQL:
 * every endpoint and its error paths, restalchemy semantics
 * (reference/rest-conventions.md) and the mail rules of DESIGN.md §5.
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define VERSIONS  "versions/"
#define INSTANCES "instances/"

static gchar *
accounts_path(const gchar *instance)
{
	return g_strdup_printf("instances/%s/accounts/", instance);
}

/* A call without a query that must be refused with @status and @type. */
static void
assert_call_error(ExmFixture *f,
		  const ExmWho *who,
		  const gchar *method,
		  const gchar *path,
		  const gchar *body,
		  guint status,
		  const gchar *type)
{
	g_autoptr(ExmReply) r = exm_fixture_call(f, NULL, who, method, path, NULL, body);

	exm_assert_error(r, status, type);
}

/* GET instances/ with @query as owner1: 200 with @len items. */
static void
assert_list_len(ExmFixture *f, const gchar *query, guint len)
{
	g_autoptr(ExmReply) r =
		exm_fixture_call(f, NULL, &exm_who_owner1, "GET", INSTANCES, query, NULL);

	exm_assert_status(r, 200);
	g_assert_cmpuint(exm_reply_len(r), ==, len);
}

/* GET instances/ with @query as owner1: refused with @status and @type. */
static void
assert_list_error(ExmFixture *f, const gchar *query, guint status, const gchar *type)
{
	g_autoptr(ExmReply) r =
		exm_fixture_call(f, NULL, &exm_who_owner1, "GET", INSTANCES, query, NULL);

	exm_assert_error(r, status, type);
}

/* ------------------------------------------------------------------ descriptor */

static void
test_descriptor(void)
{
	GModule *module = NULL;
	const ExordosPaasPluginDescriptor *d = exm_fixture_load_descriptor(&module);
	const gchar *expect_em[] = { "em_mailaas_types_mail_versions",
				     "em_mailaas_types_mail_instances",
				     "em_mailaas_types_mail_instances_accounts" };
	guint n = 0;

	g_assert_cmpuint(d->abi_major, ==, EXORDOS_PAAS_PLUGIN_ABI_MAJOR);
	g_assert_cmpuint(d->abi_minor, ==, EXORDOS_PAAS_PLUGIN_ABI_MINOR);
	g_assert_cmpuint(d->struct_size, ==, sizeof(ExordosPaasPluginDescriptor));
	g_assert_cmpstr(d->slug, ==, "mail");
	g_assert_cmpstr(d->element, ==, "mailaas");
	g_assert_nonnull(d->version);
	g_assert_cmpstr(d->migrations[0]->uuid, ==, "b2c3d4e5-f6a7-8901-bcde-f12345678901");
	g_assert_nonnull(d->migrations[0]->depends);
	g_assert_null(d->migrations[0]->depends[0]);
	g_assert_nonnull(strstr(d->migrations[0]->up_sql, "CREATE TABLE mail_accounts"));
	g_assert_null(strstr(d->migrations[0]->up_sql, "root_password"));
	g_assert_nonnull(strstr(d->migrations[0]->down_sql, "DROP TABLE IF EXISTS mail_versions"));
	g_assert_null(d->migrations[1]);
	for (guint i = 0; d->agent_models[i] != NULL; i++) {
		g_autofree gchar *sub =
			g_strdelimit(g_strdup(d->agent_models[i]->subpath), ".", '_');
		g_autofree gchar *em =
			g_strdup_printf("em_%s_types_%s_%s", d->element, d->slug, sub);
		g_assert_cmpstr(em, ==, expect_em[i]);
		n++;
	}
	g_assert_cmpuint(n, ==, 3);
	g_assert_cmpstr(d->agent_models[0]->filter_field, ==, "description");
	g_assert_cmpstr(d->agent_models[1]->filter_field, ==, "project_id");
	g_assert_cmpstr(d->agent_models[2]->filter_field, ==, "project_id");
	g_assert_cmpuint(g_strv_length((gchar **)d->permissions), ==, 12);
	g_assert_true(g_strv_contains(d->permissions, "exordos_mail.mail_version.delete"));
	for (guint i = 0; d->models[i] != NULL; i++)
		g_assert_true(g_str_has_prefix(d->models[i]->table, "mail_"));
	for (guint i = 0; i < G_N_ELEMENTS(d->reserved); i++)
		g_assert_null(d->reserved[i]);
	g_assert_nonnull(d->init);
	g_assert_nonnull(d->shutdown);
	g_assert_nonnull(d->rest_dispatch);
	g_assert_nonnull(d->rest_response_clear);
	g_module_close(module);
}

static void
test_init_refuses_other_abi(void)
{
	GModule *module = NULL;
	const ExordosPaasPluginDescriptor *d = exm_fixture_load_descriptor(&module);
	ExordosPaasHost host = { 0 };
	gpointer ctx = NULL;
	g_autofree gchar *err = NULL;

	host.struct_size = sizeof(host);
	host.abi_major = EXORDOS_PAAS_PLUGIN_ABI_MAJOR + 1;
	g_assert_false(d->init(&host, &ctx, &err));
	g_assert_null(ctx);
	g_assert_nonnull(err);
	g_assert_false(d->init(NULL, &ctx, NULL));
	g_module_close(module);
}

/* ------------------------------------------------------------------ index */

static void
test_index(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_autoptr(ExmReply) r = NULL;

	if (f == NULL)
		return;
	r = exm_fixture_call(f, NULL, &exm_who_anon, "GET", "", NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(r->body, ==, "[\"instances\",\"versions\"]");
	g_clear_pointer(&r, exm_reply_free);

	r = exm_fixture_call(f, NULL, &exm_who_admin, "POST", "", NULL, "{}");
	exm_assert_error(r, 405, "UnsupportedHttpMethod");
	g_assert_cmpstr(exm_reply_str(r, "message"), ==, "HTTP method 'CREATE' is not supported.");
	g_clear_pointer(&r, exm_reply_free);

	/* no trailing slash: a resource of the index route, which lists only */
	r = exm_fixture_call(f, NULL, &exm_who_admin, "GET", "versions", NULL, NULL);
	exm_assert_error(r, 405, "UnsupportedHttpMethod");
	g_assert_cmpstr(exm_reply_str(r, "message"), ==, "HTTP method 'GET' is not supported.");
	g_clear_pointer(&r, exm_reply_free);

	r = exm_fixture_call(f, NULL, &exm_who_admin, "GET", "nothere/", NULL, NULL);
	exm_assert_error(r, 501, "NotImplementedError");
	g_clear_pointer(&r, exm_reply_free);

	r = exm_fixture_call(f, NULL, &exm_who_admin, "DELETE", "", NULL, NULL);
	exm_assert_error(r, 405, "UnsupportedHttpMethod");
	g_assert_cmpstr(exm_reply_str(r, "message"), ==, "HTTP method 'DELETE' is not supported.");
}

/* ------------------------------------------------------------------ versions */

/* Per-test state of the version tests: exim4_1, created by an operator. */
typedef struct {
	ExmFixture *f;
	gchar *v1;
	gchar *path;
	gchar *created;
	ExmReply *reply;
} Versions;

static void
versions_setup(Versions *a, gconstpointer data)
{
	a->f = exm_fixture_new();
	if (a->f == NULL)
		return;
	a->reply = exm_fixture_call(
		a->f,
		NULL,
		&exm_who_admin,
		"POST",
		VERSIONS,
		NULL,
		"{\"name\":\"exim4_1\",\"image\":\"img\",\"description\":\"" EXM_P1 "\"}");
	exm_assert_status(a->reply, 201);
	a->v1 = g_strdup(exm_reply_str(a->reply, "uuid"));
	a->created = g_strdup(exm_reply_str(a->reply, "created_at"));
	a->path = g_strdup_printf("versions/%s", a->v1);
}

static void
versions_teardown(Versions *a, gconstpointer data)
{
	exm_fixture_free(a->f);
	g_free(a->v1);
	g_free(a->path);
	g_free(a->created);
	exm_reply_free(a->reply);
}

/* The shared state under short names; not every test uses every name. */
#define VERSIONS_LOCALS                                                                            \
	G_GNUC_UNUSED ExmFixture *f = a->f;                                                        \
	G_GNUC_UNUSED const gchar *v1 = a->v1;                                                     \
	G_GNUC_UNUSED const gchar *path = a->path;                                                 \
	G_GNUC_UNUSED const gchar *created = a->created;                                           \
	g_autoptr(ExmReply) r = NULL

static void
test_versions_create(Versions *a, gconstpointer data)
{
	VERSIONS_LOCALS;
	g_autofree gchar *loc = NULL;

	if (f == NULL)
		return;
	r = g_steal_pointer(&a->reply);
	loc = g_strdup_printf("http://127.0.0.1:8080/v1/types/mail/versions/%s", v1);
	g_assert_cmpstr(exm_reply_header(r, "Location"), ==, loc);
	g_assert_true(g_str_has_prefix(r->body, "{\"uuid\":\""));
	g_assert_nonnull(strstr(
		r->body, "\"name\":\"exim4_1\",\"description\":\"" EXM_P1 "\",\"created_at\":\""));
	g_assert_true(g_str_has_suffix(r->body, "\",\"image\":\"img\"}"));
	g_assert_cmpuint(strlen(created), ==, strlen("2026-11-25T12:33:14.510407Z"));
	g_assert_true(g_str_has_suffix(created, "Z"));
	g_assert_cmpint(created[10], ==, 'T');
}

static void
test_versions_policy(Versions *a, gconstpointer data)
{
	VERSIONS_LOCALS;

	if (f == NULL)
		return;
	/* owners read, only operators write */
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", VERSIONS, "name=exim4_1", NULL);
	exm_assert_status(r, 200);
	g_assert_cmpuint(exm_reply_len(r), ==, 1);
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_owner2, "GET", path, NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "name"), ==, "exim4_1");
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "POST", VERSIONS, NULL, "{\"name\":\"x\"}");
	exm_assert_error(r, 403, "PolicyNotAuthorized");
	g_assert_cmpstr(exm_reply_str(r, "message"),
			==,
			"Policy rule exordos_mail.mail_version.create is disallowed.");
	g_assert_cmpint(exm_reply_int(r, "code"), ==, 10000001);
	g_clear_pointer(&r, exm_reply_free);
	assert_call_error(
		f, &exm_who_owner1, "PUT", path, "{\"name\":\"y\"}", 403, "PolicyNotAuthorized");
	assert_call_error(f, &exm_who_owner1, "DELETE", path, NULL, 403, "PolicyNotAuthorized");
	assert_call_error(f, &exm_who_anon, "GET", VERSIONS, NULL, 403, "PolicyNotAuthorized");
}

static void
test_versions_escaping(Versions *a, gconstpointer data)
{
	VERSIONS_LOCALS;

	if (f == NULL)
		return;
	/* the answer's string escaping: short escapes, \u00XX, UTF-8 raw */
	r = exm_fixture_call(
		f,
		NULL,
		&exm_who_admin,
		"POST",
		VERSIONS,
		"fields=description",
		"{\"name\":\"esc\",\"description\":\"q\\\"b\\\\c\\n\\u0001\\u00e9/\u00e9\"}");
	exm_assert_status(r, 201);
	g_assert_cmpstr(
		r->body, ==, "{\"description\":\"q\\\"b\\\\c\\n\\u0001\xc3\xa9/\xc3\xa9\"}");
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(
		f, NULL, &exm_who_admin, "GET", VERSIONS, "name=esc&fields=name", NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(r->body, ==, "[{\"name\":\"esc\"}]");
	g_clear_pointer(&r, exm_reply_free);
}

static void
test_versions_update(Versions *a, gconstpointer data)
{
	VERSIONS_LOCALS;

	if (f == NULL)
		return;
	/* duplicate name → 409 */
	assert_call_error(f,
			  &exm_who_admin,
			  "POST",
			  VERSIONS,
			  "{\"name\":\"exim4_1\"}",
			  409,
			  "ConflictRecords");

	/* update: partial, PATCH the same, no-op keeps updated_at */
	r = exm_fixture_call(f, NULL, &exm_who_admin, "PATCH", path, NULL, "{\"image\":\"img2\"}");
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "image"), ==, "img2");
	g_assert_cmpstr(exm_reply_str(r, "name"), ==, "exim4_1");
	g_assert_cmpstr(exm_reply_str(r, "created_at"), ==, created);
	g_assert_cmpstr(exm_reply_str(r, "updated_at"), >, created);
	g_clear_pointer(&r, exm_reply_free);
	assert_call_error(f,
			  &exm_who_admin,
			  "PUT",
			  path,
			  "{\"created_at\":\"2020-01-01T00:00:00.000000Z\"}",
			  400,
			  "ReadOnlyProperty");
}

static void
test_versions_delete(Versions *a, gconstpointer data)
{
	VERSIONS_LOCALS;
	g_autofree gchar *inst = NULL;

	if (f == NULL)
		return;
	/* a referenced version cannot be deleted */
	inst = exm_fixture_instance(f, &exm_who_owner1, NULL, v1, "m1");
	assert_call_error(f, &exm_who_admin, "DELETE", path, NULL, 409, "ConflictRecords");
	g_assert_cmpint(exm_fixture_count(f, "mail_versions"), ==, 1);

	{
		g_autofree gchar *ipath = g_strdup_printf("instances/%s", inst);
		r = exm_fixture_call(f, NULL, &exm_who_owner1, "DELETE", ipath, NULL, NULL);
		exm_assert_status(r, 204);
		g_clear_pointer(&r, exm_reply_free);
	}
	r = exm_fixture_call(f, NULL, &exm_who_admin, "DELETE", path, NULL, NULL);
	exm_assert_status(r, 204);
	g_clear_pointer(&r, exm_reply_free);
	assert_call_error(f, &exm_who_admin, "DELETE", path, NULL, 404, "RecordNotFound");
	r = exm_fixture_call(f, NULL, &exm_who_admin, "GET", path, NULL, NULL);
	exm_assert_error(r, 404, "RecordNotFound");
}

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
} Instances;

static void
instances_setup(Instances *a, gconstpointer data)
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
instances_teardown(Instances *a, gconstpointer data)
{
	exm_fixture_free(a->f);
	g_free(a->vuri);
	g_free(a->id);
	g_free(a->path);
	exm_reply_free(a->created);
}

static void
test_instances_create(Instances *a, gconstpointer data)
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
	/* model property order (rest-conventions §5.2) */
	g_assert_true(g_str_has_prefix(r->body, "{\"uuid\":"));
	g_assert_nonnull(
		strstr(r->body, "\"name\":\"mail-prod\",\"description\":\"\",\"project_id\":"));
	g_assert_true(
		g_str_has_suffix(r->body, "\"dkim_public_key\":\"\",\"dkim_selector\":\"\"}"));
	g_clear_pointer(&r, exm_reply_free);

	assert_list_len(f, NULL, 1);
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
test_instances_update(Instances *a, gconstpointer data)
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
test_instances_fixed(Instances *a, gconstpointer data)
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
		g_autofree gchar *b = g_strdup_printf("{\"version\":\"%s\"}", vuri);
		r = exm_fixture_call(f, NULL, &exm_who_owner1, "PUT", path, NULL, b);
		exm_assert_error(r, 403, "FieldPermissionError");
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
	assert_call_error(f, &exm_who_owner1, "PUT", path, "{\"cpu\":\"4\"}", 400, "TypeError");
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "PUT", path, NULL, "{\"cpu\":0}");
	g_assert_cmpuint(r->status, ==, 400);
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
	assert_call_error(f,
			  &exm_who_owner1,
			  "PUT",
			  path,
			  "{\"uuid\":\"00000000-0000-0000-0000-000000000001\"}",
			  400,
			  "NotEqualUuidException");
}

static void
test_instances_create_rejects(Instances *a, gconstpointer data)
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
	assert_call_error(f,
			  &exm_who_owner1,
			  "POST",
			  INSTANCES,
			  "{\"name\":\"m2\",\"domain\":\"a.example\",\"cpu\":1,\"ram\":512,"
			  "\"disk_size\":8,\"version\":\"/v1/types/mail/versions/"
			  "00000000-0000-0000-0000-000000000009\"}",
			  404,
			  "RecordNotFound");
	assert_call_error(f,
			  &exm_who_owner1,
			  "POST",
			  INSTANCES,
			  "{\"name\":\"m2\",\"domain\":\"a.example\",\"cpu\":1,\"ram\":512,"
			  "\"disk_size\":8,\"version\":\"00000000-0000-0000-0000-000000000009\"}",
			  404,
			  "LocatorNotFound");
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

/* ------------------------------------------------------------------ accounts */

static gchar *
instance_updated_at(ExmFixture *f, const gchar *id)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT updated_at::text FROM mail_instances WHERE uuid = '%s'", id);
	return exm_fixture_scalar(f, sql);
}

/* Re-sending the same plaintext keeps the stored hash (no new salt, no
 * change, no bump); another password replaces it. */
static void
test_accounts_password_update(ExmFixture *f, const gchar *coll)
{
	const gchar *sql = "SELECT password_hash || ' ' || updated_at::text FROM mail_accounts "
			   "WHERE username = 'carol'";
	g_autofree gchar *id = exm_fixture_scalar(
		f, "SELECT uuid::text FROM mail_accounts WHERE username = 'carol'");
	g_autofree gchar *path = g_strconcat(coll, id, NULL);
	g_autofree gchar *before = exm_fixture_scalar(f, sql);
	g_autofree gchar *same = NULL;
	g_autofree gchar *changed = NULL;
	g_autoptr(ExmReply) r = NULL;

	r = exm_fixture_call(
		f, NULL, &exm_who_owner1, "PUT", path, NULL, "{\"password\":\"s3cret-plain\"}");
	exm_assert_status(r, 200);
	g_clear_pointer(&r, exm_reply_free);
	same = exm_fixture_scalar(f, sql);
	g_assert_cmpstr(same, ==, before);
	r = exm_fixture_call(
		f, NULL, &exm_who_owner1, "PUT", path, NULL, "{\"password\":\"an0ther-plain\"}");
	exm_assert_status(r, 200);
	g_assert_null(strstr(r->body, "an0ther"));
	changed = exm_fixture_scalar(f, sql);
	g_assert_cmpstr(changed, !=, before);
	g_assert_true(g_str_has_prefix(changed, "$y$"));
	g_assert_true(exm_fixture_logs_lack(f, "an0ther"));
}

/* Per-test state of the account tests: two instances of project P1. */
typedef struct {
	ExmFixture *f;
	gchar *i1;
	gchar *i2;
	gchar *coll; /* accounts of i1 */
	gchar *iuri; /* URI of i1 */
	gchar *acc;  /* alice on i1, once seeded */
	gchar *apath;
} Accounts;

static void
accounts_setup(Accounts *a, gconstpointer data)
{
	g_autofree gchar *v1 = NULL;

	a->f = exm_fixture_new();
	if (a->f == NULL)
		return;
	v1 = exm_fixture_version(a->f, "exim4_1");
	a->i1 = exm_fixture_instance(a->f, &exm_who_owner1, NULL, v1, "m1");
	a->i2 = exm_fixture_instance(a->f, &exm_who_owner1, NULL, v1, "m2");
	a->coll = accounts_path(a->i1);
	a->iuri = g_strdup_printf("/v1/types/mail/instances/%s", a->i1);
}

static void
accounts_teardown(Accounts *a, gconstpointer data)
{
	if (a->f != NULL)
		g_assert_true(exm_fixture_logs_lack(a->f, "$6$"));
	exm_fixture_free(a->f);
	g_free(a->i1);
	g_free(a->i2);
	g_free(a->coll);
	g_free(a->iuri);
	g_free(a->acc);
	g_free(a->apath);
}

/* The seed README's request, verbatim: alice on i1. */
static ExmReply *
accounts_seed(Accounts *a)
{
	g_autofree gchar *body =
		g_strdup_printf("{\n    \"username\": \"alice\",\n    \"password_hash\": \"%s\",\n"
				"    \"project_id\": \"4d657461-0000-0000-0000-000000000002\",\n"
				"    \"instance\": \"/v1/types/mail/instances/%s\"\n  }",
				EXM_HASH6,
				a->i1);
	ExmReply *r = exm_fixture_call(a->f, NULL, &exm_who_owner1, "POST", a->coll, NULL, body);

	exm_assert_status(r, 201);
	a->acc = g_strdup(exm_reply_str(r, "uuid"));
	a->apath = g_strdup_printf("instances/%s/accounts/%s", a->i1, a->acc);
	return r;
}

static void
test_accounts_create(Accounts *a, gconstpointer data)
{
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *loc = NULL;
	g_autoptr(ExmReply) r = NULL;

	if (a->f == NULL)
		return;
	before = instance_updated_at(a->f, a->i1);
	r = accounts_seed(a);
	loc = g_strdup_printf("http://127.0.0.1:8080/v1/types/mail/%s", a->apath);
	g_assert_cmpstr(exm_reply_header(r, "Location"), ==, loc);
	g_assert_cmpstr(exm_reply_str(r, "username"), ==, "alice");
	g_assert_cmpstr(exm_reply_str(r, "instance"), ==, a->iuri);
	g_assert_cmpstr(exm_reply_str(r, "project_id"), ==, EXM_P1);
	g_assert_true(json_object_get_boolean_member(json_node_get_object(r->json), "active"));
	g_assert_false(exm_reply_has(r, "password_hash"));
	g_assert_false(exm_reply_has(r, "password"));
	g_assert_null(strstr(r->body, "$6$"));
	after = instance_updated_at(a->f, a->i1);
	g_assert_cmpstr(after, >, before);
}

/* Usernames are case-insensitive per instance, and only per instance. */
static void
test_accounts_case(Accounts *a, gconstpointer data)
{
	g_autofree gchar *body =
		g_strdup_printf("{\"username\":\"Alice\",\"password_hash\":\"%s\"}", EXM_HASH6);
	g_autofree gchar *coll2 = NULL;
	g_autoptr(ExmReply) r = NULL;
	g_autoptr(ExmReply) r2 = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	r = exm_fixture_call(a->f, NULL, &exm_who_owner1, "POST", a->coll, NULL, body);
	exm_assert_error(r, 409, "ConflictRecords");
	coll2 = accounts_path(a->i2);
	r2 = exm_fixture_call(a->f, NULL, &exm_who_owner1, "POST", coll2, NULL, body);
	exm_assert_status(r2, 201);
	g_assert_cmpstr(exm_reply_str(r2, "username"), ==, "alice");
	g_assert_cmpint(exm_fixture_count(a->f, "mail_accounts"), ==, 2);
}

typedef struct {
	const ExmWho *who;
	const gchar *body; /* @HASH@ = EXM_HASH6, @OTHER@ = the other instance */
	guint status;
	const gchar *type;
} AccountReject;

static void
test_accounts_rejects(Accounts *a, gconstpointer data)
{
	const AccountReject cases[] = {
		/* the instance of the URL wins: another one in the body is a 400 */
		{ &exm_who_owner1,
		  "{\"username\":\"bob\",\"password_hash\":\"@HASH@\",\"instance\":"
		  "\"/v1/types/mail/instances/@OTHER@\"}",
		  400,
		  "ValidationError" },
		/* project of the instance only (an operator could name another) */
		{ &exm_who_admin,
		  "{\"username\":\"bob\",\"password_hash\":\"@HASH@\",\"project_id\":\"" EXM_P2
		  "\"}",
		  400,
		  "ValidationError" },
		/* both secrets, neither, a bad hash, a bad username */
		{ &exm_who_owner1,
		  "{\"username\":\"bob\",\"password_hash\":\"@HASH@\",\"password\":\"pw\"}",
		  400,
		  "ValidationError" },
		{ &exm_who_owner1, "{\"username\":\"bob\"}", 400, "PropertyRequired" },
		{ &exm_who_owner1,
		  "{\"username\":\"bob\",\"password_hash\":\"x\"}",
		  400,
		  "ValidationError" },
		{ &exm_who_owner1,
		  "{\"username\":\"bad name\",\"password\":\"s3cret-plain\"}",
		  400,
		  "ValidationError" },
	};

	if (a->f == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *body = NULL;
		g_autoptr(ExmReply) r = NULL;
		GString *b = g_string_new(cases[i].body);

		g_string_replace(b, "@HASH@", EXM_HASH6, 0);
		g_string_replace(b, "@OTHER@", a->i2, 0);
		body = g_string_free(b, FALSE);
		r = exm_fixture_call(a->f, NULL, cases[i].who, "POST", a->coll, NULL, body);
		exm_assert_error(r, cases[i].status, cases[i].type);
	}
	g_assert_cmpint(exm_fixture_count(a->f, "mail_accounts"), ==, 0);
	g_assert_true(exm_fixture_logs_lack(a->f, "s3cret"));
}

/* The write-only password is hashed (yescrypt), never stored or echoed; a
 * hash is no filter and no sort key. */
static void
test_accounts_password(Accounts *a, gconstpointer data)
{
	g_autofree gchar *q = g_strdup_printf("password_hash=%s", EXM_HASH6);
	g_autofree gchar *h = NULL;
	g_autoptr(ExmReply) r = NULL;
	g_autoptr(ExmReply) f1 = NULL;
	g_autoptr(ExmReply) f2 = NULL;

	if (a->f == NULL)
		return;
	r = exm_fixture_call(a->f,
			     NULL,
			     &exm_who_owner1,
			     "POST",
			     a->coll,
			     NULL,
			     "{\"username\":\"carol\",\"password\":\"s3cret-plain\"}");
	exm_assert_status(r, 201);
	g_assert_null(strstr(r->body, "s3cret"));
	g_assert_false(exm_reply_has(r, "password_hash"));
	h = exm_fixture_scalar(a->f,
			       "SELECT password_hash FROM mail_accounts WHERE username = 'carol'");
	g_assert_true(g_str_has_prefix(h, "$y$"));
	test_accounts_password_update(a->f, a->coll);
	g_assert_true(exm_fixture_logs_lack(a->f, "s3cret"));

	f1 = exm_fixture_call(a->f, NULL, &exm_who_owner1, "GET", a->coll, q, NULL);
	exm_assert_error(f1, 400, "ValidationFilterIncompatibleError");
	f2 = exm_fixture_call(
		a->f, NULL, &exm_who_owner1, "GET", a->coll, "sort_key=password_hash", NULL);
	exm_assert_error(f2, 400, "ValidationError");
}

/* List and get never show the hash; another instance's URL finds nothing. */
static void
test_accounts_read(Accounts *a, gconstpointer data)
{
	g_autofree gchar *wrong = NULL;
	g_autoptr(ExmReply) list = NULL;
	g_autoptr(ExmReply) one = NULL;
	g_autoptr(ExmReply) other = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	list = exm_fixture_call(a->f, NULL, &exm_who_owner1, "GET", a->coll, NULL, NULL);
	exm_assert_status(list, 200);
	g_assert_cmpuint(exm_reply_len(list), ==, 1);
	g_assert_null(strstr(list->body, "password"));
	one = exm_fixture_call(a->f, NULL, &exm_who_owner1, "GET", a->apath, NULL, NULL);
	exm_assert_status(one, 200);
	g_assert_null(strstr(one->body, "password"));
	wrong = g_strdup_printf("instances/%s/accounts/%s", a->i2, a->acc);
	other = exm_fixture_call(a->f, NULL, &exm_who_owner1, "GET", wrong, NULL, NULL);
	exm_assert_error(other, 404, "RecordNotFound");
}

/* active and the hash change (and bump the instance); username and instance
 * are fixed. */
static void
test_accounts_update(Accounts *a, gconstpointer data)
{
	g_autofree gchar *body =
		g_strdup_printf("{\"active\":false,\"password_hash\":\"%s\"}", EXM_HASH6B);
	g_autofree gchar *fixed = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr(ExmReply) r = NULL;
	g_autoptr(ExmReply) r1 = NULL;
	g_autoptr(ExmReply) r2 = NULL;
	g_autoptr(ExmReply) r3 = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	before = instance_updated_at(a->f, a->i1);
	r = exm_fixture_call(a->f, NULL, &exm_who_owner1, "PATCH", a->apath, NULL, body);
	exm_assert_status(r, 200);
	g_assert_false(json_object_get_boolean_member(json_node_get_object(r->json), "active"));
	g_assert_false(exm_reply_has(r, "password_hash"));
	after = instance_updated_at(a->f, a->i1);
	g_assert_cmpstr(after, >, before);
	r1 = exm_fixture_call(
		a->f, NULL, &exm_who_owner1, "PUT", a->apath, NULL, "{\"username\":\"x\"}");
	exm_assert_error(r1, 403, "FieldPermissionError");
	fixed = g_strdup_printf("{\"instance\":\"%s\"}", a->iuri);
	r2 = exm_fixture_call(a->f, NULL, &exm_who_owner1, "PUT", a->apath, NULL, fixed);
	exm_assert_error(r2, 403, "FieldPermissionError");
	r3 = exm_fixture_call(
		a->f, NULL, &exm_who_owner1, "PUT", a->apath, NULL, "{\"active\":\"no\"}");
	exm_assert_error(r3, 400, "TypeError");
}

static void
test_accounts_delete(Accounts *a, gconstpointer data)
{
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr(ExmReply) r = NULL;
	g_autoptr(ExmReply) again = NULL;

	if (a->f == NULL)
		return;
	exm_reply_free(accounts_seed(a));
	before = instance_updated_at(a->f, a->i1);
	r = exm_fixture_call(a->f, NULL, &exm_who_owner1, "DELETE", a->apath, NULL, NULL);
	exm_assert_status(r, 204);
	after = instance_updated_at(a->f, a->i1);
	g_assert_cmpstr(after, >, before);
	again = exm_fixture_call(a->f, NULL, &exm_who_owner1, "DELETE", a->apath, NULL, NULL);
	exm_assert_error(again, 404, "RecordNotFound");
	g_assert_cmpint(exm_fixture_count(a->f, "mail_accounts"), ==, 0);
}

/* ------------------------------------------------------------------ IAM */

/* Per-test state of the IAM tests: an instance in P1 (owner) and one in P2
 * (created by an operator without project, which works across projects). */
typedef struct {
	ExmFixture *f;
	gchar *v1;
	gchar *i1;
	gchar *i2;
	gchar *p1;
	gchar *coll2;
} Iam;

static void
iam_setup(Iam *a, gconstpointer data)
{
	a->f = exm_fixture_new();
	if (a->f == NULL)
		return;
	a->v1 = exm_fixture_version(a->f, "exim4_1");
	a->i1 = exm_fixture_instance(a->f, &exm_who_owner1, NULL, a->v1, "m1");
	a->i2 = exm_fixture_instance(a->f, &exm_who_admin, EXM_P2, a->v1, "m2");
	a->p1 = g_strdup_printf("instances/%s", a->i1);
	a->coll2 = accounts_path(a->i2);
}

static void
iam_teardown(Iam *a, gconstpointer data)
{
	if (a->f != NULL)
		g_assert_cmpint(exm_fixture_count(a->f, "mail_instances"), ==, 2);
	exm_fixture_free(a->f);
	g_free(a->v1);
	g_free(a->i1);
	g_free(a->i2);
	g_free(a->p1);
	g_free(a->coll2);
}

/* The shared state under short names; not every test uses every name. */
#define IAM_LOCALS                                                                                 \
	G_GNUC_UNUSED ExmFixture *f = a->f;                                                        \
	G_GNUC_UNUSED const gchar *v1 = a->v1;                                                     \
	G_GNUC_UNUSED const gchar *p1 = a->p1;                                                     \
	G_GNUC_UNUSED const gchar *coll2 = a->coll2;                                               \
	G_GNUC_UNUSED g_autofree gchar *body = NULL;                                               \
	g_autoptr(ExmReply) r = NULL

static void
test_iam_lists(Iam *a, gconstpointer data)
{
	IAM_LOCALS;

	if (f == NULL)
		return;
	/* own project only in lists; ?project_id= of another is a 403 */
	assert_list_len(f, NULL, 1);
	r = exm_fixture_call(
		f, NULL, &exm_who_owner1, "GET", INSTANCES, "project_id=" EXM_P2, NULL);
	exm_assert_error(r, 403, "Forbidden");
	g_assert_cmpstr(exm_reply_str(r, "message"), ==, "The request you have made is forbidden.");
	g_clear_pointer(&r, exm_reply_free);
	assert_list_len(f, "project_id=" EXM_P1, 1);
	r = exm_fixture_call(f, NULL, &exm_who_admin, "GET", INSTANCES, NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpuint(exm_reply_len(r), ==, 2);
	g_clear_pointer(&r, exm_reply_free);
}

static void
test_iam_foreign_rows(Iam *a, gconstpointer data)
{
	IAM_LOCALS;

	if (f == NULL)
		return;
	/* other projects' rows are 404, not 403; so are their accounts */
	assert_call_error(f, &exm_who_owner2, "GET", p1, NULL, 404, "RecordNotFound");
	assert_call_error(f, &exm_who_owner2, "PUT", p1, "{\"cpu\":3}", 404, "RecordNotFound");
	assert_call_error(f, &exm_who_owner2, "DELETE", p1, NULL, 404, "RecordNotFound");
	assert_call_error(f, &exm_who_owner1, "GET", coll2, NULL, 404, "RecordNotFound");
	body = g_strdup_printf("{\"username\":\"eve\",\"password_hash\":\"%s\"}", EXM_HASH6);
	assert_call_error(f, &exm_who_owner1, "POST", coll2, body, 404, "RecordNotFound");
}

static void
test_iam_foreign_project(Iam *a, gconstpointer data)
{
	IAM_LOCALS;

	if (f == NULL)
		return;
	{
		/* a host may hand over the project in upper case: same project */
		const ExmWho upper = { "4D657461-0000-0000-0000-000000000002",
				       exm_who_owner1.perms,
				       FALSE };
		g_autofree gchar *b = g_strdup_printf("{\"project_id\":\"%s\"}", EXM_P1);
		r = exm_fixture_call(f, NULL, &upper, "PUT", p1, NULL, b);
		exm_assert_status(r, 200);
		g_clear_pointer(&r, exm_reply_free);
	}
	/* a foreign project_id in a body is a 403 */
	body = (g_free(body),
		g_strdup_printf("{\"name\":\"m3\",\"project_id\":\"" EXM_P2
				"\",\"domain\":\"a.example\",\"cpu\":1,\"ram\":512,\"disk_size\":8,"
				"\"version\":\"/v1/types/mail/versions/%s\"}",
				v1));
	assert_call_error(f, &exm_who_owner1, "POST", INSTANCES, body, 403, "Forbidden");
	assert_call_error(
		f, &exm_who_owner1, "PUT", p1, "{\"project_id\":\"" EXM_P2 "\"}", 403, "Forbidden");
	/* an operator may not move an instance either */
	assert_call_error(f,
			  &exm_who_admin,
			  "PUT",
			  p1,
			  "{\"project_id\":\"" EXM_P2 "\"}",
			  400,
			  "ReadOnlyProperty");
}

static void
test_iam_wildcards(Iam *a, gconstpointer data)
{
	IAM_LOCALS;

	if (f == NULL)
		return;
	/* wildcards */
	r = exm_fixture_call(f, NULL, &exm_who_wild1, "PUT", p1, NULL, "{\"cpu\":3}");
	exm_assert_status(r, 200);
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_readonly1, "GET", p1, NULL, NULL);
	exm_assert_status(r, 200);
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_readonly1, "PUT", p1, NULL, "{\"cpu\":2}");
	exm_assert_error(r, 403, "PolicyNotAuthorized");
	g_assert_cmpstr(exm_reply_str(r, "message"),
			==,
			"Policy rule exordos_mail.mail_instance.update is disallowed.");
	g_clear_pointer(&r, exm_reply_free);

	/* missing the version read permission: creating an instance needs it */
	{
		static const gchar *const perms[] = { "exordos_mail.mail_instance.*", NULL };
		const ExmWho who = { EXM_P1, perms, FALSE };
		body = (g_free(body),
			g_strdup_printf(
				"{\"name\":\"m3\",\"domain\":\"a.example\",\"cpu\":1,\"ram\":"
				"512,\"disk_size\":8,\"version\":\"/v1/types/mail/versions/%s\"}",
				v1));
		r = exm_fixture_call(f, NULL, &who, "POST", INSTANCES, NULL, body);
		exm_assert_error(r, 403, "PolicyNotAuthorized");
		g_assert_cmpstr(exm_reply_str(r, "message"),
				==,
				"Policy rule exordos_mail.mail_version.read is disallowed.");
		g_clear_pointer(&r, exm_reply_free);
	}
	/* gcl_iam's shadowing quirk: a later `*` resource hides the specific one */
	{
		static const gchar *const perms[] = { "exordos_mail.mail_instance.update",
						      "exordos_mail.*.read",
						      NULL };
		const ExmWho who = { EXM_P1, perms, FALSE };
		r = exm_fixture_call(f, NULL, &who, "PUT", p1, NULL, "{\"cpu\":2}");
		exm_assert_error(r, 403, "PolicyNotAuthorized");
		g_clear_pointer(&r, exm_reply_free);
	}
}

static void
test_iam_anonymous(Iam *a, gconstpointer data)
{
	IAM_LOCALS;

	if (f == NULL)
		return;
	/* anonymous: 403 everywhere but the index; malformed body still 400 first */
	r = exm_fixture_call(f, NULL, &exm_who_anon, "GET", INSTANCES, NULL, NULL);
	exm_assert_error(r, 403, "PolicyNotAuthorized");
	g_assert_cmpstr(exm_reply_str(r, "message"),
			==,
			"Policy rule exordos_mail.mail_instance.read is disallowed.");
	g_clear_pointer(&r, exm_reply_free);
	assert_call_error(f, &exm_who_anon, "GET", p1, NULL, 403, "PolicyNotAuthorized");
	assert_call_error(f, &exm_who_anon, "POST", INSTANCES, "{bad", 400, "ParseBodyError");
}

/* ------------------------------------------------------------------ lists */

/* Per-test state of the list tests: five instances m0..m4 over two versions. */
typedef struct {
	ExmFixture *f;
	gchar *v2;
} Lists;

static void
lists_setup(Lists *a, gconstpointer data)
{
	g_autofree gchar *v1 = NULL;

	a->f = exm_fixture_new();
	if (a->f == NULL)
		return;
	v1 = exm_fixture_version(a->f, "exim4_1");
	a->v2 = exm_fixture_version(a->f, "exim4_2");
	for (guint i = 0; i < 5; i++) {
		g_autofree gchar *name = g_strdup_printf("m%u", i);
		g_free(exm_fixture_instance(a->f, &exm_who_owner1, NULL, i < 2 ? v1 : a->v2, name));
	}
}

static void
lists_teardown(Lists *a, gconstpointer data)
{
	exm_fixture_free(a->f);
	g_free(a->v2);
}

static void
test_lists_filters(Lists *a, gconstpointer data)
{
	static const struct {
		const gchar *query;
		const gchar *type;
	} bad[] = {
		{ "cpu=x", "ParseError" },
		{ "bogus=1", "ValidationFilterIncompatibleError" },
		{ "sort_key=name&sort_dir=up", "ValidationSortInvalidDirValueError" },
		{ "sort_key=name&sort_key=cpu", "ValidationSortNumberError" },
		{ "page_limit=-1", "ParseError" },
		{ "page_marker=zz", "ParseError" },
	};
	ExmFixture *f = a->f;
	const gchar *v2 = a->v2;
	g_autofree gchar *q = NULL;

	if (f == NULL)
		return;
	assert_list_len(f, "name=m1&name=m3", 2);
	q = g_strdup_printf("version=/v1/types/mail/versions/%s", v2);
	assert_list_len(f, q, 3);
	g_free(q);
	q = g_strdup_printf("version=%s", v2);
	assert_list_error(f, q, 404, "LocatorNotFound");
	assert_list_len(f, "cpu=2&status=NEW", 5);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_list_error(f, bad[i].query, 400, bad[i].type);
}

static void
test_lists_pages(Lists *a, gconstpointer data)
{
	ExmFixture *f = a->f;
	g_autofree gchar *marker = NULL;
	g_autofree gchar *q = NULL;
	g_autoptr(ExmReply) r = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	if (f == NULL)
		return;
	/* sorted by name descending */
	r = exm_fixture_call(f,
			     NULL,
			     &exm_who_owner1,
			     "GET",
			     INSTANCES,
			     "sort_key=name&sort_dir=DESC&fields=name",
			     NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(r->body,
			==,
			"[{\"name\":\"m4\"},{\"name\":\"m3\"},{\"name\":\"m2\"},{\"name\":\"m1\"},{"
			"\"name\":\"m0\"}]");
	g_clear_pointer(&r, exm_reply_free);

	/* marker pagination by name: 2 + 2 + 1, every row once */
	for (guint page = 0; page < 3; page++) {
		g_free(q);
		q = marker != NULL
			    ? g_strdup_printf("page_limit=2&sort_key=name&page_marker=%s", marker)
			    : g_strdup("page_limit=2&sort_key=name");
		r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", INSTANCES, q, NULL);
		exm_assert_status(r, 200);
		g_assert_cmpstr(exm_reply_header(r, "X-Pagination-Limit"), ==, "2");
		g_assert_cmpuint(exm_reply_len(r), ==, page < 2 ? 2 : 1);
		for (guint i = 0; i < exm_reply_len(r); i++) {
			JsonObject *o =
				json_array_get_object_element(json_node_get_array(r->json), i);
			g_assert_true(g_hash_table_add(
				seen, g_strdup(json_object_get_string_member(o, "name"))));
		}
		g_free(marker);
		marker = g_strdup(exm_reply_header(r, "X-Pagination-Marker"));
		if (page < 2)
			g_assert_nonnull(marker);
		else
			g_assert_null(marker);
		g_clear_pointer(&r, exm_reply_free);
	}
	g_assert_cmpuint(g_hash_table_size(seen), ==, 5);

	/* with a sort key the marker must be a listed row; without, it is a bound */
	assert_list_error(
		f,
		"page_limit=2&sort_key=name&page_marker=00000000-0000-0000-0000-000000000000",
		404,
		"RecordNotFound");

	/* uuid order pagination without sort key */
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", INSTANCES, "page_limit=5", NULL);
	exm_assert_status(r, 200);
	g_assert_nonnull(exm_reply_header(r, "X-Pagination-Marker"));
	g_free(q);
	q = g_strdup_printf("page_limit=5&page_marker=%s",
			    exm_reply_header(r, "X-Pagination-Marker"));
	g_clear_pointer(&r, exm_reply_free);
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", INSTANCES, q, NULL);
	exm_assert_status(r, 200);
	g_assert_cmpstr(r->body, ==, "[]");
	g_assert_null(exm_reply_header(r, "X-Pagination-Marker"));
}

/* ------------------------------------------------------------------ hostile input */

/* A fresh database with one instance; *@snapshot is its updated_at. */
static ExmFixture *
hostile_setup(gchar **instance, gchar **snapshot)
{
	ExmFixture *f = exm_fixture_new();
	g_autofree gchar *v1 = NULL;

	if (f == NULL)
		return NULL;
	v1 = exm_fixture_version(f, "exim4_1");
	*instance = exm_fixture_instance(f, &exm_who_owner1, NULL, v1, "m1");
	*snapshot = exm_fixture_scalar(f, "SELECT updated_at::text FROM mail_instances");
	return f;
}

/* Nothing was written by any of it: no account, the instance untouched. */
static void
hostile_nothing_written(ExmFixture *f, const gchar *snapshot)
{
	g_autofree gchar *now =
		exm_fixture_scalar(f, "SELECT updated_at::text FROM mail_instances");

	g_assert_cmpint(exm_fixture_count(f, "mail_accounts"), ==, 0);
	g_assert_cmpstr(now, ==, snapshot);
}

static void
test_hostile_bodies(void)
{
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *snapshot = NULL;
	g_autoptr(ExmFixture) f = hostile_setup(&i1, &snapshot);
	g_autofree gchar *coll = NULL;
	const gchar *const bodies[] = {
		"",
		"{",
		"[1,2]",
		"null",
		"\"s\"",
		"{'name':'x'}",
		"{\"username\":\"a\\u0000b\"}",
		"{\"username\":\"bob\",\"password_hash\":\"x\"} trailing",
		"{\"cpu\":1e400}",
		"{\"cpu\":99999999999999999999}",
		"{\"cpu\":NaN}",
		"{\"cpu\":Infinity}",
		"{\"username\":\"\\u0000\"}",
		"{\"username\":\"\\ud800\"}",
	};

	if (f == NULL)
		return;
	coll = accounts_path(i1);
	for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
		g_autoptr(ExmReply) r =
			exm_fixture_call(f, NULL, &exm_who_owner1, "POST", coll, NULL, bodies[i]);
		g_test_message("body %u: %u %s", i, r->status, r->body);
		exm_assert_error(r, 400, "ParseBodyError");
	}
	{
		/* raw NUL and invalid UTF-8 inside the given length */
		const gchar nul[] = "{\"username\":\"a\0b\"}";
		const gchar bad[] = "{\"username\":\"\xff\xfe\"}";
		g_autoptr(ExmReply) r1 = exm_fixture_call_len(
			f, NULL, &exm_who_owner1, "POST", coll, NULL, nul, sizeof(nul) - 1, NULL);
		g_autoptr(ExmReply) r2 = exm_fixture_call_len(
			f, NULL, &exm_who_owner1, "POST", coll, NULL, bad, sizeof(bad) - 1, NULL);
		g_autoptr(ExmReply) r3 = exm_fixture_call_len(
			f, NULL, &exm_who_owner1, "POST", coll, NULL, "{}", 2, "text/plain");
		exm_assert_error(r1, 400, "ParseBodyError");
		exm_assert_error(r2, 400, "ParseBodyError");
		exm_assert_error(r3, 400, "ParseBodyError");
	}
	hostile_nothing_written(f, snapshot);
}

static void
test_hostile_types(void)
{
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *snapshot = NULL;
	g_autoptr(ExmFixture) f = hostile_setup(&i1, &snapshot);
	g_autofree gchar *coll = NULL;
	g_autofree gchar *ipath = NULL;
	const gchar *const typed[] = {
		"{\"username\":123,\"password_hash\":\"" EXM_HASH6 "\"}",
		"{\"username\":[\"a\"],\"password_hash\":\"" EXM_HASH6 "\"}",
		"{\"username\":\"bob\",\"password_hash\":{}}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6 "\",\"active\":1}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6 "\",\"bogus\":1}",
		"{\"username\":null,\"password_hash\":\"" EXM_HASH6 "\"}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6 "\",\"uuid\":\"nope\"}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6
		"\",\"created_at\":\"yesterday\"}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6 "\",\"name\":1.5}",
		"{\"username\":\"bob\",\"password_hash\":\"" EXM_HASH6 "\",\"instance\":\"/x/y\"}",
		"{\"username\":\"bob\\nroot\",\"password_hash\":\"" EXM_HASH6 "\"}",
		"{\"username\":\"bob:x\",\"password_hash\":\"" EXM_HASH6 "\"}",
	};

	if (f == NULL)
		return;
	coll = accounts_path(i1);
	ipath = g_strdup_printf("instances/%s", i1);
	for (guint i = 0; i < G_N_ELEMENTS(typed); i++) {
		g_autoptr(ExmReply) r =
			exm_fixture_call(f, NULL, &exm_who_owner1, "POST", coll, NULL, typed[i]);
		g_test_message("typed %u: %u %s", i, r->status, r->body);
		g_assert_cmpuint(r->status, >=, 400);
		g_assert_cmpuint(r->status, <, 500);
	}
	{
		g_autoptr(ExmReply) r = exm_fixture_call(
			f, NULL, &exm_who_owner1, "PUT", ipath, NULL, "{\"cpu\":1e400}");
		exm_assert_error(r, 400, "ParseBodyError");
	}
	{
		g_autoptr(ExmReply) r = exm_fixture_call(f,
							 NULL,
							 &exm_who_owner1,
							 "PUT",
							 ipath,
							 NULL,
							 "{\"ram\":9223372036854775807}");
		g_assert_cmpuint(r->status, ==, 400);
	}
	{
		g_autoptr(ExmReply) r = exm_fixture_call(
			f, NULL, &exm_who_owner1, "PUT", ipath, NULL, "{\"ram\":2147483648}");
		g_assert_cmpuint(r->status, ==, 400);
	}

	hostile_nothing_written(f, snapshot);
}

static void
test_hostile_routes(void)
{
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *snapshot = NULL;
	g_autoptr(ExmFixture) f = hostile_setup(&i1, &snapshot);

	if (f == NULL)
		return;
	/* routes and methods */
	{
		const struct {
			const gchar *method;
			const gchar *path;
			guint status;
			const gchar *type;
		} routes[] = {
			{ "GET", "instances/not-a-uuid", 400, "ParseError" },
			{ "GET",
			  "instances/{12345678-1234-1234-1234-1234567890ZZ}",
			  400,
			  "ParseError" },
			{ "GET",
			  "instances/00000000-0000-0000-0000-000000000000",
			  404,
			  "RecordNotFound" },
			{ "GET",
			  "instances/00000000-0000-0000-0000-000000000000/accounts/",
			  404,
			  "RecordNotFound" },
			{ "GET",
			  "versions/00000000-0000-0000-0000-000000000000/",
			  404,
			  "RecordNotFound" },
			{ "GET", "bogus", 405, "UnsupportedHttpMethod" },
			{ "POST", "instances", 405, "UnsupportedHttpMethod" },
			{ "HEAD", "instances/", 405, "UnsupportedHttpMethod" },
			{ "OPTIONS", "instances/", 405, "UnsupportedHttpMethod" },
			{ "PUT", "instances/", 405, "UnsupportedHttpMethod" },
			{ "DELETE", "instances/", 405, "UnsupportedHttpMethod" },
			{ "POST",
			  "versions/00000000-0000-0000-0000-000000000000",
			  405,
			  "UnsupportedHttpMethod" },
			{ "GET", "accounts/", 501, "NotImplementedError" },
			{ "PATCH", "instances/", 405, "UnsupportedHttpMethod" },
		};
		for (guint i = 0; i < G_N_ELEMENTS(routes); i++) {
			g_autoptr(ExmReply) r = exm_fixture_call(f,
								 NULL,
								 &exm_who_owner1,
								 routes[i].method,
								 routes[i].path,
								 NULL,
								 NULL);
			g_test_message("%s %s: %u %s",
				       routes[i].method,
				       routes[i].path,
				       r->status,
				       r->body);
			exm_assert_error(r, routes[i].status, routes[i].type);
		}
	}
	hostile_nothing_written(f, snapshot);
}

static void
test_hostile_ids(void)
{
	g_autofree gchar *i1 = NULL;
	g_autofree gchar *snapshot = NULL;
	g_autoptr(ExmFixture) f = hostile_setup(&i1, &snapshot);

	if (f == NULL)
		return;
	{
		/* instance of the URL loaded first, then the route error */
		g_autofree gchar *p = g_strdup_printf("instances/%s/bogus/", i1);
		g_autofree gchar *p2 = g_strdup_printf("instances/%s/accounts", i1);
		g_autofree gchar *p3 = g_strdup_printf("instances/%s/", i1);
		g_autoptr(ExmReply) r =
			exm_fixture_call(f, NULL, &exm_who_owner1, "GET", p, NULL, NULL);
		g_autoptr(ExmReply) r2 =
			exm_fixture_call(f, NULL, &exm_who_owner1, "GET", p2, NULL, NULL);
		g_autoptr(ExmReply) r3 =
			exm_fixture_call(f, NULL, &exm_who_owner1, "GET", p3, NULL, NULL);
		exm_assert_error(r, 404, "RecordNotFound");
		g_assert_cmpstr(
			exm_reply_str(r, "message"),
			==,
			"Route <class 'exordos_mail.controlplane.api.routes.MailInstanceRoute'> "
			"doesn't have method bogus.");
		exm_assert_error(r2, 400, "ParseError");
		g_assert_cmpstr(exm_reply_str(r2, "message"), ==, "Can't parse value: uuid=None.");
		exm_assert_error(r3, 404, "RecordNotFound");
	}
	{
		/* runs of slashes collapse like WebOb's path_info_pop() */
		g_autoptr(ExmReply) r = exm_fixture_call(
			f, NULL, &exm_who_owner1, "GET", "//instances/", NULL, NULL);
		exm_assert_status(r, 200);
	}
	{
		/* Python-uuid leniency: upper case, no hyphens, braces, urn */
		g_autofree gchar *up = g_ascii_strup(i1, -1);
		g_autofree gchar *p = g_strdup_printf("instances/{%s}", up);
		g_autofree gchar *p2 = g_strdup_printf("instances/urn:uuid:%s", i1);
		g_autoptr(ExmReply) r =
			exm_fixture_call(f, NULL, &exm_who_owner1, "GET", p, NULL, NULL);
		g_autoptr(ExmReply) r2 =
			exm_fixture_call(f, NULL, &exm_who_owner1, "GET", p2, NULL, NULL);
		exm_assert_status(r, 200);
		g_assert_cmpstr(exm_reply_str(r, "uuid"), ==, i1);
		exm_assert_status(r2, 200);
	}

	hostile_nothing_written(f, snapshot);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/descriptor", test_descriptor);
	g_test_add_func("/plugin/init-refuses-other-abi", test_init_refuses_other_abi);
	g_test_add_func("/plugin/index", test_index);
#define VERSIONS_TEST(path, fn)                                                                    \
	g_test_add(path, Versions, NULL, versions_setup, fn, versions_teardown)
	VERSIONS_TEST("/plugin/versions/create", test_versions_create);
	VERSIONS_TEST("/plugin/versions/policy", test_versions_policy);
	VERSIONS_TEST("/plugin/versions/escaping", test_versions_escaping);
	VERSIONS_TEST("/plugin/versions/update", test_versions_update);
	VERSIONS_TEST("/plugin/versions/delete", test_versions_delete);
#define INSTANCES_TEST(path, fn)                                                                   \
	g_test_add(path, Instances, NULL, instances_setup, fn, instances_teardown)
	INSTANCES_TEST("/plugin/instances/create", test_instances_create);
	INSTANCES_TEST("/plugin/instances/update", test_instances_update);
	INSTANCES_TEST("/plugin/instances/fixed", test_instances_fixed);
	INSTANCES_TEST("/plugin/instances/create-rejects", test_instances_create_rejects);
	g_test_add_func("/plugin/instance-delete-cascades", test_instance_delete_cascades);
#define ACCOUNTS_TEST(path, fn)                                                                    \
	g_test_add(path, Accounts, NULL, accounts_setup, fn, accounts_teardown)
	ACCOUNTS_TEST("/plugin/accounts/create", test_accounts_create);
	ACCOUNTS_TEST("/plugin/accounts/case", test_accounts_case);
	ACCOUNTS_TEST("/plugin/accounts/rejects", test_accounts_rejects);
	ACCOUNTS_TEST("/plugin/accounts/password", test_accounts_password);
	ACCOUNTS_TEST("/plugin/accounts/read", test_accounts_read);
	ACCOUNTS_TEST("/plugin/accounts/update", test_accounts_update);
	ACCOUNTS_TEST("/plugin/accounts/delete", test_accounts_delete);
#define IAM_TEST(path, fn) g_test_add(path, Iam, NULL, iam_setup, fn, iam_teardown)
	IAM_TEST("/plugin/iam/lists", test_iam_lists);
	IAM_TEST("/plugin/iam/foreign-rows", test_iam_foreign_rows);
	IAM_TEST("/plugin/iam/foreign-project", test_iam_foreign_project);
	IAM_TEST("/plugin/iam/wildcards", test_iam_wildcards);
	IAM_TEST("/plugin/iam/anonymous", test_iam_anonymous);
	g_test_add("/plugin/lists/filters",
		   Lists,
		   NULL,
		   lists_setup,
		   test_lists_filters,
		   lists_teardown);
	g_test_add(
		"/plugin/lists/pages", Lists, NULL, lists_setup, test_lists_pages, lists_teardown);
	g_test_add_func("/plugin/hostile/bodies", test_hostile_bodies);
	g_test_add_func("/plugin/hostile/types", test_hostile_types);
	g_test_add_func("/plugin/hostile/routes", test_hostile_routes);
	g_test_add_func("/plugin/hostile/ids", test_hostile_ids);
	return g_test_run();
}
