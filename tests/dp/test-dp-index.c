/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Scale on the node (docs/scale.md): the driver's cdb twins of passwd and
 * policy (content, owner, mode, write-only-on-change, a twin that differs is
 * reported and repaired), configure's twin for an upgraded node, the
 * driver's `unchanged` answer from the stamps of the files it reads, and the
 * last listing it keeps while they hold (never stale: a file touched behind
 * its back, usage that moved or a meta file of another layout is read).
 */
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exm-cdb.h"
#include "exm-dp-driver.h"
#include "exm-dp-error.h"
#include "exm-dp-fixture.h"
#include "exm-dp-logstats.h"
#include "exm-dp-usage.h"
#include "exm-json.h"
#include "exm-mail-cdb.h"
#include "exm-test.h"

#define UUID_A "5e3f8a9c-1b2d-4c5e-8f70-0a1b2c3d4e5f"
#define UUID_B "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
#define HASH_1                                                                                     \
	"$6$abcdefgh$oGoxMtczJ0/xYkNKQnGuC3pOdNoGsZRZNs7n5JzX8KfMJWEmD2Bx4wBt/"                    \
	"tMCPvjE87aPyrlQPEKxEcxV6d4J6."

typedef struct {
	ExmDpFixture *fx;
	ExmDpDriver *driver;
	gchar *passwd;
	gchar *passwd_cdb;
	gchar *policy_cdb;
} Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	f->driver = exm_dp_driver_new(f->fx->config, &error);
	if (f->driver == NULL)
		g_error("driver: %s", error->message); /* nothing can run without it */
	f->passwd = exm_dp_fixture_path(f->fx, EXM_DP_PATH_PASSWD);
	f->passwd_cdb = exm_dp_fixture_path(f->fx, EXM_DP_PATH_PASSWD_CDB);
	f->policy_cdb = exm_dp_fixture_path(f->fx, EXM_DP_PATH_POLICY_CDB);
}

static void
teardown(Fixture *f, gconstpointer data)
{
	exm_dp_driver_free(f->driver);
	exm_dp_fixture_free(f->fx);
	g_free(f->passwd);
	g_free(f->passwd_cdb);
	g_free(f->policy_cdb);
}

static JsonNode *
apply(Fixture *f, const gchar *const *accounts, gboolean *changed)
{
	g_autoptr(JsonNode) value = exm_dp_node_value(UUID_A, accounts);
	g_autoptr(GError) error = NULL;
	JsonNode *actual = exm_dp_driver_apply(f->driver, value, changed, &error);

	g_assert_no_error(error);
	return actual;
}

static JsonObject *
listed_accounts(Fixture *f, GPtrArray **keep)
{
	g_autoptr(GError) error = NULL;

	*keep = exm_dp_driver_list(f->driver, EXM_DP_DRIVER_KIND, &error);
	g_assert_no_error(error);
	g_assert_cmpuint((*keep)->len, ==, 1);
	/* the listed accounts are raw (docs/scale.md §3): their tree, kept too */
	g_ptr_array_add(*keep, exm_dp_expanded((*keep)->pdata[0]));
	return json_object_get_object_member(json_node_get_object((*keep)->pdata[1]), "accounts");
}

static void
assert_lookup_mode(const gchar *path)
{
	struct stat st;
	struct group *gr = getgrnam("Debian-exim");

	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0640);
	g_assert_cmpint(st.st_uid, ==, 0);
	g_assert_nonnull(gr);
	g_assert_cmpint(st.st_gid, ==, gr->gr_gid);
}

/* Each twin is the cdb of its lsearch file, with its owner and mode. */
static void
assert_twin(const gchar *text_path, const gchar *cdb_path)
{
	g_autofree gchar *text = exm_test_read_file(text_path);
	g_autofree gchar *have = NULL;
	g_autoptr(GError) error = NULL;
	gsize have_len = 0, want_len = 0;
	guint8 *want = exm_mail_cdb_from_lsearch(text, &want_len, &error);

	g_assert_no_error(error);
	g_file_get_contents(cdb_path, &have, &have_len, &error);
	g_assert_no_error(error);
	g_assert_cmpmem(have, have_len, want, want_len);
	exm_cdb_free(want, want_len);
	assert_lookup_mode(cdb_path);
}

static void
test_twins_written(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "bob", HASH_1, "1", "alice", HASH_1, "1", NULL };
	g_autofree gchar *policy = exm_dp_fixture_path(f->fx, EXM_DP_PATH_POLICY);
	g_autoptr(JsonNode) a1 = NULL;
	g_autoptr(JsonNode) a2 = NULL;
	g_autofree gchar *db = NULL;
	const guint8 *v;
	gsize len = 0, vlen;
	struct stat s1, s2;
	gboolean changed = FALSE;

	a1 = apply(f, accounts, &changed);
	g_assert_true(changed);
	assert_twin(f->passwd, f->passwd_cdb);
	assert_twin(policy, f->policy_cdb);
	g_assert_true(g_file_get_contents(f->passwd_cdb, &db, &len, NULL));
	g_assert_true(exm_cdb_find((const guint8 *)db, len, "alice@example.com", 17, &v, &vlen));
	g_assert_cmpmem(v, vlen, HASH_1, strlen(HASH_1));
	/* unchanged: no write, the twin keeps its inode and mtime */
	g_assert_cmpint(stat(f->passwd_cdb, &s1), ==, 0);
	a2 = apply(f, accounts, &changed);
	g_assert_false(changed);
	g_assert_cmpint(stat(f->passwd_cdb, &s2), ==, 0);
	g_assert_cmpuint(s1.st_ino, ==, s2.st_ino);
	g_assert_cmpint(s1.st_mtim.tv_nsec, ==, s2.st_mtim.tv_nsec);
	g_assert_true(json_node_equal(a1, a2));
}

/* A twin that is not the render is what exim logs in against: the listing
 * shows its accounts (none when it is gone or broken), so the target no
 * longer converges and the next apply rewrites it. */
static void
test_twin_diverged(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", NULL };
	const gchar *two[] = { "alice", HASH_1, "1", "mallory", HASH_1, "1", NULL };
	g_autoptr(JsonNode) a = apply(f, accounts, NULL);
	g_autoptr(JsonNode) b = NULL;
	g_autoptr(GPtrArray) keep = NULL;
	g_autofree gchar *stale = NULL;
	gsize stale_len = 0;
	JsonObject *acc;
	gboolean changed = FALSE;

	/* the twin of another value (one more account) */
	g_clear_pointer(&a, json_node_unref);
	a = apply(f, two, NULL);
	g_assert_true(g_file_get_contents(f->passwd_cdb, &stale, &stale_len, NULL));
	g_clear_pointer(&a, json_node_unref);
	a = apply(f, accounts, NULL);
	g_assert_true(g_file_set_contents(f->passwd_cdb, stale, (gssize)stale_len, NULL));
	acc = listed_accounts(f, &keep);
	g_assert_true(json_object_has_member(acc, "mallory"));
	g_clear_pointer(&keep, g_ptr_array_unref);
	/* gone */
	g_assert_cmpint(unlink(f->passwd_cdb), ==, 0);
	acc = listed_accounts(f, &keep);
	g_assert_cmpuint(json_object_get_size(acc), ==, 0);
	g_clear_pointer(&keep, g_ptr_array_unref);
	/* broken: a warning, and no account */
	g_assert_true(g_file_set_contents(f->passwd_cdb, "garbage", -1, NULL));
	g_test_expect_message("exm-dp", G_LOG_LEVEL_WARNING, "*exim finds no record*");
	acc = listed_accounts(f, &keep);
	g_test_assert_expected_messages();
	g_assert_cmpuint(json_object_get_size(acc), ==, 0);
	/* applied again: rewritten */
	b = apply(f, accounts, &changed);
	g_assert_true(changed);
	assert_twin(f->passwd, f->passwd_cdb);
}

/* The twin is written as it is built, its header last: a twin that differs
 * from the render only there (or only in its last table) is rewritten by
 * the next apply, one that does not is left alone. */
static void
test_twin_header_repaired(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", "bob", HASH_1, "1", NULL };
	g_autoptr(JsonNode) a = apply(f, accounts, NULL);
	g_autofree gchar *good = NULL;
	gsize len = 0;

	g_assert_true(g_file_get_contents(f->passwd_cdb, &good, &len, NULL));
	/* in a table's position, the header's last byte, the last table's */
	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *bad = g_memdup2(good, len);
		gsize where = i == 0 ? 4 : i == 1 ? EXM_CDB_HEADER_SIZE - 1 : len - 1;
		gboolean changed = FALSE;

		bad[where] = (gchar)(bad[where] ^ 0x5a);
		g_assert_true(g_file_set_contents(f->passwd_cdb, bad, (gssize)len, NULL));
		g_clear_pointer(&a, json_node_unref);
		a = apply(f, accounts, &changed);
		g_assert_true(changed);
		assert_twin(f->passwd, f->passwd_cdb);
		g_clear_pointer(&a, json_node_unref);
		a = apply(f, accounts, &changed);
		g_assert_false(changed);
	}
}

/* The policy twin differing shows as `"policy": "differs"`. */
static void
test_policy_twin_diverged(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", NULL };
	g_autoptr(JsonNode) a = apply(f, accounts, NULL);
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *o;

	g_assert_cmpint(unlink(f->policy_cdb), ==, 0);
	list = exm_dp_driver_list(f->driver, EXM_DP_DRIVER_KIND, &error);
	g_assert_no_error(error);
	o = json_node_get_object(list->pdata[0]);
	g_assert_cmpstr(json_object_get_string_member(o, "policy"), ==, "differs");
}

/* `unchanged`: only after a listing, until a write or a touched file;
 * `keys_unchanged` also after a put, whose result is kept as the listing
 * (the marks of the write may decide the next change), until a touched
 * file. */
static void
test_unchanged(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", NULL };
	const gchar *more[] = { "alice", HASH_1, "1", "bob", HASH_1, "1", NULL };
	g_autoptr(JsonNode) a = apply(f, accounts, NULL);
	g_autoptr(GPtrArray) keep = NULL;
	g_autofree gchar *text = NULL;
	struct group *gr = getgrnam("Debian-exim");

	g_assert_false(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_assert_true(exm_dp_driver_keys_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_assert_false(exm_dp_driver_keys_unchanged(f->driver, "other_kind"));
	listed_accounts(f, &keep);
	g_assert_true(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_assert_true(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_assert_false(exm_dp_driver_unchanged(f->driver, "other_kind"));
	/* an apply that writes forgets the listing, but keeps its own result */
	g_clear_pointer(&a, json_node_unref);
	a = apply(f, more, NULL);
	g_assert_false(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_assert_true(exm_dp_driver_keys_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	/* a file touched after the put */
	g_clear_pointer(&text, g_free);
	text = exm_test_read_file(f->passwd);
	g_assert_true(g_file_set_contents(f->passwd, text, -1, NULL));
	g_assert_false(exm_dp_driver_keys_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_clear_pointer(&text, g_free);
	g_clear_pointer(&keep, g_ptr_array_unref);
	listed_accounts(f, &keep);
	g_assert_true(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	/* the same content written again by someone else: a new inode */
	text = exm_test_read_file(f->passwd);
	g_assert_true(g_file_set_contents(f->passwd, text, -1, NULL));
	g_assert_false(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_clear_pointer(&keep, g_ptr_array_unref);
	listed_accounts(f, &keep);
	g_assert_true(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	/* a mode or owner change of a twin */
	g_assert_cmpint(chmod(f->policy_cdb, 0644), ==, 0);
	g_assert_false(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_clear_pointer(&keep, g_ptr_array_unref);
	listed_accounts(f, &keep);
	g_assert_nonnull(gr);
	g_assert_cmpint(chown(f->passwd_cdb, 0, 0), ==, 0);
	g_assert_false(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_clear_pointer(&keep, g_ptr_array_unref);
	listed_accounts(f, &keep);
	/* a removed twin */
	g_assert_cmpint(unlink(f->passwd_cdb), ==, 0);
	g_assert_false(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
}

/* The listing as canonical text, one value per line: the values, whatever
 * their member order (a put's result holds the target's accounts, a
 * listing their raw text, docs/scale.md §3). */
static gchar *
list_text(ExmDpDriver *driver)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) list = exm_dp_driver_list(driver, EXM_DP_DRIVER_KIND, &error);
	g_autoptr(GString) out = g_string_new(NULL);

	g_assert_no_error(error);
	for (guint i = 0; list != NULL && i < list->len; i++) {
		g_autofree gchar *text = exm_json_canonical(list->pdata[i]);

		g_string_append_printf(out, "%s\n", text);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* What a driver that kept nothing lists: the files as they are. */
static gchar *
fresh_text(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	ExmDpDriver *fresh = exm_dp_driver_new(f->fx->config, &error);
	gchar *text;

	g_assert_no_error(error);
	text = list_text(fresh);
	exm_dp_driver_free(fresh);
	return text;
}

/* The kept listing (after a put, after a listing) is what the files give, and
 * a file changed behind the driver's back is read again, not answered from it. */
static void
test_listing_kept(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", NULL };
	const gchar *more[] = { "alice", HASH_1, "1", "bob", HASH_1, "1", NULL };
	g_autoptr(JsonNode) a = apply(f, accounts, NULL);
	g_autofree gchar *put = exm_json_canonical(a);
	g_autofree gchar *l1 = list_text(f->driver);
	g_autofree gchar *l2 = list_text(f->driver);
	g_autofree gchar *fresh = fresh_text(f);
	g_autofree gchar *l3 = NULL;
	g_autofree gchar *l4 = NULL;
	g_autofree gchar *l5 = NULL;
	g_autofree gchar *expect = g_strconcat(put, "\n", NULL);

	g_assert_cmpstr(l1, ==, expect);
	g_assert_cmpstr(l2, ==, l1);
	g_assert_cmpstr(fresh, ==, l1);
	/* passwd rewritten behind the driver's back: the file's accounts */
	g_assert_true(g_file_set_contents(
		f->passwd, "bob@" EXM_DP_TEST_DOMAIN ":" HASH_1 "\n", -1, NULL));
	l3 = list_text(f->driver);
	g_assert_null(strstr(l3, "\"alice\""));
	g_assert_nonnull(strstr(l3, "\"bob\""));
	g_clear_pointer(&fresh, g_free);
	fresh = fresh_text(f);
	g_assert_cmpstr(l3, ==, fresh);
	/* an apply after that listing writes and keeps its own result */
	g_clear_pointer(&a, json_node_unref);
	a = apply(f, more, NULL);
	l4 = list_text(f->driver);
	g_assert_nonnull(strstr(l4, "\"alice\""));
	g_assert_nonnull(strstr(l4, "\"bob\""));
	g_clear_pointer(&fresh, g_free);
	fresh = fresh_text(f);
	g_assert_cmpstr(l4, ==, fresh);
	/* the cdb twin removed: reported as what exim logs in against (nothing) */
	g_assert_cmpint(unlink(f->passwd_cdb), ==, 0);
	l5 = list_text(f->driver);
	g_assert_cmpstr(l5, !=, l4);
	g_assert_null(strstr(l5, "\"bob\""));
}

static gchar *
replace(const gchar *text, const gchar *from, const gchar *to)
{
	g_auto(GStrv) parts = g_strsplit(text, from, -1);

	return g_strjoinv(to, parts);
}

/* The kept listing's file: mode 0600 (it holds the hashes); a file edited
 * behind the driver's back is not used, the node's files are read. */
static void
test_listing_file(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", NULL };
	g_autoptr(JsonNode) a = apply(f, accounts, NULL);
	g_autofree gchar *meta = exm_dp_fixture_path(f->fx, EXM_DP_PATH_META);
	g_autofree gchar *dir = g_path_get_dirname(meta);
	g_autofree gchar *path = g_build_filename(dir, EXM_DP_DRIVER_LISTING_FILE, NULL);
	g_autofree gchar *l1 = list_text(f->driver);
	g_autofree gchar *kept = exm_test_read_file(path);
	g_autofree gchar *forged = replace(kept, "alice", "eve");
	g_autofree gchar *l2 = NULL;
	struct stat st;

	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);
	g_assert_nonnull(strstr(kept, "\"alice\""));
	g_assert_true(g_file_set_contents(path, forged, -1, NULL));
	l2 = list_text(f->driver);
	g_assert_cmpstr(l2, ==, l1);
	g_assert_null(strstr(l2, "\"eve\""));
}

static void
write_meta(Fixture *f, const gchar *text)
{
	g_autofree gchar *path = exm_dp_fixture_path(f->fx, EXM_DP_PATH_META);

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

/* A put after a listing rebuilds the meta file instead of reading it only
 * while that file is as listed, plain and serving that resource alone. */
static void
test_put_meta_kept(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", NULL };
	const gchar *more[] = { "alice", HASH_1, "1", "bob", HASH_1, "1", NULL };
	g_autoptr(JsonNode) a = apply(f, accounts, NULL);
	g_autoptr(JsonNode) b = NULL;
	g_autoptr(JsonNode) value = exm_dp_node_value(UUID_A, more);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *meta_path = exm_dp_fixture_path(f->fx, EXM_DP_PATH_META);
	g_autofree gchar *meta = NULL;
	g_autofree gchar *orig = NULL;
	g_autofree gchar *other = NULL;
	g_autofree gchar *l1 = list_text(f->driver);

	/* the listed resource exists: create is refused, the files stay */
	g_assert_null(exm_dp_driver_create(f->driver, EXM_DP_DRIVER_KIND, value, &error));
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_EXISTS);
	g_clear_error(&error);
	/* the meta file now serves another instance, behind the driver's back */
	orig = exm_test_read_file(meta_path);
	other = replace(orig, UUID_A, UUID_B);
	write_meta(f, other);
	g_assert_null(exm_dp_driver_apply(f->driver, value, NULL, &error));
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_EXISTS);
	g_clear_error(&error);
	g_clear_pointer(&meta, g_free);
	meta = exm_test_read_file(meta_path);
	g_assert_cmpstr(meta, ==, other);
	/* a member the driver does not write is kept by a put after a listing */
	g_clear_pointer(&other, g_free);
	other = g_strconcat("{\"note\":\"kept\",", orig + 1, NULL);
	write_meta(f, other);
	g_free(list_text(f->driver));
	b = exm_dp_driver_apply(f->driver, value, NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&meta, g_free);
	meta = exm_test_read_file(meta_path);
	g_assert_nonnull(strstr(meta, "\"note\":\"kept\""));
	g_assert_nonnull(strstr(meta, "\"bob\""));
	/* and a plain one holds the resource alone, as read */
	write_meta(f, "");
	g_free(list_text(f->driver));
	g_clear_pointer(&b, json_node_unref);
	b = exm_dp_driver_apply(f->driver, value, NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&meta, g_free);
	meta = exm_test_read_file(meta_path);
	g_assert_true(g_str_has_prefix(
		meta, "{\"" EXM_DP_DRIVER_KIND "\":{\"resources\":{\"" UUID_A "\":{"));
	g_assert_nonnull(strstr(meta, "\"bob\""));
	g_assert_nonnull(l1);
}

/* configure makes a missing twin from the lsearch file: an upgraded node
 * keeps its logins before the agent writes. */
static void
test_configure_makes_twin(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = g_path_get_dirname(f->passwd);
	g_autofree gchar *db = NULL;
	const guint8 *v;
	gsize len = 0, vlen;

	if (!exm_dp_have("exim4"))
		return;
	g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
	g_assert_true(g_file_set_contents(f->passwd, "Alice@example.com:" HASH_1 "\n", -1, NULL));
	g_assert_true(exm_dp_fixture_configure(f->fx, &error));
	g_assert_no_error(error);
	assert_twin(f->passwd, f->passwd_cdb);
	assert_lookup_mode(f->policy_cdb);
	g_assert_true(g_file_get_contents(f->passwd_cdb, &db, &len, NULL));
	g_assert_true(exm_cdb_find((const guint8 *)db, len, "alice@example.com", 17, &v, &vlen));
}

/* exim logs in against the twin: with the lsearch file emptied behind the
 * agent's back a login still works (upper-case login too: the lookup key is
 * lower-cased), and without the twin it does not. */
static void
test_exim_reads_twin(Fixture *f, gconstpointer data)
{
	g_autofree gchar *hash = exm_dp_hash("$6$", "twin-pw");
	const gchar *accounts[] = { "alice", hash, "1", NULL };
	g_autoptr(JsonNode) a = NULL;
	g_autoptr(GError) error = NULL;

	if (!exm_dp_have("exim4") || !exm_dp_have("/usr/bin/python3"))
		return;
	a = apply(f, accounts, NULL);
	if (!exm_dp_fixture_configure(f->fx, &error) || !exm_dp_fixture_start_exim(f->fx, &error))
		EXM_TEST_OK(error);
	g_assert_true(g_file_set_contents(f->passwd, "", 0, NULL));
	g_assert_cmpint(
		exm_dp_fixture_auth(f->fx, 587, "alice@example.com", "twin-pw", "PLAIN"), ==, 235);
	g_assert_cmpint(exm_dp_fixture_auth(f->fx, 465, "ALICE", "twin-pw", "LOGIN"), ==, 235);
	g_assert_cmpint(
		exm_dp_fixture_auth(f->fx, 587, "alice@example.com", "wrong-pw", "PLAIN"), ==, 535);
	g_assert_cmpint(unlink(f->passwd_cdb), ==, 0);
	g_assert_cmpint(
		exm_dp_fixture_auth(f->fx, 587, "alice@example.com", "twin-pw", "PLAIN"), !=, 235);
}

/* Whether the listed value's usage member counts @address. */
static gboolean
listed_usage_has(GPtrArray *list, const gchar *address)
{
	JsonNode *usage = json_object_get_member(json_node_get_object(list->pdata[0]), "usage");
	g_autofree gchar *text = usage != NULL ? exm_json_to_string(usage) : NULL;

	return text != NULL && strstr(text, address) != NULL;
}

/* A usage reader fed by hand, set on the driver as the adapter sets it. */
typedef struct {
	ExmDpLogStats *log;
	ExmDpUsage *usage;
} UsageFx;

static void
usage_attach(Fixture *f, UsageFx *u)
{
	u->log = exm_dp_logstats_new("/nonexistent/mainlog", TRUE);
	u->usage = exm_dp_usage_new();
	exm_dp_logstats_set_observer(u->log, exm_dp_usage_observe, u->usage);
	exm_dp_logstats_set_login_observer(u->log, exm_dp_usage_observe_login, u->usage);
	exm_dp_driver_set_usage(f->driver, u->log, u->usage);
}

static void
usage_detach(Fixture *f, UsageFx *u)
{
	exm_dp_driver_set_usage(f->driver, NULL, NULL);
	exm_dp_logstats_free(u->log);
	exm_dp_usage_free(u->usage);
}

/* A message @user of the test domain sent now, as exim's main log has it. */
static void
usage_mail(UsageFx *u, const gchar *id, const gchar *user)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree gchar *when = g_date_time_format(now, "%Y-%m-%d %H:%M:%S");
	g_autofree gchar *line = g_strdup_printf(
		"%s %s <= %s@" EXM_DP_TEST_DOMAIN " H=(c.test) [127.0.0.1] P=esmtpsa "
		"X=TLS1.3:x:256 A=plain_server:%s@" EXM_DP_TEST_DOMAIN " S=512 for "
		"someone@example.net",
		when,
		id,
		user,
		user);

	exm_dp_logstats_feed_line(u->log, line, strlen(line));
}

/*
 * `unchanged` with usage (issue 16): mail moving changes the reported value
 * though no file the stamp sees changed, so an idle agent must not skip it
 * (without a hold; the hold is test_usage_held()'s).
 */
static void
test_unchanged_usage(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", "bob", HASH_1, "1", NULL };
	g_autoptr(JsonNode) a = apply(f, accounts, NULL);
	g_autoptr(GPtrArray) keep = NULL;
	UsageFx u;

	usage_attach(f, &u);
	exm_dp_driver_set_usage_hold(f->driver, 0);
	listed_accounts(f, &keep);
	g_clear_pointer(&keep, g_ptr_array_unref);
	listed_accounts(f, &keep); /* the kept listing */
	g_assert_false(listed_usage_has(keep, "alice@" EXM_DP_TEST_DOMAIN));
	g_assert_true(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	usage_mail(&u, "1tJ001-0001Ab-Cd", "alice");
	g_assert_false(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_clear_pointer(&keep, g_ptr_array_unref);
	listed_accounts(f, &keep);
	/* the listing kept before the mail moved is not what is listed now */
	g_assert_true(listed_usage_has(keep, "alice@" EXM_DP_TEST_DOMAIN));
	g_assert_true(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	/* no file changed: the kept values with the usage of now, exactly what
	 * a driver reading the files lists (docs/scale.md §3) */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmDpDriver) fresh = exm_dp_driver_new(f->fx->config, &error);
		g_autofree gchar *kept = NULL;
		g_autofree gchar *read = NULL;

		g_assert_no_error(error);
		usage_mail(&u, "1tJ002-0001Ab-Cd", "bob");
		kept = list_text(f->driver);
		exm_dp_driver_set_usage(fresh, u.log, u.usage);
		read = list_text(fresh);
		exm_dp_driver_set_usage(fresh, NULL, NULL);
		g_assert_cmpstr(kept, ==, read);
		g_assert_nonnull(strstr(kept, "bob@" EXM_DP_TEST_DOMAIN));
	}
	usage_detach(f, &u);
}

#define HOLD_S 2

/*
 * The usage hold (docs/usage.md §3): after a listing, a change of the usage
 * alone leaves `unchanged` true until the hold is over, so a node whose mail
 * moves does not report every account at every iteration; the first change
 * after a spell quieter than the hold, and a changed file, are not held.
 */
static void
test_usage_held(Fixture *f, gconstpointer data)
{
	const gchar *accounts[] = { "alice", HASH_1, "1", "bob", HASH_1, "1", NULL };
	g_autoptr(JsonNode) a = apply(f, accounts, NULL);
	g_autoptr(GPtrArray) keep = NULL;
	g_autofree gchar *text = NULL;
	UsageFx u;

	usage_attach(f, &u);
	/* the configuration's default, 30 s, until set */
	g_assert_cmpint(f->fx->config->usage_report_interval, ==, EXM_DP_USAGE_REPORT_INTERVAL);
	exm_dp_driver_set_usage_hold(f->driver, HOLD_S);
	listed_accounts(f, &keep);
	usage_mail(&u, "1tJ001-0001Ab-Cd", "alice");
	g_assert_true(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_usleep((HOLD_S * 1000 + 100) * 1000);
	/* the hold is over: reported, with the mail of the hold; the files are
	 * as listed (a change is written without listing them first) */
	g_assert_false(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_assert_true(exm_dp_driver_keys_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_clear_pointer(&keep, g_ptr_array_unref);
	listed_accounts(f, &keep);
	g_assert_true(listed_usage_has(keep, "alice@" EXM_DP_TEST_DOMAIN));
	g_assert_true(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	/* quiet for longer than the hold: the next mail is reported at once */
	g_usleep((HOLD_S * 1000 + 100) * 1000);
	usage_mail(&u, "1tJ002-0001Ab-Cd", "bob");
	g_assert_false(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_clear_pointer(&keep, g_ptr_array_unref);
	listed_accounts(f, &keep);
	g_assert_true(listed_usage_has(keep, "bob@" EXM_DP_TEST_DOMAIN));
	/* held again; a file written by someone else is not */
	usage_mail(&u, "1tJ003-0001Ab-Cd", "alice");
	g_assert_true(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	text = exm_test_read_file(f->passwd);
	g_assert_true(g_file_set_contents(f->passwd, text, -1, NULL));
	g_assert_false(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	g_assert_false(exm_dp_driver_keys_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	/* no hold: every change at once */
	g_clear_pointer(&keep, g_ptr_array_unref);
	listed_accounts(f, &keep);
	exm_dp_driver_set_usage_hold(f->driver, 0);
	usage_mail(&u, "1tJ004-0001Ab-Cd", "bob");
	g_assert_false(exm_dp_driver_unchanged(f->driver, EXM_DP_DRIVER_KIND));
	usage_detach(f, &u);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
#define ADD(path, fn) g_test_add("/dp/index/" path, Fixture, NULL, setup, fn, teardown)
	ADD("twins-written", test_twins_written);
	ADD("twin-diverged", test_twin_diverged);
	ADD("twin-header-repaired", test_twin_header_repaired);
	ADD("policy-twin-diverged", test_policy_twin_diverged);
	ADD("unchanged", test_unchanged);
	ADD("unchanged-usage", test_unchanged_usage);
	ADD("usage-held", test_usage_held);
	ADD("listing-kept", test_listing_kept);
	ADD("put-meta-kept", test_put_meta_kept);
	ADD("listing-file", test_listing_file);
	ADD("configure-makes-twin", test_configure_makes_twin);
	ADD("exim-reads-twin", test_exim_reads_twin);
#undef ADD
	return g_test_run();
}
