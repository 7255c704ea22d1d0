/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The ACME settings (issue 22 item 2, docs/tls.md §6) through the plugin's
 * ABI on the throwaway cluster: acme_directory_url and acme_contact on the
 * version (operators) and as the instance's overrides, refused with a 400
 * naming the field when malformed; the paas builder puts the settings in
 * effect into the node value's `acme` member (the instance's, else the
 * version's) and leaves the member out without a directory; a change of the
 * version's settings moves its instances' updated_at, so the engine builds
 * them again, and the next pass carries the new directory.
 */
#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

#define PEBBLE "https://127.0.0.1:14000/dir"
#define OTHER  "https://acme.example.net/directory"

static gchar *
new_version(ExmFixture *f, const gchar *name)
{
	return exm_fixture_version(f, name);
}

/* The test's version and instance, with their paths. */
typedef struct {
	gchar *version;
	gchar *vpath;
	gchar *instance;
	gchar *ipath;
} Acme;

static void
acme_clear(Acme *a)
{
	g_free(a->version);
	g_free(a->vpath);
	g_free(a->instance);
	g_free(a->ipath);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Acme, acme_clear)

/* A version `v1` and an instance of it, owned by owner1. */
static void
acme_setup(ExmFixture *f, Acme *a)
{
	a->version = new_version(f, "v1");
	a->vpath = g_strdup_printf("versions/%s", a->version);
	a->instance = exm_fixture_instance(f, &exm_who_owner1, NULL, a->version, "mail-acme");
	a->ipath = g_strdup_printf("instances/%s", a->instance);
}

/* PATCH @path as @who with @body: the reply. */
static ExmReply *
patch(ExmFixture *f, const ExmWho *who, const gchar *path, const gchar *body)
{
	return exm_fixture_call(f, NULL, who, "PATCH", path, NULL, body);
}

/* A 400 ValidationError whose message names @field. */
static void
assert_refused(ExmFixture *f,
	       const ExmWho *who,
	       const gchar *path,
	       const gchar *body,
	       const gchar *field)
{
	g_autoptr(ExmReply) r = patch(f, who, path, body);

	exm_assert_error(r, 400, "ValidationError");
	g_test_message("%s -> %s", body, exm_reply_str(r, "message"));
	g_assert_nonnull(strstr(exm_reply_str(r, "message"), field));
}

/* The node value of one builder pass (its `acme` member or "-"), as the
 * engine stores it: canonical JSON, keys sorted. */
static gchar *
node_acme(ExmFixture *f, const gchar *instance)
{
	g_autofree gchar *node = NULL;
	g_autofree gchar *p = exm_fixture_paas_tick(f, instance, "tls", NULL, &node);
	g_autoptr(JsonNode) root = NULL;
	JsonNode *acme;

	g_assert_nonnull(node);
	root = json_from_string(node, NULL);
	g_assert_nonnull(root);
	acme = json_object_get_member(json_node_get_object(root), "acme");
	return acme != NULL ? json_to_string(acme, FALSE) : g_strdup("-");
}

static void
test_refuses(void)
{
	static const gchar *const bad_urls[] = {
		"\"http://127.0.0.1:14000/dir\"",
		"\"ftp://x.example/dir\"",
		"\"\"",
		"\"https://\"",
		"\"https:///dir\"",
		"\"https://user:pw@acme.example/dir\"",
		"\"https://acme.example/dir#frag\"",
		"\"https://acme.example/a b\"",
		"\"https://acme.example/\\u0001\"",
		"\"https://acme.example/\\u00e9\"",
		"\"127.0.0.1:14000/dir\"",
	};
	static const gchar *const bad_contacts[] = {
		"\"ops@example.com\"",
		"\"mailto:\"",
		"\"mailto:ops\"",
		"\"mailto:@example.com\"",
		"\"mailto:ops@localhost\"",
		"\"mailto:a..b@example.com\"",
		"\"mailto:ops@example.com?subject=x\"",
		"\"mailto:o%40p@example.com\"",
		"\"mailto:ops@exa mple.com\"",
		"\"mailto:ops@example.com\\n\"",
	};
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_auto(Acme) a = { 0 };
	g_autofree gchar *long_url = NULL;
	g_autofree gchar *body = NULL;
	g_autoptr(ExmReply) r = NULL;

	if (f == NULL)
		return;
	acme_setup(f, &a);
	for (gsize i = 0; i < G_N_ELEMENTS(bad_urls); i++) {
		g_autofree gchar *b = g_strdup_printf("{\"acme_directory_url\": %s}", bad_urls[i]);

		assert_refused(f, &exm_who_admin, a.vpath, b, "acme_directory_url");
		assert_refused(f, &exm_who_owner1, a.ipath, b, "acme_directory_url");
	}
	for (gsize i = 0; i < G_N_ELEMENTS(bad_contacts); i++) {
		g_autofree gchar *b = g_strdup_printf("{\"acme_contact\": %s}", bad_contacts[i]);

		assert_refused(f, &exm_who_admin, a.vpath, b, "acme_contact");
		assert_refused(f, &exm_who_owner1, a.ipath, b, "acme_contact");
	}
	/* 1024 bytes is the bound, taken; 1025 is refused */
	long_url = g_strdup_printf("https://acme.example/%s", "");
	body = g_strdup_printf("{\"acme_directory_url\": \"%s%0*d\"}",
			       long_url,
			       (int)(1024 - strlen(long_url)),
			       0);
	r = patch(f, &exm_who_admin, a.vpath, body);
	exm_assert_status(r, 200);
	g_assert_cmpuint(strlen(exm_reply_str(r, "acme_directory_url")), ==, 1024);
	g_clear_pointer(&r, exm_reply_free);
	g_clear_pointer(&body, g_free);
	body = g_strdup_printf("{\"acme_directory_url\": \"%s%0*d\"}",
			       long_url,
			       (int)(1025 - strlen(long_url)),
			       0);
	assert_refused(f, &exm_who_admin, a.vpath, body, "acme_directory_url");
	/* a type error is the toolkit's */
	r = patch(f, &exm_who_admin, a.vpath, "{\"acme_contact\": 5}");
	g_assert_cmpuint(r->status, ==, 400);
	g_clear_pointer(&r, exm_reply_free);
	/* versions stay the operators': the tenant may not set the defaults */
	r = patch(f, &exm_who_owner1, a.vpath, "{\"acme_directory_url\": \"" PEBBLE "\"}");
	g_assert_cmpuint(r->status, ==, 403);
}

/* One builder pass: the node value's `acme` member is @want ("-": none). */
static void
expect_acme(ExmFixture *f, const gchar *instance, const gchar *want)
{
	g_autofree gchar *acme = node_acme(f, instance);

	g_assert_cmpstr(acme, ==, want);
}

/* A write that must succeed. */
static void
ok_patch(ExmFixture *f, const ExmWho *who, const gchar *path, const gchar *body)
{
	g_autoptr(ExmReply) r = patch(f, who, path, body);

	exm_assert_status(r, 200);
}

#define MEMBER(contact, url) "{\"contact\":\"" contact "\",\"directory_url\":\"" url "\"}"

/* ACME turned off while the node still reports it applied: the agent compares
 * on the target's keys only, so the target says `acme: null` (which the
 * driver applies as off) until the node reports none. */
static void
acme_off_reaches_node(ExmFixture *f, const gchar *instance)
{
	g_autofree gchar *node = NULL;
	g_autofree gchar *patch = NULL;
	g_autoptr(JsonNode) root = NULL;
	JsonObject *o;

	patch = exm_fixture_paas_tick(
		f, instance, "acme", MEMBER("mailto:ops@example.com", PEBBLE), &node);
	root = json_from_string(node, NULL);
	g_assert_nonnull(root);
	o = json_node_get_object(root);
	g_assert_true(json_object_has_member(o, "acme"));
	g_assert_true(json_object_get_null_member(o, "acme"));
	g_clear_pointer(&node, g_free);
	g_clear_pointer(&patch, g_free);
	g_clear_pointer(&root, json_node_unref);
	patch = exm_fixture_paas_tick(f, instance, "tls", NULL, &node);
	root = json_from_string(node, NULL);
	g_assert_false(json_object_has_member(json_node_get_object(root), "acme"));
}

/* The version's settings reach the node value; its write moves the
 * instance's updated_at (what makes the engine build it again). */
static void
test_inherits(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_auto(Acme) a = { 0 };
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *sql = NULL;
	g_autoptr(ExmReply) r = NULL;

	if (f == NULL)
		return;
	acme_setup(f, &a);
	sql = g_strdup_printf("SELECT updated_at::text FROM mail_instances WHERE uuid = '%s'",
			      a.instance);
	/* no directory anywhere: no member, and the fields read null */
	expect_acme(f, a.instance, "-");
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", a.ipath, NULL, NULL);
	exm_assert_status(r, 200);
	g_assert_false(exm_reply_has(r, "acme_directory_url"));
	g_clear_pointer(&r, exm_reply_free);
	/* a contact alone on the version is no ACME yet */
	ok_patch(f, &exm_who_admin, a.vpath, "{\"acme_contact\": \"mailto:ops@example.com\"}");
	expect_acme(f, a.instance, "-");
	/* the version's directory */
	before = exm_fixture_scalar(f, sql);
	r = patch(f, &exm_who_admin, a.vpath, "{\"acme_directory_url\": \"" PEBBLE "\"}");
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "acme_directory_url"), ==, PEBBLE);
	after = exm_fixture_scalar(f, sql);
	g_assert_cmpstr(after, >, before);
	expect_acme(f, a.instance, MEMBER("mailto:ops@example.com", PEBBLE));
	/* the version turns ACME off: the member is gone */
	ok_patch(f, &exm_who_admin, a.vpath, "{\"acme_directory_url\": null}");
	expect_acme(f, a.instance, "-");
	acme_off_reaches_node(f, a.instance);
}

/* The instance's overrides win, each on its own; null is the version's again. */
static void
test_overrides(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_auto(Acme) a = { 0 };
	g_autoptr(ExmReply) r = NULL;

	if (f == NULL)
		return;
	acme_setup(f, &a);
	ok_patch(f,
		 &exm_who_admin,
		 a.vpath,
		 "{\"acme_directory_url\": \"" PEBBLE "\", \"acme_contact\": "
		 "\"mailto:ops@example.com\"}");
	r = patch(f, &exm_who_owner1, a.ipath, "{\"acme_directory_url\": \"" OTHER "\"}");
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "acme_directory_url"), ==, OTHER);
	expect_acme(f, a.instance, MEMBER("mailto:ops@example.com", OTHER));
	ok_patch(f,
		 &exm_who_owner1,
		 a.ipath,
		 "{\"acme_contact\": \"mailto:Tenant+tls@Example.com\"}");
	expect_acme(f, a.instance, MEMBER("mailto:Tenant+tls@Example.com", OTHER));
	/* back to null: the version's again, and a change of it reaches the node */
	ok_patch(f,
		 &exm_who_owner1,
		 a.ipath,
		 "{\"acme_directory_url\": null, \"acme_contact\": null}");
	expect_acme(f, a.instance, MEMBER("mailto:ops@example.com", PEBBLE));
	ok_patch(f, &exm_who_admin, a.vpath, "{\"acme_directory_url\": \"" OTHER "\"}");
	expect_acme(f, a.instance, MEMBER("mailto:ops@example.com", OTHER));
	/* an instance may not turn off its version's ACME by itself: null inherits */
	ok_patch(f, &exm_who_owner1, a.ipath, "{\"acme_directory_url\": null}");
	expect_acme(f, a.instance, MEMBER("mailto:ops@example.com", OTHER));
}

#define ELSEWHERE "https://10.0.0.7/directory"
/* the documented bound of a version's list (docs/tls.md §6) */
#define ALLOWED_MAX 16

/* A create naming @url as the instance's directory: its status. */
static guint
create_with(ExmFixture *f, const gchar *version, const gchar *url)
{
	g_autofree gchar *body = g_strdup_printf(
		"{\"name\":\"mail-new\",\"domain\":\"example.com\",\"cpu\":2,\"ram\":2048,"
		"\"disk_size\":20,\"version\":\"/v1/types/mail/versions/%s\","
		"\"acme_directory_url\":\"%s\"}",
		version,
		url);
	g_autoptr(ExmReply) r =
		exm_fixture_call(f, NULL, &exm_who_owner1, "POST", "instances/", NULL, body);

	return r->status;
}

/* The version's list bounds what its instances may name: refused when
 * malformed or too long, and the tenant's to read only; an instance's create
 * or update naming another directory is refused (its version's own is always
 * allowed); a list narrowed later refuses nothing already stored, but the
 * node gets the version's directory instead; null allows any directory
 * again. */
static void
test_allowed(void)
{
	g_autoptr(ExmFixture) f = exm_fixture_new();
	g_auto(Acme) a = { 0 };
	g_autoptr(GString) many = g_string_new("{\"acme_allowed_directory_urls\": [");
	g_autoptr(ExmReply) r = NULL;

	if (f == NULL)
		return;
	acme_setup(f, &a);
	assert_refused(f,
		       &exm_who_admin,
		       a.vpath,
		       "{\"acme_allowed_directory_urls\": [\"http://acme.example/dir\"]}",
		       "acme_allowed_directory_urls");
	for (guint i = 0; i <= ALLOWED_MAX; i++)
		g_string_append_printf(
			many, "%s\"https://acme%u.example/dir\"", i > 0 ? "," : "", i);
	g_string_append(many, "]}");
	assert_refused(f, &exm_who_admin, a.vpath, many->str, "acme_allowed_directory_urls");
	/* the tenant may not widen it */
	r = patch(f, &exm_who_owner1, a.vpath, "{\"acme_allowed_directory_urls\": null}");
	g_assert_cmpuint(r->status, ==, 403);
	g_clear_pointer(&r, exm_reply_free);

	ok_patch(f,
		 &exm_who_admin,
		 a.vpath,
		 "{\"acme_directory_url\": \"" PEBBLE "\", \"acme_contact\": "
		 "\"mailto:ops@example.com\", \"acme_allowed_directory_urls\": [\"" OTHER "\"]}");
	assert_refused(f,
		       &exm_who_owner1,
		       a.ipath,
		       "{\"acme_directory_url\": \"" ELSEWHERE "\"}",
		       "acme_directory_url");
	g_assert_cmpuint(create_with(f, a.version, ELSEWHERE), ==, 400);
	g_assert_cmpuint(create_with(f, a.version, OTHER), ==, 201);
	ok_patch(f, &exm_who_owner1, a.ipath, "{\"acme_directory_url\": \"" PEBBLE "\"}");
	ok_patch(f, &exm_who_owner1, a.ipath, "{\"acme_directory_url\": \"" OTHER "\"}");
	expect_acme(f, a.instance, MEMBER("mailto:ops@example.com", OTHER));

	/* narrowed after the fact (empty: the version's own only): the
	 * instance keeps its value, the node gets the version's directory */
	ok_patch(f, &exm_who_admin, a.vpath, "{\"acme_allowed_directory_urls\": []}");
	expect_acme(f, a.instance, MEMBER("mailto:ops@example.com", PEBBLE));
	r = exm_fixture_call(f, NULL, &exm_who_owner1, "GET", a.ipath, NULL, NULL);
	g_assert_cmpstr(exm_reply_str(r, "acme_directory_url"), ==, OTHER);
	g_clear_pointer(&r, exm_reply_free);
	/* re-sending the stored value is no change (a GET, an edit, a PUT
	 * back); a new one is refused */
	ok_patch(f, &exm_who_owner1, a.ipath, "{\"acme_directory_url\": \"" OTHER "\"}");
	assert_refused(f,
		       &exm_who_owner1,
		       a.ipath,
		       "{\"acme_directory_url\": \"" ELSEWHERE "\"}",
		       "acme_directory_url");
	/* null (stored as null, not as an empty list): any directory again */
	ok_patch(f, &exm_who_admin, a.vpath, "{\"acme_allowed_directory_urls\": null}");
	r = exm_fixture_call(f, NULL, &exm_who_admin, "GET", a.vpath, NULL, NULL);
	g_assert_false(exm_reply_has(r, "acme_allowed_directory_urls"));
	g_clear_pointer(&r, exm_reply_free);
	expect_acme(f, a.instance, MEMBER("mailto:ops@example.com", OTHER));
	ok_patch(f, &exm_who_owner1, a.ipath, "{\"acme_directory_url\": \"" ELSEWHERE "\"}");
	expect_acme(f, a.instance, MEMBER("mailto:ops@example.com", ELSEWHERE));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/acme/refuses", test_refuses);
	g_test_add_func("/plugin/acme/inherits", test_inherits);
	g_test_add_func("/plugin/acme/overrides", test_overrides);
	g_test_add_func("/plugin/acme/allowed", test_allowed);
	return g_test_run();
}
