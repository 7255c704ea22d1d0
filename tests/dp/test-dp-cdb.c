/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * exim's own cdb lookup as the oracle of the cdb writer: every record this
 * project's writer puts in a file is what `exim4 -be '${lookup{k}cdb{f}}'`
 * finds, and for the rendered passwd and policy files the cdb twin answers
 * every lookup (lower-cased, as exim4.conf.in asks) exactly as lsearch
 * answers on the lsearch file.
 */
#include <string.h>

#include "exm-cdb.h"
#include "exm-dp-fixture.h"
#include "exm-mail-cdb.h"
#include "exm-mail-files.h"
#include "exm-test.h"

#define HASH_A                                                                                     \
	"$6$abcdefgh$oGoxMtczJ0/xYkNKQnGuC3pOdNoGsZRZNs7n5JzX8KfMJWEmD2Bx4wBt/"                    \
	"tMCPvjE87aPyrlQPEKxEcxV6d4J6."

/* Runs every expression of @exprs through one `exim4 -be` and returns its
 * answers, one per expression. */
static GPtrArray *
exim_expand(GPtrArray *exprs)
{
	g_autoptr(GString) in = g_string_new(NULL);
	g_autoptr(GSubprocess) p = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	g_auto(GStrv) lines = NULL;
	GPtrArray *answers = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < exprs->len; i++)
		g_string_append_printf(in, "%s\n", (const gchar *)exprs->pdata[i]);
	p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
			     &error,
			     "exim4",
			     "-C",
			     "/dev/null",
			     "-be",
			     NULL);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8(p, in->str, NULL, &out, NULL, &error);
	g_assert_no_error(error);
	lines = g_strsplit(out, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		/* each answer is printed after a "> " prompt */
		if (g_str_has_prefix(lines[i], "> ") && answers->len < exprs->len)
			g_ptr_array_add(answers, g_strdup(lines[i] + 2));
	}
	g_assert_cmpuint(answers->len, ==, exprs->len);
	return answers;
}

static void
write_file(const gchar *path, gconstpointer data, gsize len)
{
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, data, (gssize)len, &error);
	g_assert_no_error(error);
}

/* Keys of the characters logins and policy lines use, values with ':' and
 * spaces; a few keys twice (the first record is the one found). */
static void
test_writer_against_exim(void)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(ExmCdbWriter) w = exm_cdb_writer_new();
	g_autoptr(GPtrArray) exprs = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) want = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) got = NULL;
	g_autoptr(GRand) rand = g_rand_new_with_seed(18);
	guint8 *db;
	gsize len = 0;

	if (!exm_dp_have("exim4"))
		return;
	dir = exm_test_mkdtemp("dp-cdb");
	path = g_build_filename(dir, "t.cdb", NULL);
	for (guint i = 0; i < 2000; i++) {
		g_autofree gchar *k =
			g_strdup_printf("u%x.%u+t@Ex-%u.example", g_rand_int(rand), i, i % 7);
		g_autofree gchar *v = g_strdup_printf("$6$%u$h:%u mph=%u", i, g_rand_int(rand), i);

		g_assert_true(exm_cdb_writer_add(w, k, strlen(k), v, strlen(v), NULL));
		if (i % 100 == 0)
			g_assert_true(exm_cdb_writer_add(w, k, strlen(k), "later", 5, NULL));
		g_ptr_array_add(
			exprs, g_strdup_printf("${lookup{%s}cdb{%s}{<$value>}{MISSING}}", k, path));
		g_ptr_array_add(want, g_strdup_printf("<%s>", v));
	}
	g_ptr_array_add(exprs,
			g_strdup_printf("${lookup{nobody}cdb{%s}{<$value>}{MISSING}}", path));
	g_ptr_array_add(want, g_strdup("MISSING"));
	db = exm_cdb_writer_finish(w, &len, NULL);
	write_file(path, db, len);
	exm_cdb_free(db, len);
	got = exim_expand(exprs);
	for (guint i = 0; i < want->len; i++)
		g_assert_cmpstr(got->pdata[i], ==, want->pdata[i]);
	exm_test_rmtree(dir);
}

static ExmMailNode *
sample_node(void)
{
	ExmMailNode *n = exm_mail_node_new();
	const gchar *senders[] = { "*@news.example.com", "zed@example.com", NULL };
	const ExmMailLimits limits = { .messages_per_hour = 50, .auth_fail_limit = 5 };

	n->domain = g_strdup("example.com");
	g_assert_true(exm_mail_node_add_account(n, "zed", HASH_A, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "amy", "{SHA512-CRYPT}" HASH_A, TRUE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "off", HASH_A, FALSE, NULL));
	g_assert_true(exm_mail_node_add_account(n, "a.b+c", HASH_A, TRUE, NULL));
	g_assert_true(exm_mail_node_set_account_policy(n, "zed", 20, 7, senders, NULL));
	g_assert_true(exm_mail_node_set_account_policy(n, "amy", 3, 0, NULL, NULL));
	g_assert_true(exm_mail_node_set_limits(n, &limits, NULL));
	return n;
}

/* lsearch on the file vs cdb on its twin with the key lower-cased. */
static void
compare_lookups(const gchar *file, const gchar *text)
{
	const gchar *keys[] = { "zed@example.com",
				"ZED@Example.com",
				"amy@example.com",
				"Amy@EXAMPLE.COM",
				"off@example.com",
				"a.b+c@example.com",
				".instance",
				"nobody@example.com",
				"zed",
				"#",
				NULL };
	g_autofree gchar *cdb = g_strconcat(file, ".cdb", NULL);
	g_autoptr(GPtrArray) exprs = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) got = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	guint8 *db = exm_mail_cdb_from_lsearch(text, &len, &error);

	g_assert_no_error(error);
	write_file(file, text, strlen(text));
	write_file(cdb, db, len);
	exm_cdb_free(db, len);
	for (guint i = 0; keys[i] != NULL; i++) {
		g_ptr_array_add(exprs,
				g_strdup_printf("${lookup{%s}lsearch{%s}{<$value>}{MISSING}}",
						keys[i],
						file));
		g_ptr_array_add(exprs,
				g_strdup_printf("${lookup{${lc:%s}}cdb{%s}{<$value>}{MISSING}}",
						keys[i],
						cdb));
	}
	got = exim_expand(exprs);
	for (guint i = 0; i < got->len; i += 2) {
		g_test_message("%s: lsearch %s, cdb %s",
			       keys[i / 2],
			       (const gchar *)got->pdata[i],
			       (const gchar *)got->pdata[i + 1]);
		g_assert_cmpstr(got->pdata[i], ==, got->pdata[i + 1]);
	}
	/* not vacuous: the accounts are there */
	g_assert_cmpstr(got->pdata[0], !=, "MISSING");
}

static void
test_rendered_files_against_lsearch(void)
{
	g_autoptr(ExmMailNode) node = NULL;
	g_autofree gchar *dir = NULL;
	g_autofree gchar *passwd = NULL;
	g_autofree gchar *policy = NULL;
	g_autofree gchar *ptext = NULL;
	g_autofree gchar *ltext = NULL;

	if (!exm_dp_have("exim4"))
		return;
	node = sample_node();
	dir = exm_test_mkdtemp("dp-cdb");
	passwd = g_build_filename(dir, "passwd", NULL);
	policy = g_build_filename(dir, "policy", NULL);
	ptext = exm_mail_passwd_render(node);
	ltext = exm_mail_policy_render(node);
	compare_lookups(passwd, ptext);
	compare_lookups(policy, ltext);
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/cdb/writer-against-exim", test_writer_against_exim);
	g_test_add_func("/dp/cdb/rendered-files-against-lsearch",
			test_rendered_files_against_lsearch);
	return g_test_run();
}
