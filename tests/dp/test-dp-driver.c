/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail_instance_node driver against a sandbox root: passwd content, mode and
 * owner, write-only-on-change, a fault before the rename, actual state, the meta
 * file, and the operator CLI.
 */
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exm-config.h"
#include "exm-dp-acme.h"
#include "exm-dp-error.h"
#include "exm-dp-fixture.h"
#include "exm-dp-driver.h"
#include "exm-json.h"
#include "exm-proto-hash.h"
#include "exm-test.h"

#define UUID_A "5e3f8a9c-1b2d-4c5e-8f70-0a1b2c3d4e5f"
#define UUID_B "6f4a9bad-2c3e-4d6f-9a81-1b2c3d4e5f60"
#define HASH_1                                                                                     \
	"$6$abcdefgh$oGoxMtczJ0/xYkNKQnGuC3pOdNoGsZRZNs7n5JzX8KfMJWEmD2Bx4wBt/"                    \
	"tMCPvjE87aPyrlQPEKxEcxV6d4J6."
#define HASH_2 "$y$j9T$abcdefghijklmnopqrstu.$8OVPSJtGcvU2M/ECKuwQi4FjUltgnGje7HVlHc3Wdf5"

typedef struct {
	ExmDpFixture *fx;
	ExmDpDriver *driver;
	gchar *passwd;
	guint writes;
} Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	f->driver = exm_dp_driver_new(f->fx->config, &error);
	if (f->driver == NULL)
		g_error("driver: %s", error->message); /* nothing can run without it */
	exm_dp_driver_set_hooks(f->driver, NULL, NULL, &f->writes);
	f->passwd = exm_dp_fixture_path(f->fx, EXM_DP_PATH_PASSWD);
}

static void
teardown(Fixture *f, gconstpointer data)
{
	exm_dp_driver_free(f->driver);
	exm_dp_fixture_free(f->fx);
	g_free(f->passwd);
}

static JsonNode *
apply(Fixture *f,
      const gchar *uuid,
      const gchar *const *accounts,
      gboolean *changed,
      GError **error)
{
	g_autoptr(JsonNode) value = exm_dp_node_value(uuid, accounts);

	return exm_dp_driver_apply(f->driver, value, changed, error);
}

static void
assert_passwd_mode(const gchar *path)
{
	struct stat st;
	struct group *gr = getgrnam("Debian-exim");

	if (stat(path, &st) != 0) {
		g_test_fail_printf("stat %s failed", path);
		return;
	}
	g_assert_cmpint(st.st_mode & 07777, ==, 0640);
	g_assert_cmpint(st.st_uid, ==, 0);
	g_assert_nonnull(gr);
	g_assert_cmpint(st.st_gid, ==, gr->gr_gid);
}

static void
test_apply_writes_passwd(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = {
		"bob", "{SHA512-CRYPT}" HASH_1, "1", "alice", HASH_2, "1", "carol", HASH_1, "0",
		NULL
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autofree gchar *content = NULL;
	gboolean changed = FALSE;

	actual = apply(f, UUID_A, accounts, &changed, &error);
	EXM_TEST_OK(error);
	g_assert_true(changed);
	content = exm_test_read_file(f->passwd);
	/* active only, sorted, prefix stripped, user@domain */
	g_assert_cmpstr(content, ==, "alice@example.com:" HASH_2 "\nbob@example.com:" HASH_1 "\n");
	assert_passwd_mode(f->passwd);
	g_assert_cmpuint(f->writes, ==, 1);
}

static void
test_no_write_on_repeat(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) a1 = NULL;
	g_autoptr(JsonNode) a2 = NULL;
	g_autofree gchar *meta = exm_dp_fixture_path(f->fx, EXM_DP_PATH_META);
	struct stat st1, st2, m1, m2;
	gboolean changed = TRUE;

	a1 = apply(f, UUID_A, accounts, NULL, &error);
	EXM_TEST_OK(error);
	g_assert_cmpint(stat(f->passwd, &st1), ==, 0);
	g_assert_cmpint(stat(meta, &m1), ==, 0);
	a2 = apply(f, UUID_A, accounts, &changed, &error);
	EXM_TEST_OK(error);
	g_assert_false(changed);
	g_assert_cmpuint(f->writes, ==, 1);
	g_assert_cmpint(stat(f->passwd, &st2), ==, 0);
	g_assert_cmpint(stat(meta, &m2), ==, 0);
	g_assert_cmpuint(st1.st_ino, ==, st2.st_ino);
	g_assert_cmpint(st1.st_mtim.tv_nsec, ==, st2.st_mtim.tv_nsec);
	g_assert_cmpuint(m1.st_ino, ==, m2.st_ino);
	g_assert_true(json_node_equal(a1, a2));
}

static gboolean
fail_rename(ExmAtomicStep step, gpointer data, GError **error)
{
	if (step != EXM_ATOMIC_STEP_RENAME)
		return TRUE;
	g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO, "injected fault before rename");
	return FALSE;
}

static guint
count_entries(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	guint n = 0;

	while (d != NULL && g_dir_read_name(d) != NULL)
		n++;
	return n;
}

static void
test_fault_before_rename(Fixture *f, gconstpointer data)
{
	const gchar *old[] = { "alice", HASH_1, "1", "bob", HASH_2, "1", NULL };
	const gchar *new[] = { "alice", HASH_2, "1", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) a1 = NULL;
	g_autoptr(JsonNode) a2 = NULL;
	g_autoptr(JsonNode) shown = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *dir = g_path_get_dirname(f->passwd);
	guint entries;

	a1 = apply(f, UUID_A, old, NULL, &error);
	EXM_TEST_OK(error);
	before = exm_test_read_file(f->passwd);
	entries = count_entries(dir);
	exm_dp_driver_set_hooks(f->driver, fail_rename, NULL, &f->writes);
	a2 = apply(f, UUID_A, new, NULL, &error);
	g_assert_null(a2);
	g_assert_nonnull(error);
	g_test_message("expected failure: %s", error != NULL ? error->message : "");
	g_clear_error(&error);
	after = exm_test_read_file(f->passwd);
	g_assert_cmpstr(before, ==, after);
	g_assert_cmpuint(count_entries(dir), ==, entries); /* no temp file left */
	assert_passwd_mode(f->passwd);
	/* the last applied value is still the old one, and it still converges */
	shown = exm_dp_driver_get(f->driver, EXM_DP_DRIVER_KIND, UUID_A, &error);
	EXM_TEST_OK(error);
	g_assert_true(exm_json_same(shown, a1));
}

static JsonObject *
accounts_of(JsonNode *actual)
{
	return json_object_get_object_member(json_node_get_object(actual), "accounts");
}

static void
test_show_exact(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = {
		"alice", "{SHA512-CRYPT}" HASH_1, "1", "bob", HASH_2, "0", NULL
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) value = exm_dp_node_value(UUID_A, accounts);
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(GPtrArray) list = NULL;
	JsonObject *obj;

	actual = exm_dp_driver_apply(f->driver, value, NULL, &error);
	EXM_TEST_OK(error);
	/* the value holds the target's accounts, not a copy (docs/scale.md §3) */
	g_assert_true(accounts_of(actual) == accounts_of(value));
	list = exm_dp_driver_list(f->driver, EXM_DP_DRIVER_KIND, &error);
	EXM_TEST_OK(error);
	g_assert_cmpuint(list->len, ==, 1);
	obj = json_node_get_object(g_ptr_array_index(list, 0));
	g_assert_cmpstr(json_object_get_string_member(obj, "uuid"), ==, UUID_A);
	g_assert_cmpstr(json_object_get_string_member(obj, "domain"), ==, EXM_DP_TEST_DOMAIN);
	g_assert_true(
		exm_json_same(json_object_get_member(obj, "accounts"),
			      json_object_get_member(json_node_get_object(value), "accounts")));
	/* no platform.txt yet: no key, no selector */
	g_assert_cmpstr(json_object_get_string_member(obj, "dkim_public_key"), ==, "");
	g_assert_cmpstr(json_object_get_string_member(obj, "dkim_selector"), ==, "");
}

/* The ACME settings (issue 22, docs/tls.md §6) are kept in the meta file and
 * echoed in the actual value as they came: projected on the target's keys,
 * the actual hashes as the target, so the node converges; they reach the
 * ACME engine (a run is due); without them the actual value has no `acme`
 * member and the engine is off. */
static void
test_acme_converges(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_2, "1", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) value = exm_dp_node_value(UUID_A, accounts);
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(JsonNode) plain = NULL;
	g_autoptr(GPtrArray) list = NULL;
	g_autofree gchar *want = NULL;
	g_autofree gchar *got = NULL;
	JsonObject *acme = json_object_new();
	JsonObject *obj;

	g_autoptr(ExmDpAcme) engine = exm_dp_acme_new(f->fx->config, &error);

	EXM_TEST_OK(error);
	exm_dp_driver_set_acme(f->driver, engine);
	json_object_set_string_member(acme, "directory_url", "https://127.0.0.1:14000/dir");
	json_object_set_string_member(acme, "contact", "mailto:ops@example.com");
	json_object_set_object_member(json_node_get_object(value), "acme", acme);
	actual = exm_dp_driver_apply(f->driver, value, NULL, &error);
	EXM_TEST_OK(error);
	/* the engine has the target: a first run is due (no tick here starts it) */
	g_assert_cmpint(exm_dp_acme_next_run(engine), <, G_MAXINT64);
	list = exm_dp_driver_list(f->driver, EXM_DP_DRIVER_KIND, &error);
	EXM_TEST_OK(error);
	obj = json_node_get_object(g_ptr_array_index(list, 0));
	g_assert_true(json_node_equal(json_object_get_member(obj, "acme"),
				      json_object_get_member(json_node_get_object(value), "acme")));
	want = exm_proto_hash_value(json_node_get_object(value));
	got = exm_proto_hash_projection(obj, json_node_get_object(value));
	g_assert_cmpstr(got, ==, want);
	/* ACME off again: the member goes */
	json_object_remove_member(json_node_get_object(value), "acme");
	plain = exm_dp_driver_apply(f->driver, value, NULL, &error);
	EXM_TEST_OK(error);
	g_assert_false(json_object_has_member(json_node_get_object(plain), "acme"));
	g_assert_cmpint(exm_dp_acme_next_run(engine), ==, G_MAXINT64);
	/* a malformed member is refused like any bad value */
	acme = json_object_new();
	json_object_set_string_member(acme, "directory_url", "http://127.0.0.1:14000/dir");
	json_object_set_object_member(json_node_get_object(value), "acme", acme);
	g_clear_pointer(&actual, json_node_unref);
	actual = exm_dp_driver_apply(f->driver, value, NULL, &error);
	g_assert_null(actual);
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "acme.directory_url"));
	exm_dp_driver_set_acme(f->driver, NULL);
}

static void
test_show_diverged(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", "bob", HASH_2, "0", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(JsonNode) shown = NULL;
	g_autofree gchar *txt = exm_dp_fixture_path(f->fx, EXM_DP_PATH_DKIM_TXT);
	g_autofree gchar *dir = g_path_get_dirname(txt);
	JsonObject *acc;
	JsonObject *obj;

	actual = apply(f, UUID_A, accounts, NULL, &error);
	EXM_TEST_OK(error);
	/* someone edits the file by hand */
	g_assert_true(g_file_set_contents(f->passwd,
					  "# comment\nalice@example.com:" HASH_2 "\n"
					  "\ndave@example.com:" HASH_1 ":extra\n",
					  -1,
					  NULL));
	g_mkdir_with_parents(dir, 0755);
	g_assert_true(g_file_set_contents(txt,
					  "platform._domainkey\tIN\tTXT\t( \"v=DKIM1; k=rsa; \"\n"
					  "\t  \"p=ABCD\" )  ; ----- DKIM key platform\n",
					  -1,
					  NULL));
	shown = exm_dp_driver_get(f->driver, EXM_DP_DRIVER_KIND, UUID_A, &error);
	EXM_TEST_OK(error);
	acc = accounts_of(shown);
	g_assert_cmpuint(json_object_get_size(acc), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(acc, "alice"),
						      "password_hash"),
			==,
			HASH_2);
	g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(acc, "dave"),
						      "password_hash"),
			==,
			HASH_1 ":extra");
	g_assert_true(json_object_get_boolean_member(json_object_get_object_member(acc, "dave"),
						     "active"));
	obj = json_node_get_object(shown);
	g_assert_cmpstr(json_object_get_string_member(obj, "dkim_public_key"),
			==,
			"v=DKIM1; k=rsa; p=ABCD");
	g_assert_cmpstr(json_object_get_string_member(obj, "dkim_selector"), ==, "platform");
}

/* A line added at the end of passwd (a render followed by more) or the
 * file removed is seen: the file is compared with the render a piece at a
 * time, to its end. */
static void
test_show_diverged_tail(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", "bob", HASH_2, "0", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(JsonNode) shown = NULL;
	g_autofree gchar *content = NULL;
	g_autofree gchar *more = NULL;
	JsonObject *acc;

	actual = apply(f, UUID_A, accounts, NULL, &error);
	EXM_TEST_OK(error);
	g_assert_true(g_file_get_contents(f->passwd, &content, NULL, NULL));
	more = g_strconcat(content, "eve@example.com:" HASH_2 "\n", NULL);
	g_assert_true(g_file_set_contents(f->passwd, more, -1, NULL));
	shown = exm_dp_driver_get(f->driver, EXM_DP_DRIVER_KIND, UUID_A, &error);
	EXM_TEST_OK(error);
	acc = accounts_of(shown);
	g_assert_cmpuint(json_object_get_size(acc), ==, 2);
	g_assert_true(json_object_has_member(acc, "alice"));
	g_assert_true(json_object_has_member(acc, "eve"));
	g_clear_pointer(&shown, json_node_unref);
	g_assert_cmpint(unlink(f->passwd), ==, 0);
	shown = exm_dp_driver_get(f->driver, EXM_DP_DRIVER_KIND, UUID_A, &error);
	EXM_TEST_OK(error);
	g_assert_cmpuint(json_object_get_size(accounts_of(shown)), ==, 0);
}

static void
test_mode_owner_survive(Fixture *f, gconstpointer data)
{
	const gchar *v1[] = { "alice", HASH_1, "1", NULL };
	const gchar *v2[] = { "alice", HASH_2, "1", NULL };
	const gchar *v3[] = { "alice", HASH_2, "0", NULL };
	g_autoptr(GError) error = NULL;
	const gchar *const *values[] = { v1, v2, v3, v1 };

	for (guint i = 0; i < G_N_ELEMENTS(values); i++) {
		g_autoptr(JsonNode) actual = NULL;

		/* a stray chmod/chown between rewrites is repaired too */
		if (i == 2) {
			g_assert_cmpint(chmod(f->passwd, 0666), ==, 0);
			g_assert_cmpint(chown(f->passwd, 0, 0), ==, 0);
		}
		actual = apply(f, UUID_A, values[i], NULL, &error);
		EXM_TEST_OK(error);
		assert_passwd_mode(f->passwd);
	}
	g_assert_cmpuint(f->writes, ==, 4);
}

static void
test_semantics(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", NULL };
	g_autoptr(JsonNode) va = exm_dp_node_value(UUID_A, accounts);
	g_autoptr(JsonNode) vb = exm_dp_node_value(UUID_B, accounts);
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) r = NULL;
	g_autoptr(GPtrArray) list = NULL;
	g_autofree gchar *content = NULL;

	r = exm_dp_driver_update(f->driver, EXM_DP_DRIVER_KIND, va, &error);
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_NOT_FOUND);
	g_clear_error(&error);
	r = exm_dp_driver_create(f->driver, "other_kind", va, &error);
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_KIND);
	g_clear_error(&error);
	r = exm_dp_driver_create(f->driver, EXM_DP_DRIVER_KIND, va, &error);
	EXM_TEST_OK(error);
	g_clear_pointer(&r, json_node_unref);
	r = exm_dp_driver_create(f->driver, EXM_DP_DRIVER_KIND, va, &error);
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_EXISTS);
	g_clear_error(&error);
	r = exm_dp_driver_create(f->driver, EXM_DP_DRIVER_KIND, vb, &error);
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_EXISTS);
	g_clear_error(&error);
	r = exm_dp_driver_update(f->driver, EXM_DP_DRIVER_KIND, va, &error);
	EXM_TEST_OK(error);
	g_assert_true(exm_dp_driver_delete(f->driver, EXM_DP_DRIVER_KIND, UUID_A, &error));
	EXM_TEST_OK(error);
	content = exm_test_read_file(f->passwd);
	g_assert_cmpstr(content, ==, "");
	assert_passwd_mode(f->passwd);
	list = exm_dp_driver_list(f->driver, EXM_DP_DRIVER_KIND, &error);
	EXM_TEST_OK(error);
	g_assert_cmpuint(list->len, ==, 0);
	g_assert_false(exm_dp_driver_delete(f->driver, EXM_DP_DRIVER_KIND, UUID_A, &error));
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_NOT_FOUND);
}

static void
test_invalid_value(Fixture *f, gconstpointer data)
{
	const gchar *bad_user[] = { "Bad User", HASH_1, "1", NULL };
	const gchar *bad_hash[] = { "alice", "plaintext", "1", NULL };
	const gchar *inject[] = { "alice", HASH_1 "\nmallory@example.com:x", "1", NULL };
	const gchar *const *values[] = { bad_user, bad_hash, inject };

	for (guint i = 0; i < G_N_ELEMENTS(values); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) r = apply(f, UUID_A, values[i], NULL, &error);
		g_autofree gchar *content = exm_test_read_file(f->passwd);

		g_assert_null(r);
		g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_INVALID);
		/* the image's empty passwd is left as it is */
		g_assert_cmpstr(content, ==, "");
	}
	g_assert_cmpuint(f->writes, ==, 0);
}

/* A payload carrying a hash whose work factor would stall exim's AUTH (one the
 * API refuses since issue 10) is refused whole: passwd keeps its last content. */
static void
test_dear_hash_refused(Fixture *f, gconstpointer data)
{
	static const struct {
		const gchar *hash;
		const gchar *ceiling;
	} dear[] = {
		{ "$2b$31$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01236", "ceiling of 14" },
		{ "$6$rounds=999999999$a$abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzab"
		  "cdefghijklmnopqrstuvwxyz0123456.",
		  "ceiling of 1000000 rounds" },
		{ "$y$jFT$abcd$abcdefghijklmnopqrstuvwxyzabcdefghijklmnopD", "ceiling of 256 MiB" },
	};
	const gchar *good[] = { "alice", HASH_1, "1", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) first = apply(f, UUID_A, good, NULL, &error);
	g_autofree gchar *before = NULL;

	EXM_TEST_OK(error);
	before = exm_test_read_file(f->passwd);
	for (guint i = 0; i < G_N_ELEMENTS(dear); i++) {
		const gchar *mixed[] = { "alice", HASH_1, "1", "mallory", dear[i].hash, "1", NULL };
		g_autoptr(GError) local = NULL;
		g_autoptr(JsonNode) r = apply(f, UUID_A, mixed, NULL, &local);
		g_autofree gchar *after = exm_test_read_file(f->passwd);

		g_assert_null(r);
		g_assert_error(local, EXM_DP_ERROR, EXM_DP_ERROR_INVALID);
		g_assert_nonnull(strstr(local->message, "accounts.mallory.password_hash"));
		g_assert_nonnull(strstr(local->message, dear[i].ceiling));
		g_assert_cmpstr(after, ==, before);
	}
	g_assert_cmpuint(f->writes, ==, 1);
}

static void
test_meta_layout(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "0", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) r = apply(f, UUID_A, accounts, NULL, &error);
	g_autofree gchar *path = exm_dp_fixture_path(f->fx, EXM_DP_PATH_META);
	g_autofree gchar *text = exm_test_read_file(path);
	g_autoptr(JsonNode) root = exm_json_parse_strict(text, strlen(text), &error);
	JsonObject *res;
	struct stat st;

	EXM_TEST_OK(error);
	res = json_object_get_object_member(
		json_object_get_object_member(json_node_get_object(root), EXM_DP_DRIVER_KIND),
		"resources");
	g_assert_nonnull(res);
	g_assert_true(json_object_has_member(res, UUID_A));
	g_assert_true(
		json_object_get_boolean_member(
			json_object_get_object_member(
				json_object_get_object_member(
					json_object_get_object_member(res, UUID_A), "accounts"),
				"alice"),
			"active") == FALSE);
	if (stat(path, &st) != 0) {
		g_test_fail_printf("stat %s failed", path);
		return;
	}
	g_assert_cmpint(st.st_mode & 0077, ==, 0); /* it holds hashes */
}

/* Valid JSON of another layout in the meta file is an error, never a critical. */
static void
test_meta_foreign(Fixture *f, gconstpointer data)
{
	const gchar *texts[] = {
		"[]",
		"{}",
		"{\"" EXM_DP_DRIVER_KIND "\": 5}",
		"{\"" EXM_DP_DRIVER_KIND "\": {}}",
		"{\"" EXM_DP_DRIVER_KIND "\": {\"resources\": []}}",
	};
	g_autofree gchar *path = exm_dp_fixture_path(f->fx, EXM_DP_PATH_META);
	g_autofree gchar *dir = g_path_get_dirname(path);

	g_mkdir_with_parents(dir, 0700);
	for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) list = NULL;

		g_test_message("meta: %s", texts[i]);
		g_assert_true(g_file_set_contents(path, texts[i], -1, NULL));
		list = exm_dp_driver_list(f->driver, EXM_DP_DRIVER_KIND, &error);
		g_assert_null(list);
		g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED);
	}
}

static gint
run_cli(Fixture *f, const gchar *const *args, gchar **out, gchar **err)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();

	g_ptr_array_add(argv, (gpointer)EXM_AGENT_BIN);
	g_ptr_array_add(argv, (gpointer) "--root");
	g_ptr_array_add(argv, f->fx->root);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	return exm_test_run((const gchar *const *)argv->pdata, out, err);
}

static void
test_cli(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = {
		"alice", "{SHA512-CRYPT}" HASH_1, "1", "bob", HASH_2, "0", NULL
	};
	g_autoptr(JsonNode) value = exm_dp_node_value(UUID_A, accounts);
	g_autofree gchar *payload = g_build_filename(f->fx->root, "payload.json", NULL);
	g_autofree gchar *bad = g_build_filename(f->fx->root, "bad.json", NULL);
	g_autofree gchar *text = exm_json_to_string(value);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(JsonNode) shown = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *apply_args[] = { "apply", "--payload", payload, NULL };
	const gchar *bad_args[] = { "apply", "--payload", bad, NULL };
	const gchar *show_args[] = { "show", NULL };
	const gchar *none[] = { NULL };

	g_assert_true(g_file_set_contents(payload, text, -1, NULL));
	g_assert_cmpint(run_cli(f, apply_args, &out, &err), ==, 0);
	g_assert_cmpstr(out, ==, "passwd written\n");
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(run_cli(f, apply_args, &out, &err), ==, 0);
	g_assert_cmpstr(out, ==, "passwd unchanged\n");
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(run_cli(f, show_args, &out, &err), ==, 0);
	shown = exm_json_parse_strict(out, strlen(out), &error);
	EXM_TEST_OK(error);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(shown));
	g_assert_cmpuint(json_array_get_length(json_node_get_array(shown)), ==, 1);
	g_assert_true(json_node_equal(
		json_object_get_member(json_array_get_object_element(json_node_get_array(shown), 0),
				       "accounts"),
		json_object_get_member(json_node_get_object(value), "accounts")));
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	/* strict parser: single quotes are not JSON */
	g_assert_true(g_file_set_contents(bad, "{'uuid': 1}", -1, NULL));
	g_assert_cmpint(run_cli(f, bad_args, &out, &err), !=, 0);
	g_assert_nonnull(strstr(err, "bad.json"));
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(run_cli(f, none, &out, &err), !=, 0);
	g_assert_nonnull(strstr(err, "expected a command"));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
#define ADD(path, fn) g_test_add("/dp/driver/" path, Fixture, NULL, setup, fn, teardown)
	ADD("apply-writes-passwd", test_apply_writes_passwd);
	ADD("no-write-on-repeat", test_no_write_on_repeat);
	ADD("fault-before-rename", test_fault_before_rename);
	ADD("show-exact", test_show_exact);
	ADD("show-diverged", test_show_diverged);
	ADD("show-diverged-tail", test_show_diverged_tail);
	ADD("acme-converges", test_acme_converges);
	ADD("mode-owner-survive", test_mode_owner_survive);
	ADD("semantics", test_semantics);
	ADD("invalid-value", test_invalid_value);
	ADD("dear-hash-refused", test_dear_hash_refused);
	ADD("meta-layout", test_meta_layout);
	ADD("meta-foreign", test_meta_foreign);
	ADD("cli", test_cli);
#undef ADD
	return g_test_run();
}
