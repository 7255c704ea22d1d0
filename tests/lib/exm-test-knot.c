/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * knotd for the DNS tests (exm-test-knot.h).
 */
#include "exm-test-knot.h"

#include <signal.h>
#include <sys/wait.h>

#include "exm-test.h"

struct _ExmTestKnot {
	gchar *dir;
	gchar *conf;
	gchar *server;
	gchar *first;
	gint port;
	GPid pid;
	guint serial;
};

static gchar *
conf_text(ExmTestKnot *k, const gchar *const *zones)
{
	GString *s = g_string_new(NULL);

	g_string_append_printf(s,
			       "server:\n  rundir: \"%s\"\n  listen: 127.0.0.1@%d\n"
			       "database:\n  storage: \"%s\"\n"
			       "control:\n  listen: \"%s/knot.sock\"\n"
			       "log:\n  - target: stderr\n    any: warning\n"
			       "template:\n  - id: default\n    storage: \"%s\"\n"
			       "    file: \"%%s.zone\"\n    zonefile-sync: -1\n"
			       "    zonefile-load: whole\n    journal-content: none\n"
			       "zone:\n",
			       k->dir,
			       k->port,
			       k->dir,
			       k->dir,
			       k->dir);
	for (guint i = 0; zones[i] != NULL; i++)
		g_string_append_printf(s, "  - domain: %s\n", zones[i]);
	return g_string_free(s, FALSE);
}

ExmTestKnot *
exm_test_knot_new(const gchar *const *zones)
{
	g_autofree gchar *knotd = exm_test_find_program("knotd");
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	ExmTestKnot *k;

	if (knotd == NULL) {
		exm_test_peer_missing("knotd not installed (Debian package knot)");
		return NULL;
	}
	k = g_new0(ExmTestKnot, 1);
	k->dir = exm_test_mkdtemp("exm-knot");
	k->port = exm_test_free_port();
	k->server = g_strdup_printf("127.0.0.1@%d", k->port);
	k->first = g_strdup(zones[0]);
	k->conf = g_strdup_printf("%s/knot.conf", k->dir);
	k->serial = 1;
	text = conf_text(k, zones);
	g_file_set_contents(k->conf, text, -1, &error);
	g_assert_no_error(error);
	return k;
}

void
exm_test_knot_write_zone(ExmTestKnot *k, const gchar *origin, const gchar *records)
{
	g_autofree gchar *path = g_strdup_printf("%s/%s.zone", k->dir, origin);
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;

	k->serial++;
	text = g_strdup_printf("$ORIGIN %s.\n$TTL 3600\n@ SOA ns.%s. hostmaster.%s. %u 3600 600 "
			       "86400 60\n@ NS ns.%s.\n%s%s\n",
			       origin,
			       k->first,
			       k->first,
			       k->serial,
			       k->first,
			       g_str_equal(origin, k->first) ? "ns A 127.0.0.1\n" : "",
			       records);
	g_file_set_contents(path, text, -1, &error);
	g_assert_no_error(error);
}

gboolean
exm_test_knot_start(ExmTestKnot *k)
{
	g_autofree gchar *knotd = exm_test_find_program("knotd");
	const gchar *argv[] = { knotd, "-c", k->conf, NULL };
	g_autoptr(GError) error = NULL;

	if (!g_spawn_async(NULL,
			   (gchar **)argv,
			   NULL,
			   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
			   exm_test_die_with_parent,
			   GINT_TO_POINTER(SIGTERM),
			   &k->pid,
			   &error)) {
		g_assert_no_error(error);
		return FALSE;
	}
	for (guint i = 0; i < 200 && !exm_test_can_connect("127.0.0.1", (guint)k->port); i++)
		g_usleep(50 * 1000);
	g_assert_true(exm_test_can_connect("127.0.0.1", (guint)k->port));
	return exm_test_can_connect("127.0.0.1", (guint)k->port);
}

void
exm_test_knot_reload(ExmTestKnot *k)
{
	g_autofree gchar *knotc = exm_test_find_program("knotc");
	/* -b: knotc returns once the zones are loaded; without it the reload
	 * is only queued, and a query right after it could still be answered
	 * from the old zone (a DKIM record fixed in the zone was reported
	 * wrong once in a full run) */
	const gchar *argv[] = { knotc, "-b", "-c", k->conf, "zone-reload", NULL };
	g_autofree gchar *err = NULL;

	g_assert_cmpint(exm_test_run(argv, NULL, &err), ==, 0);
}

void
exm_test_knot_stop(ExmTestKnot *k)
{
	if (k->pid == 0)
		return;
	kill(k->pid, SIGTERM);
	waitpid(k->pid, NULL, 0);
	g_spawn_close_pid(k->pid);
	k->pid = 0;
}

const gchar *
exm_test_knot_server(ExmTestKnot *k)
{
	return k->server;
}

void
exm_test_knot_free(ExmTestKnot *k)
{
	if (k == NULL)
		return;
	exm_test_knot_stop(k);
	g_assert_cmpuint(exm_test_count_processes(k->dir), ==, 0);
	exm_test_rmtree(k->dir);
	g_free(k->dir);
	g_free(k->conf);
	g_free(k->server);
	g_free(k->first);
	g_free(k);
}
