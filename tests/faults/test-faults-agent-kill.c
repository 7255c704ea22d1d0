/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fault (a) of issue 21: the node's agent is killed with SIGKILL during 200
 * applies (40 under AddressSanitizer).  Each apply is one account write
 * through the API (create, new password, disable, enable); during every
 * second one, a random 0–50 ms after its answer, the agent is killed, the
 * node's files are inspected while it is down, and it is started again (the
 * local backend's own restart would back off).  (A kill in every apply
 * doubles the run time and finds nothing more.)
 * Targets: 0 torn files, 0 files with a wrong mode or owner (a temporary
 * file wider than its file included), 0 temporary files of a killed agent
 * still there once the restarted one has applied the write, every write on
 * the node in the end; figures: those counts and the time from the restart
 * to the write being on the node.
 */
#include <glib/gstdio.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "exm-test.h"
#include "test-faults-fixture.h"

#if defined(__SANITIZE_ADDRESS__)
/* the sanitizer run looks for memory errors, at several times the cost */
#define APPLIES 40
#else
#define APPLIES 200
#endif
#define KILL_EVERY 2
#define USERS	   20
/* a restarted agent that took longer than this did not converge in time */
#define CONVERGE_TARGET_MS 5000

/* What the node must show for each account (the test's model of the API). */
typedef struct {
	gchar *uuid;
	gchar *password;
	gboolean active;
} Account;

typedef struct {
	E2e *e;
	gchar *instance;
	ExhLocalNodeInfo *node;
	Account accounts[USERS];
	guint torn;
	guint wrong_mode;
	GHashTable *stale;   /* temporary files a killed agent left that outlived the restart */
	GHashTable *checked; /* temporary files whose mode was checked */
	GArray *converge_ms;
} Run;

/* The files the agent (or the backend for it) writes, and how they must look. */
typedef enum { KIND_PASSWD, KIND_JSON, KIND_ENV } Kind;

static const struct {
	const gchar *path;
	guint mode;
	const gchar *group; /* NULL: root */
	Kind kind;
} node_files[] = {
	{ "etc/exim4/passwd", 0640, "Debian-exim", KIND_PASSWD },
	{ "var/lib/exordos/exordos_metapaas/payload.json", 0600, NULL, KIND_JSON },
	{ "var/lib/exordos/universal_agent/mail_meta.json", 0600, NULL, KIND_JSON },
	{ "etc/exordos_metapaas/mail.env", 0640, NULL, KIND_ENV },
};

static gboolean
passwd_whole(const gchar *text)
{
	g_auto(GStrv) lines = NULL;

	if (text[0] == '\0')
		return TRUE;
	if (!g_str_has_suffix(text, "\n"))
		return FALSE;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i + 1] != NULL; i++) {
		if (!g_regex_match_simple("^[a-z0-9]+@" E2E_DOMAIN ":\\$[^:\\s]+$", lines[i], 0, 0))
			return FALSE;
	}
	return TRUE;
}

static gboolean
content_whole(Kind kind, const gchar *text, gsize len)
{
	g_autoptr(JsonParser) parser = json_parser_new();

	switch (kind) {
	case KIND_PASSWD:
		return passwd_whole(text);
	case KIND_JSON:
		return json_parser_load_from_data(parser, text, (gssize)len, NULL) &&
		       JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser));
	case KIND_ENV:
		return g_strcmp0(text, "MAIL_DOMAIN=" E2E_DOMAIN "\n") == 0;
	}
	return FALSE;
}

/* Counts the torn and the wrongly-moded files of the node as they are now. */
static void
inspect_files(Run *run)
{
	for (guint i = 0; i < G_N_ELEMENTS(node_files); i++) {
		g_autofree gchar *path =
			g_build_filename(run->node->root, node_files[i].path, NULL);
		g_autofree gchar *text = NULL;
		const struct group *gr =
			node_files[i].group != NULL ? getgrnam(node_files[i].group) : NULL;
		gid_t gid = gr != NULL ? gr->gr_gid : 0;
		struct stat st;
		gsize len = 0;

		if (g_stat(path, &st) != 0 || !g_file_get_contents(path, &text, &len, NULL) ||
		    !content_whole(node_files[i].kind, text, len)) {
			g_test_message("torn: %s: %s", node_files[i].path, text);
			run->torn++;
		} else if ((st.st_mode & 07777) != node_files[i].mode || st.st_uid != 0 ||
			   st.st_gid != gid) {
			g_test_message("wrong mode: %s %04o %u:%u",
				       node_files[i].path,
				       st.st_mode & 07777,
				       st.st_uid,
				       st.st_gid);
			run->wrong_mode++;
		}
	}
}

/* A temporary file must not be more open than the file it stands in for. */
static gboolean
temp_mode_ok(const gchar *path, const gchar *name)
{
	struct stat st;

	if (g_stat(path, &st) != 0)
		return TRUE; /* gone meanwhile */
	for (guint i = 0; i < G_N_ELEMENTS(node_files); i++) {
		g_autofree gchar *base = g_path_get_basename(node_files[i].path);
		g_autofree gchar *prefix = g_strdup_printf(".%s.", base);

		if (g_str_has_prefix(name, prefix))
			return (st.st_mode & 07777 & ~node_files[i].mode) == 0;
	}
	return (st.st_mode & 0077) == 0;
}

/*
 * Adds the temporary files (`.<name>.<random>.tmp`) below @dir to @found,
 * checking the mode of each the run has not seen before.
 */
static void
find_temp_files(Run *run, const gchar *dir, GHashTable *found)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);

		if (g_file_test(path, G_FILE_TEST_IS_SYMLINK))
			continue;
		if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
			find_temp_files(run, path, found);
			continue;
		}
		if (name[0] != '.' || !g_str_has_suffix(name, ".tmp"))
			continue;
		if (g_hash_table_add(run->checked, g_strdup(path)) && !temp_mode_ok(path, name)) {
			g_test_message("temporary file wider than its file: %s", path);
			run->wrong_mode++;
		}
		g_hash_table_add(found, g_steal_pointer(&path));
	}
}

/* How many of @left still exist. */
static guint
count_existing(GHashTable *left)
{
	GHashTableIter iter;
	gpointer path;
	guint n = 0;

	g_hash_table_iter_init(&iter, left);
	while (g_hash_table_iter_next(&iter, &path, NULL))
		n += g_file_test(path, G_FILE_TEST_EXISTS) ? 1 : 0;
	return n;
}

/*
 * The temporary files the killed agent left (@left) that are still there once
 * the new agent has had its chance.  The account can be on the node before the
 * new agent has even started (a kill between the passwd rename and the meta
 * rename), so convergence alone does not say the new agent swept; it is given
 * the convergence deadline, and what is left after it is stale.
 */
static void
count_stale(Run *run, GHashTable *left)
{
	GHashTableIter iter;
	gpointer path;
	gint64 start = g_get_monotonic_time();

	while (count_existing(left) > 0 && g_get_monotonic_time() - start < FAULTS_WAIT_US)
		g_usleep(5 * 1000);
	g_hash_table_iter_init(&iter, left);
	while (g_hash_table_iter_next(&iter, &path, NULL)) {
		if (g_file_test(path, G_FILE_TEST_EXISTS) &&
		    g_hash_table_add(run->stale, g_strdup(path)))
			g_test_message("left behind: %s", (const gchar *)path);
	}
}

/* SIGKILLs the node's agent; %TRUE once the backend has reaped it. */
static gboolean
kill_agent(Run *run)
{
	g_autoptr(ExhLocalNodeInfo) before = e2e_node(run->e, run->instance);
	gint64 start = g_get_monotonic_time();

	if (before == NULL || before->agent_pid <= 0)
		return FALSE;
	kill(before->agent_pid, SIGKILL);
	while (g_get_monotonic_time() - start < FAULTS_WAIT_US) {
		g_autoptr(ExhLocalNodeInfo) now = e2e_node(run->e, run->instance);

		/* 0: reaped; another pid: reaped and already restarted by the backend */
		if (now != NULL && now->agent_pid != before->agent_pid)
			return TRUE;
		g_usleep(1000);
	}
	return FALSE;
}

/* One account write through the API: the account it touched. */
static guint
write_once(Run *run, guint i)
{
	guint k = i % USERS;
	Account *a = &run->accounts[k];
	g_autofree gchar *local = g_strdup_printf("user%02u", k);
	g_autofree gchar *body = NULL;

	if (i < USERS) {
		a->password = g_strdup_printf("secret %u", i);
		a->uuid = e2e_create_account(run->e, run->instance, local, a->password);
		a->active = a->uuid != NULL;
		return k;
	}
	switch ((i / USERS) % 3) {
	case 0:
		g_free(a->password);
		a->password = g_strdup_printf("secret %u", i);
		body = g_strdup_printf("{\"password\":\"%s\"}", a->password);
		break;
	case 1:
		a->active = FALSE;
		body = g_strdup("{\"active\":false}");
		break;
	default:
		a->active = TRUE;
		body = g_strdup("{\"active\":true}");
	}
	g_assert_cmpuint(e2e_update_account(run->e, run->instance, a->uuid, body), ==, 200);
	return k;
}

/* The passwd line of `user<k>` carries a hash of its current password. */
static gboolean
has_password(Run *run, guint k, gchar **last_hash)
{
	g_autofree gchar *path = faults_passwd_path(run->node);
	g_autofree gchar *text = NULL;
	g_autofree gchar *prefix = g_strdup_printf("user%02u@" E2E_DOMAIN ":", k);
	g_autofree gchar *crypted = NULL;
	g_auto(GStrv) lines = NULL;
	const gchar *hash = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return FALSE;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL && hash == NULL; i++) {
		if (g_str_has_prefix(lines[i], prefix))
			hash = lines[i] + strlen(prefix);
	}
	if (hash == NULL || g_strcmp0(hash, *last_hash) == 0)
		return FALSE; /* none, or the one already found wrong */
	g_free(*last_hash);
	*last_hash = g_strdup(hash);
	crypted = exm_test_crypt(run->accounts[k].password, hash);
	return g_strcmp0(crypted, hash) == 0;
}

/* Milliseconds until the node shows account @k as the model says; < 0: never. */
static gdouble
wait_converged(Run *run, guint k)
{
	g_autofree gchar *local = g_strdup_printf("user%02u", k);
	g_autofree gchar *last_hash = NULL;
	gint64 start = g_get_monotonic_time();

	if (!run->accounts[k].active) {
		gint64 us = faults_wait_passwd(run->node, local, FALSE, FAULTS_WAIT_US);
		return us < 0 ? -1 : (gdouble)us / 1000.0;
	}
	while (g_get_monotonic_time() - start < FAULTS_WAIT_US) {
		if (has_password(run, k, &last_hash))
			return (gdouble)(g_get_monotonic_time() - start) / 1000.0;
		g_usleep(2 * 1000);
	}
	return -1;
}

/*
 * Write, kill within the apply, inspect the files and note the temporary ones
 * while the agent is down, restart, wait for the write, then see which of
 * those temporary files the new agent left in place.
 */
static gboolean
apply_and_kill(Run *run, guint i)
{
	g_autoptr(GHashTable) left = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	guint k = write_once(run, i);
	gboolean killed = i % KILL_EVERY == 0;
	gdouble ms;

	if (killed) {
		g_usleep(g_random_int_range(0, 50 * 1000));
		if (!kill_agent(run)) {
			g_test_fail_printf("apply %u: the agent was not running or not reaped", i);
			return FALSE;
		}
		inspect_files(run);
		find_temp_files(run, run->node->root, left);
		g_assert_true(exh_local_backend_set_agent_running(
			run->e->backend, run->node->uuid, TRUE));
	}
	ms = wait_converged(run, k);
	if (ms < 0) {
		g_test_fail_printf("apply %u: user%02u never reached the node", i, k);
		return FALSE;
	}
	if (killed) {
		g_array_append_val(run->converge_ms, ms);
		count_stale(run, left);
	}
	return TRUE;
}

/* Every account as the model says, by passwd and by a login of each active one. */
static guint
count_wrong_accounts(Run *run)
{
	guint wrong = 0;

	for (guint k = 0; k < USERS; k++) {
		g_autofree gchar *login = g_strdup_printf("user%02u@" E2E_DOMAIN, k);
		gint want = run->accounts[k].active ? 235 : 535;

		if (wait_converged(run, k) < 0 ||
		    e2e_login(run->e, run->node, FALSE, login, run->accounts[k].password) != want)
			wrong++;
	}
	return wrong;
}

static void
report(Run *run, guint wrong)
{
	gdouble *ms = (gdouble *)run->converge_ms->data;
	guint n = run->converge_ms->len;

	g_array_sort(run->converge_ms, exm_test_cmp_double);
	faults_figure(
		"0", "torn files after %u SIGKILLs during %u applies: %u", n, APPLIES, run->torn);
	faults_figure("0", "wrongly-moded files after %u SIGKILLs: %u", n, run->wrong_mode);
	faults_figure("0",
		      "temporary files of a killed agent still there after its restart: %u",
		      g_hash_table_size(run->stale));
	faults_figure("0", "accounts not as written on the node at the end: %u", wrong);
	if (n > 0)
		faults_figure("max <= " G_STRINGIFY(CONVERGE_TARGET_MS) " ms",
			      "convergence after a restart: p50 %.0f ms, p95 %.0f ms, max %.0f ms",
			      exm_test_percentile(ms, n, 50),
			      exm_test_percentile(ms, n, 95),
			      ms[n - 1]);
	g_assert_cmpuint(n, ==, APPLIES / KILL_EVERY);
	g_assert_cmpuint(run->torn, ==, 0);
	g_assert_cmpuint(run->wrong_mode, ==, 0);
	g_assert_cmpuint(g_hash_table_size(run->stale), ==, 0);
	g_assert_cmpuint(wrong, ==, 0);
	if (n > 0 && FAULTS_ASSERT_TIMES)
		g_assert_cmpfloat(ms[n - 1], <=, CONVERGE_TARGET_MS);
}

static void
test_agent_kill(void)
{
	g_autoptr(E2e) e = e2e_new(TRUE);
	Run run = { .e = e };
	guint i;

	if (e == NULL)
		return;
	run.node = faults_active_instance(e, "mail-kill", &run.instance);
	if (run.node == NULL)
		return;
	run.stale = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	run.checked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	run.converge_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	for (i = 0; i < APPLIES && apply_and_kill(&run, i); i++)
		;
	report(&run, count_wrong_accounts(&run));
	for (i = 0; i < USERS; i++) {
		g_free(run.accounts[i].uuid);
		g_free(run.accounts[i].password);
	}
	g_hash_table_unref(run.stale);
	g_hash_table_unref(run.checked);
	g_array_unref(run.converge_ms);
	g_free(run.instance);
	exh_local_node_info_free(run.node);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/faults/agent-kill", test_agent_kill);
	return g_test_run();
}
