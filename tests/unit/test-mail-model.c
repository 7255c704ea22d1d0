/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail models: defaults and statuses (reference/upstream-mail.md §5.2), field
 * rules of whole records, the strict `mail_instance_node` codec the agent relies
 * on, and the API JSON byte for byte against reference/rest-conventions.md §5/§11.
 */
#include <string.h>

#include "exm-json.h"
#include "exm-mail.h"
#include "exm-test.h"

#define UUID_I "84fe6e92-5b3c-4a1b-a124-de76b7b6c788"
#define UUID_V "1eb7fe59-2c45-478c-992a-d44f0e7a0dc2"
#define UUID_P "11111111-2222-3333-4444-555555555555"
#define UUID_A "587717c1-0000-4000-8000-000000000001"
/* A real `$6$` hash of "hunter2" made with libxcrypt. */
#define HASH_A                                                                                     \
	"$6$xNAW4QpoaCGQBXdf$6eKv4cyfwyXPWpgVWmTN7gVBU.8PXwV7cUi6UFBOR7N7.FrYwzPnd3mVtwdiESqe0U"   \
	"KjcDj3NcZ9z/HcLokwH0"

static gint64
usec_of(const gchar *iso)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(iso, NULL);

	g_assert_nonnull(dt);
	return g_date_time_to_unix(dt) * G_USEC_PER_SEC + g_date_time_get_microsecond(dt);
}

static gchar *
to_text(JsonNode *node)
{
	return exm_json_to_string(node);
}

static JsonNode *
parse(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	JsonNode *n = exm_json_parse_strict(text, strlen(text), &error);

	g_assert_no_error(error);
	return n;
}

/* ---- statuses and defaults (upstream test_models.py) ------------------------------- */

static void
test_status(void)
{
	const gchar *names[] = { "NEW", "IN_PROGRESS", "ACTIVE", "ERROR" };
	const gchar *bad[] = { "new", "", "DONE", "ACTIVE ", NULL };

	for (guint s = 0; s < G_N_ELEMENTS(names); s++) {
		ExmMailStatus st = EXM_MAIL_STATUS_ERROR;

		g_assert_cmpstr(exm_mail_status_to_string((ExmMailStatus)s), ==, names[s]);
		g_assert_true(exm_mail_status_from_string(names[s], &st, NULL));
		g_assert_cmpint(st, ==, (ExmMailStatus)s);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		ExmMailStatus st = EXM_MAIL_STATUS_ACTIVE;

		g_assert_false(exm_mail_status_from_string(bad[i], &st, &error));
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		g_assert_cmpint(st, ==, EXM_MAIL_STATUS_ACTIVE);
	}
	g_assert_cmpstr(exm_mail_status_to_string((ExmMailStatus)42), ==, "ERROR");
}

static void
test_defaults(void)
{
	g_autoptr(ExmMailInstance) i = exm_mail_instance_new();
	g_autoptr(ExmMailAccount) a = exm_mail_account_new();
	g_autoptr(ExmMailVersion) v = exm_mail_version_new();
	g_autoptr(ExmMailNode) n = exm_mail_node_new();

	g_assert_cmpint(i->status, ==, EXM_MAIL_STATUS_NEW);
	g_assert_cmpuint(i->ipsv4->len, ==, 0);
	g_assert_cmpstr(i->dkim_public_key, ==, "");
	g_assert_cmpstr(i->dkim_selector, ==, "");
	g_assert_true(a->active);
	g_assert_null(v->image);
	g_assert_cmpuint(n->accounts->len, ==, 0);
	/* free functions take NULL */
	exm_mail_instance_free(NULL);
	exm_mail_account_free(NULL);
	exm_mail_version_free(NULL);
	exm_mail_node_free(NULL);
}

/* §5.2 cases 5-7 for V6 semantics: plaintext becomes a $6$ hash that verifies,
 * a crypt hash is kept verbatim, re-sending the same password keeps the hash. */
static void
test_password_derivation(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hash = exm_mail_hash_password("s3cret", EXM_MAIL_HASH_SHA512, &error);
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	const ExmMailNodeAccount *a;

	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(hash, "$6$"));
	g_assert_true(exm_mail_verify_password("s3cret", hash));
	g_assert_true(exm_mail_node_add_account(n, "smtp", "{SHA512-CRYPT}" HASH_A, TRUE, NULL));
	a = g_ptr_array_index(n->accounts, 0);
	g_assert_cmpstr(a->password_hash, ==, "{SHA512-CRYPT}" HASH_A);
	g_assert_true(exm_mail_verify_password("hunter2", a->password_hash));
	g_assert_false(exm_mail_verify_password("hunter3", a->password_hash));
}

/* ---- record rules -------------------------------------------------------------------- */

static ExmMailInstance *
good_instance(void)
{
	ExmMailInstance *i = exm_mail_instance_new();

	i->uuid = g_strdup(UUID_I);
	i->name = g_strdup("m1");
	i->description = g_strdup("");
	i->project_id = g_strdup(UUID_P);
	i->domain = g_strdup("ex.com");
	i->cpu = 1;
	i->ram = 1024;
	i->disk_size = 10;
	i->version = g_strdup(UUID_V);
	return i;
}

typedef struct {
	const gchar *field;
	void (*spoil)(ExmMailInstance *i);
} InstanceSpoiler;

static void
spoil_uuid(ExmMailInstance *i)
{
	g_free(i->uuid);
	i->uuid = g_strdup("84FE6E92-5B3C-4A1B-A124-DE76B7B6C788");
}

static void
spoil_name(ExmMailInstance *i)
{
	g_free(i->name);
	i->name = g_strdup("");
}

static void
spoil_project(ExmMailInstance *i)
{
	g_clear_pointer(&i->project_id, g_free);
}

static void
spoil_domain(ExmMailInstance *i)
{
	g_free(i->domain);
	i->domain = g_strdup("Ex.com");
}

static void
spoil_domain_null(ExmMailInstance *i)
{
	g_clear_pointer(&i->domain, g_free);
}

static void
spoil_status(ExmMailInstance *i)
{
	i->status = (ExmMailStatus)9;
}

static void
spoil_ip(ExmMailInstance *i)
{
	g_ptr_array_add(i->ipsv4, g_strdup("192.0.2.1"));
	g_ptr_array_add(i->ipsv4, g_strdup("192.0.2.256"));
}

static void
spoil_cpu(ExmMailInstance *i)
{
	i->cpu = 129;
}

static void
spoil_ram(ExmMailInstance *i)
{
	i->ram = 511;
}

static void
spoil_disk(ExmMailInstance *i)
{
	i->disk_size = 7;
}

static void
spoil_version(ExmMailInstance *i)
{
	g_free(i->version);
	i->version = g_strdup("exim4_1");
}

static void
spoil_dkim_key(ExmMailInstance *i)
{
	g_free(i->dkim_public_key);
	i->dkim_public_key = g_strdup("v=DKIM1; p=A\nB");
}

static void
spoil_dkim_key_long(ExmMailInstance *i)
{
	g_free(i->dkim_public_key);
	i->dkim_public_key = g_strnfill(4097, 'k');
}

static void
spoil_selector(ExmMailInstance *i)
{
	g_free(i->dkim_selector);
	i->dkim_selector = g_strdup("a.b");
}

static void
test_instance_validate(void)
{
	const InstanceSpoiler spoilers[] = {
		{ "uuid: ", spoil_uuid },
		{ "name: ", spoil_name },
		{ "project_id: ", spoil_project },
		{ "domain: ", spoil_domain },
		{ "domain: ", spoil_domain_null },
		{ "status: ", spoil_status },
		{ "ipsv4[1]: ipv4: ", spoil_ip },
		{ "cpu: ", spoil_cpu },
		{ "ram: ", spoil_ram },
		{ "disk_size: ", spoil_disk },
		{ "version: ", spoil_version },
		{ "dkim_public_key: ", spoil_dkim_key },
		{ "dkim_public_key: ", spoil_dkim_key_long },
		{ "dkim_selector: ", spoil_selector },
	};
	g_autoptr(ExmMailInstance) ok = good_instance();
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_mail_instance_validate(ok, &error));
	g_assert_no_error(error);
	/* the far edges pass too */
	ok->cpu = 128;
	ok->ram = 1073741824;
	ok->disk_size = 1073741824;
	g_clear_pointer(&ok->uuid, g_free); /* not assigned yet */
	g_free(ok->dkim_public_key);
	ok->dkim_public_key = g_strnfill(4096, 'k');
	g_free(ok->dkim_selector);
	ok->dkim_selector = g_strdup("platform");
	g_ptr_array_add(ok->ipsv4, g_strdup("192.0.2.1"));
	g_assert_true(exm_mail_instance_validate(ok, &error));
	g_assert_no_error(error);
	for (gsize k = 0; k < G_N_ELEMENTS(spoilers); k++) {
		g_autoptr(ExmMailInstance) i = good_instance();

		spoilers[k].spoil(i);
		g_assert_false(exm_mail_instance_validate(i, &error));
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		if (!g_str_has_prefix(error->message, spoilers[k].field))
			g_error("'%s' does not start with '%s'", error->message, spoilers[k].field);
		g_clear_error(&error);
	}
}

static ExmMailAccount *
good_account(void)
{
	ExmMailAccount *a = exm_mail_account_new();

	a->uuid = g_strdup(UUID_A);
	a->name = g_strdup("");
	a->project_id = g_strdup(UUID_P);
	a->instance = g_strdup(UUID_I);
	a->username = g_strdup("bob");
	a->password_hash = g_strdup(HASH_A);
	return a;
}

static void
test_account_validate(void)
{
	const struct {
		const gchar *field;
		const gchar *username;
		const gchar *hash;
		const gchar *instance;
		const gchar *name;
	} cases[] = {
		{ "username: ", "Bob", HASH_A, UUID_I, "" },
		{ "username: ", ".bob", HASH_A, UUID_I, "" },
		{ "username: ", NULL, HASH_A, UUID_I, "" },
		{ "password_hash: ", "bob", "$6$salt$hash", UUID_I, "" },
		{ "password_hash: ", "bob", NULL, UUID_I, "" },
		{ "instance: ", "bob", HASH_A, "not-a-uuid", "" },
		{ "instance: ", "bob", HASH_A, NULL, "" },
		{ "name: ", "bob", HASH_A, UUID_I, "a\nb" },
	};
	g_autoptr(ExmMailAccount) ok = good_account();
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_mail_account_validate(ok, &error));
	g_assert_no_error(error);
	g_clear_pointer(&ok->name, g_free); /* a nameless account is fine */
	g_assert_true(exm_mail_account_validate(ok, NULL));
	for (gsize k = 0; k < G_N_ELEMENTS(cases); k++) {
		g_autoptr(ExmMailAccount) a = good_account();

		g_free(a->username);
		a->username = g_strdup(cases[k].username);
		g_free(a->password_hash);
		a->password_hash = g_strdup(cases[k].hash);
		g_free(a->instance);
		a->instance = g_strdup(cases[k].instance);
		g_free(a->name);
		a->name = g_strdup(cases[k].name);
		g_assert_false(exm_mail_account_validate(a, &error));
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		if (!g_str_has_prefix(error->message, cases[k].field))
			g_error("'%s' does not start with '%s'", error->message, cases[k].field);
		g_clear_error(&error);
	}
}

/* ---- mail_instance_node ----------------------------------------------------------------- */

#define NODE_JSON                                                                                  \
	"{\"uuid\":\"" UUID_I "\",\"name\":\"m1\",\"domain\":\"Ex.com\",\"status\":\"ACTIVE\","    \
	"\"dkim_public_key\":\"v=DKIM1; p=AB\",\"dkim_selector\":\"platform\",\"accounts\":{"      \
	"\"zed\":{\"password_hash\":\"" HASH_A "\",\"active\":false},"                             \
	"\"Alice\":{\"password_hash\":\"{SHA512-CRYPT}" HASH_A "\",\"active\":true,\"x\":1},"      \
	"\"bob\":{\"password_hash\":\"" HASH_A "\"}}}"

static void
test_node_from_json(void)
{
	g_autoptr(JsonNode) json = parse(NODE_JSON);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(json, &error);
	const ExmMailNodeAccount *a;

	g_assert_no_error(error);
	g_assert_cmpstr(n->uuid, ==, UUID_I);
	g_assert_cmpstr(n->name, ==, "m1");
	g_assert_cmpstr(n->domain, ==, "ex.com");
	g_assert_cmpuint(n->accounts->len, ==, 3);
	a = g_ptr_array_index(n->accounts, 0);
	g_assert_cmpstr(a->username, ==, "alice");
	g_assert_cmpstr(a->password_hash, ==, "{SHA512-CRYPT}" HASH_A);
	g_assert_true(a->active);
	a = g_ptr_array_index(n->accounts, 1);
	g_assert_cmpstr(a->username, ==, "bob");
	g_assert_true(a->active); /* absent: the model default */
	a = g_ptr_array_index(n->accounts, 2);
	g_assert_cmpstr(a->username, ==, "zed");
	g_assert_false(a->active);
}

static void
test_node_to_json_exact(void)
{
	g_autoptr(JsonNode) json = parse(NODE_JSON);
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(json, NULL);
	g_autoptr(JsonNode) out = exm_mail_node_to_json(n);
	g_autofree gchar *text = to_text(out);
	g_autoptr(ExmMailNode) again = NULL;
	g_autoptr(JsonNode) out2 = NULL;
	g_autofree gchar *text2 = NULL;

	g_assert_cmpstr(text,
			==,
			"{\"uuid\":\"" UUID_I "\",\"name\":\"m1\",\"domain\":\"ex.com\","
			"\"accounts\":{"
			"\"alice\":{\"password_hash\":\"{SHA512-CRYPT}" HASH_A
			"\",\"active\":true},"
			"\"bob\":{\"password_hash\":\"" HASH_A "\",\"active\":true},"
			"\"zed\":{\"password_hash\":\"" HASH_A "\",\"active\":false}}}");
	/* a fixed point: decoding what we encode gives the same value */
	again = exm_mail_node_from_json(out, NULL);
	out2 = exm_mail_node_to_json(again);
	text2 = to_text(out2);
	g_assert_cmpstr(text2, ==, text);
}

/* Upstream G6: MailInstanceNode.name was 1..64 while instances allow 255. */
static void
test_node_long_name(void)
{
	g_autofree gchar *n255 = g_strnfill(255, 'n');
	g_autofree gchar *text = g_strdup_printf(
		"{\"uuid\":\"" UUID_I "\",\"name\":\"%s\",\"domain\":\"ex.com\",\"accounts\":{}}",
		n255);
	g_autoptr(JsonNode) json = parse(text);
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(json, NULL);

	g_assert_nonnull(n);
	g_assert_cmpuint(strlen(n->name), ==, 255);
}

static void
test_node_from_json_refuses(void)
{
	const struct {
		const gchar *json;
		const gchar *prefix;
	} cases[] = {
		{ "[]", "mail_instance_node: " },
		{ "\"x\"", "mail_instance_node: " },
		{ "{\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":{}}", "uuid: " },
		{ "{\"uuid\":\"nope\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":{}}",
		  "uuid: " },
		{ "{\"uuid\":1,\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":{}}", "uuid: " },
		{ "{\"uuid\":\"" UUID_I "\",\"domain\":\"ex.com\",\"accounts\":{}}", "name: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"\",\"domain\":\"ex.com\",\"accounts\":{}}",
		  "name: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":null,\"domain\":\"ex.com\",\"accounts\":{}}",
		  "name: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"accounts\":{}}", "domain: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com.\",\"accounts\":{}}",
		  "domain: " },
		{ "{\"uuid\":\"" UUID_I
		  "\",\"name\":\"m\",\"domain\":\"ex.com\\nX=1\",\"accounts\":{}}",
		  "domain: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\"}", "accounts: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":[]}",
		  "accounts: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":1}}",
		  "accounts.a: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{}}}",
		  "accounts.a.password_hash: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":5}}}",
		  "accounts.a.password_hash: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":\"$6$salt$hash\"}}}",
		  "accounts.a.password_hash: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":\"" HASH_A "\\nroot@ex.com:" HASH_A "\"}}}",
		  "accounts.a.password_hash: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":\"" HASH_A "\",\"active\":1}}}",
		  "accounts.a.active: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":\"" HASH_A "\",\"active\":\"true\"}}}",
		  "accounts.a.active: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\":{\"password_hash\":\"" HASH_A "\",\"active\":null}}}",
		  "accounts.a.active: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a b\":{\"password_hash\":\"" HASH_A "\"}}}",
		  "accounts: username: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"a\\nroot\":{\"password_hash\":\"" HASH_A "\"}}}",
		  "accounts: username: " },
		{ "{\"uuid\":\"" UUID_I "\",\"name\":\"m\",\"domain\":\"ex.com\",\"accounts\":"
		  "{\"alice\":{\"password_hash\":\"" HASH_A "\"},"
		  "\"ALICE\":{\"password_hash\":\"" HASH_A "\"}}}",
		  "accounts: " },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonNode) json = parse(cases[i].json);
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmMailNode) n = exm_mail_node_from_json(json, &error);

		if (n != NULL)
			g_error("accepted: %s", cases[i].json);
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		if (!g_str_has_prefix(error->message, cases[i].prefix))
			g_error("'%s' does not start with '%s'", error->message, cases[i].prefix);
	}
	{
		g_autoptr(GError) error = NULL;

		g_assert_null(exm_mail_node_from_json(NULL, &error));
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
	}
}

static void
test_node_add_account(void)
{
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	const gchar *order[] = { "m", "a", "z", "b.c", "b", "0" };
	const gchar *sorted[] = { "0", "a", "b", "b.c", "m", "z" };
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(order); i++)
		g_assert_true(exm_mail_node_add_account(n, order[i], HASH_A, TRUE, NULL));
	for (gsize i = 0; i < G_N_ELEMENTS(sorted); i++)
		g_assert_cmpstr(
			((ExmMailNodeAccount *)n->accounts->pdata[i])->username, ==, sorted[i]);
	g_assert_false(exm_mail_node_add_account(n, "M", HASH_A, FALSE, &error));
	g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
	g_assert_cmpuint(n->accounts->len, ==, G_N_ELEMENTS(order));
}

/* ---- API JSON -------------------------------------------------------------------------- */

static void
test_timestamp(void)
{
	const struct {
		gint64 usec;
		const gchar *text;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000000Z" },
		{ 1, "1970-01-01T00:00:00.000001Z" },
		{ -1, "1969-12-31T23:59:59.999999Z" },
		{ 999999, "1970-01-01T00:00:00.999999Z" },
		{ G_GINT64_CONSTANT(253402300799999999), "9999-12-31T23:59:59.999999Z" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *t = exm_mail_format_timestamp(cases[i].usec);

		g_assert_cmpstr(t, ==, cases[i].text);
	}
	{
		g_autofree gchar *t =
			exm_mail_format_timestamp(usec_of("2026-11-25T12:33:14.510407Z"));
		g_autofree gchar *far = exm_mail_format_timestamp(G_MAXINT64);

		g_assert_cmpstr(t, ==, "2026-11-25T12:33:14.510407Z");
		g_assert_null(far);
	}
}

/* reference/rest-conventions.md §11, the POST /versions/ response body */
static void
test_version_json(void)
{
	g_autoptr(ExmMailVersion) v = exm_mail_version_new();
	g_autoptr(JsonNode) json = NULL;
	g_autofree gchar *text = NULL;

	v->uuid = g_strdup("06c4431d-b6f7-4e1a-9858-866d2ee1caa0");
	v->name = g_strdup("v1");
	v->description = g_strdup("");
	v->image = g_strdup("img");
	v->created_at = usec_of("2026-11-25T12:33:14.510407Z");
	v->updated_at = usec_of("2026-11-25T12:33:14.510413Z");
	json = exm_mail_version_to_json(v);
	text = to_text(json);
	g_assert_cmpstr(text,
			==,
			"{\"uuid\":\"06c4431d-b6f7-4e1a-9858-866d2ee1caa0\",\"name\":\"v1\","
			"\"description\":\"\",\"created_at\":\"2026-11-25T12:33:14.510407Z\","
			"\"updated_at\":\"2026-11-25T12:33:14.510413Z\",\"image\":\"img\"}");
	/* null members are omitted, not rendered as null */
	g_clear_pointer(&v->image, g_free);
	g_clear_pointer(&v->description, g_free);
	{
		g_autoptr(JsonNode) j2 = exm_mail_version_to_json(v);
		g_autofree gchar *t2 = to_text(j2);

		g_assert_null(strstr(t2, "image"));
		g_assert_null(strstr(t2, "description"));
		g_assert_null(strstr(t2, "null"));
	}
}

/* reference/rest-conventions.md §5.4, the example instance object */
static void
test_instance_json(void)
{
	g_autoptr(ExmMailInstance) i = good_instance();
	g_autoptr(JsonNode) json = NULL;
	g_autofree gchar *text = NULL;
	const gchar *expect =
		"{\"uuid\":\"" UUID_I "\",\"name\":\"m1\",\"description\":\"\",\"project_id\":"
		"\"" UUID_P "\",\"created_at\":\"2026-11-25T12:33:49.706099Z\",\"updated_at\":"
		"\"2026-11-25T12:33:49.722003Z\",\"domain\":\"ex.com\",\"status\":\"NEW\","
		"\"ipsv4\":[],\"cpu\":4,\"ram\":1024,\"disk_size\":10,\"version\":"
		"\"/v1/types/mail/versions/" UUID_V "\",\"dkim_public_key\":\"\","
		"\"dkim_selector\":\"\"}";

	i->cpu = 4;
	i->created_at = usec_of("2026-11-25T12:33:49.706099Z");
	i->updated_at = usec_of("2026-11-25T12:33:49.722003Z");
	json = exm_mail_instance_to_json(i, "/v1/types/mail/");
	text = to_text(json);
	g_assert_cmpstr(text, ==, expect);
	{
		/* a prefix without its trailing slash still yields one slash */
		g_autoptr(JsonNode) j2 = exm_mail_instance_to_json(i, "/v1/types/mail");
		g_autofree gchar *t2 = to_text(j2);

		g_assert_cmpstr(t2, ==, expect);
	}
	g_ptr_array_add(i->ipsv4, g_strdup("192.0.2.10"));
	i->status = EXM_MAIL_STATUS_ACTIVE;
	{
		g_autoptr(JsonNode) j3 = exm_mail_instance_to_json(i, "/api/");
		g_autofree gchar *t3 = to_text(j3);

		g_assert_nonnull(strstr(t3, "\"status\":\"ACTIVE\",\"ipsv4\":[\"192.0.2.10\"]"));
		g_assert_nonnull(strstr(t3, "\"version\":\"/api/versions/" UUID_V "\""));
	}
}

/* reference/rest-conventions.md §11, the account object of GET (never password_hash) */
static void
test_account_json(void)
{
	g_autoptr(ExmMailAccount) a = good_account();
	g_autoptr(JsonNode) json = NULL;
	g_autofree gchar *text = NULL;

	a->description = g_strdup("");
	a->created_at = usec_of("2026-11-25T12:34:00.000001Z");
	a->updated_at = usec_of("2026-11-25T12:34:00.000002Z");
	json = exm_mail_account_to_json(a, "/v1/types/mail/");
	text = to_text(json);
	g_assert_cmpstr(text,
			==,
			"{\"uuid\":\"" UUID_A "\",\"name\":\"\",\"description\":\"\","
			"\"created_at\":\"2026-11-25T12:34:00.000001Z\",\"updated_at\":"
			"\"2026-11-25T12:34:00.000002Z\",\"project_id\":\"" UUID_P "\","
			"\"instance\":\"/v1/types/mail/instances/" UUID_I "\",\"username\":\"bob\","
			"\"active\":true}");
	g_assert_null(strstr(text, "password"));
	g_assert_null(strstr(text, "$6$"));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/mail/model/status", test_status);
	g_test_add_func("/mail/model/defaults", test_defaults);
	g_test_add_func("/mail/model/password-derivation", test_password_derivation);
	g_test_add_func("/mail/model/instance-validate", test_instance_validate);
	g_test_add_func("/mail/model/account-validate", test_account_validate);
	g_test_add_func("/mail/model/node-from-json", test_node_from_json);
	g_test_add_func("/mail/model/node-to-json-exact", test_node_to_json_exact);
	g_test_add_func("/mail/model/node-long-name", test_node_long_name);
	g_test_add_func("/mail/model/node-from-json-refuses", test_node_from_json_refuses);
	g_test_add_func("/mail/model/node-add-account", test_node_add_account);
	g_test_add_func("/mail/model/timestamp", test_timestamp);
	g_test_add_func("/mail/model/version-json", test_version_json);
	g_test_add_func("/mail/model/instance-json", test_instance_json);
	g_test_add_func("/mail/model/account-json", test_account_json);
	return g_test_run();
}
