/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fault (d) of issue 21: two hosts on one database, each with its user API,
 * agent APIs and engine, driving the same local backend.  Two writers, one
 * per host, create accounts at the same time, and both post the same names
 * too; then each host takes writes on its own while the node's agent talks
 * to the other one.  Targets: 0 acknowledged writes lost, 0 duplicated (a
 * name listed twice or acknowledged by both hosts), and every write wakes
 * the other host's agent (it reaches the node in well under the agent's
 * long-poll wait of 10 s; a write that woke nobody waits for it).
 */
#include <string.h>

#include "exh-local-backend.h"
#include "exm-test.h"
#include "test-faults-fixture.h"

#define WRITES	 20 /* per writer */
#define SAME	 10 /* names both writers post */
#define CROSS	 10 /* writes through one host, agent on the other */
#define WOKEN_MS 3000
#define PASSWORD "two hosts"

/* First sighting of each passwd line, by a thread polling the file. */
typedef struct {
	const ExhLocalNodeInfo *node;
	GMutex lock;
	GHashTable *seen; /* local part → gint64* (monotonic µs) */
	gint stop;	  /* atomic */
} Watch;

typedef struct {
	ExhTest *t;
	const gchar *instance;
	const gchar *prefix;
	GHashTable *acked; /* local part → gint64* (monotonic µs of the 201) */
	guint same_acked;
} Writer;

static gint64 *
stamp_now(void)
{
	gint64 *t = g_new(gint64, 1);

	*t = g_get_monotonic_time();
	return t;
}

static void
watch_once(Watch *w)
{
	g_autofree gchar *path = faults_passwd_path(w->node);
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return;
	lines = g_strsplit(text, "\n", -1);
	g_mutex_lock(&w->lock);
	for (guint i = 0; lines[i] != NULL; i++) {
		gchar *at = strchr(lines[i], '@');

		if (at == NULL)
			continue;
		*at = '\0';
		if (!g_hash_table_contains(w->seen, lines[i]))
			g_hash_table_insert(w->seen, g_strdup(lines[i]), stamp_now());
	}
	g_mutex_unlock(&w->lock);
}

static gpointer
watch_run(gpointer data)
{
	Watch *w = data;

	while (!g_atomic_int_get(&w->stop)) {
		watch_once(w);
		g_usleep(2 * 1000);
	}
	return NULL;
}

static gpointer
writer_run(gpointer data)
{
	Writer *w = data;

	for (guint i = 0; i < WRITES; i++) {
		g_autofree gchar *local = g_strdup_printf("%s%02u", w->prefix, i);
		g_autofree gchar *same = g_strdup_printf("same%02u", i);

		if (faults_try_create_account(w->t, w->instance, local, PASSWORD))
			g_hash_table_insert(w->acked, g_steal_pointer(&local), stamp_now());
		if (i < SAME && faults_try_create_account(w->t, w->instance, same, PASSWORD))
			w->same_acked++;
		g_usleep(100 * 1000);
	}
	return NULL;
}

/* Milliseconds from the 201 to the node; -1 when the line never came. */
static gdouble
wait_seen(Watch *w, const gchar *local, gint64 acked_at)
{
	gint64 start = g_get_monotonic_time();

	while (g_get_monotonic_time() - start < FAULTS_WAIT_US) {
		gint64 *seen;

		g_mutex_lock(&w->lock);
		seen = g_hash_table_lookup(w->seen, local);
		g_mutex_unlock(&w->lock);
		if (seen != NULL)
			return (gdouble)MAX(*seen - acked_at, 0) / 1000.0;
		g_usleep(10 * 1000);
	}
	return -1;
}

/* Propagation of each acknowledged write into @ms; the writes never seen. */
static guint
collect(Watch *w, GHashTable *acked, GArray *ms)
{
	GHashTableIter iter;
	gpointer key, value;
	guint lost = 0;

	g_hash_table_iter_init(&iter, acked);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		gdouble v = wait_seen(w, key, *(gint64 *)value);

		if (v < 0)
			lost++;
		else
			g_array_append_val(ms, v);
	}
	return lost;
}

/* The acknowledged names that the API does not list. */
static guint
count_unlisted(GHashTable *acked, GHashTable *listed)
{
	GHashTableIter iter;
	gpointer key;
	guint n = 0;

	g_hash_table_iter_init(&iter, acked);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		n += g_hash_table_contains(listed, key) ? 0 : 1;
	return n;
}

/* The concurrent phase: both writers at once; lost and duplicated writes. */
static void
concurrent_writers(E2e *e, ExhTest *peer, const gchar *instance, Watch *w)
{
	g_autoptr(GHashTable) acked_a =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(GHashTable) acked_b =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	Writer a = { e->t, instance, "a", acked_a, 0 }, b = { peer, instance, "b", acked_b, 0 };
	g_autoptr(GArray) ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GPtrArray) listed = NULL;
	g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
	GThread *ta, *tb;
	guint lost, twice = 0;

	ta = g_thread_new("writer-a", writer_run, &a);
	tb = g_thread_new("writer-b", writer_run, &b);
	g_thread_join(ta);
	g_thread_join(tb);
	lost = collect(w, a.acked, ms) + collect(w, b.acked, ms);
	listed = faults_list_accounts(e->t, instance);
	if (listed == NULL)
		return;
	for (guint i = 0; i < listed->len; i++) {
		if (!g_hash_table_add(names, listed->pdata[i]))
			twice++;
	}
	lost += count_unlisted(a.acked, names) + count_unlisted(b.acked, names);
	for (guint i = 0; i < SAME; i++) {
		g_autofree gchar *same = g_strdup_printf("same%02u", i);

		lost += g_hash_table_contains(names, same) ? 0 : 1;
	}
	/* a name acknowledged by both hosts is a duplicate even if listed once */
	twice += a.same_acked + b.same_acked > SAME ? a.same_acked + b.same_acked - SAME : 0;
	g_array_sort(ms, exm_test_cmp_double);
	faults_figure("0",
		      "writes lost with two hosts and concurrent writers: %u of %u",
		      lost,
		      g_hash_table_size(a.acked) + g_hash_table_size(b.acked) + SAME);
	faults_figure("0", "writes duplicated: %u", twice);
	if (ms->len > 0)
		faults_figure("< " G_STRINGIFY(WOKEN_MS) " ms",
			      "propagation of the concurrent writes: p50 %.0f ms, max %.0f ms",
			      exm_test_percentile((gdouble *)ms->data, ms->len, 50),
			      g_array_index(ms, gdouble, ms->len - 1));
	g_assert_cmpuint(lost, ==, 0);
	g_assert_cmpuint(twice, ==, 0);
}

/* CROSS writes through @writer, one at a time; how many woke no agent. */
static guint
cross_writes(ExhTest *writer, const gchar *instance, Watch *w, const gchar *label)
{
	g_autoptr(GArray) ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	guint asleep = 0;

	for (guint i = 0; i < CROSS; i++) {
		g_autofree gchar *local = g_strdup_printf("%s%02u", label, i);
		gint64 at;
		gdouble v;

		if (!faults_try_create_account(writer, instance, local, PASSWORD)) {
			g_test_fail_printf("write %s refused", local);
			return CROSS;
		}
		at = g_get_monotonic_time();
		v = wait_seen(w, local, at);
		if (v < 0 || v >= WOKEN_MS)
			asleep++;
		if (v >= 0)
			g_array_append_val(ms, v);
	}
	g_array_sort(ms, exm_test_cmp_double);
	faults_figure("0",
		      "writes through host %s that did not wake the other host's agent: %u of %u "
		      "(propagation p50 %.0f ms, max %.0f ms)",
		      label + 1,
		      asleep,
		      CROSS,
		      ms->len > 0 ? exm_test_percentile((gdouble *)ms->data, ms->len, 50) : -1,
		      ms->len > 0 ? g_array_index(ms, gdouble, ms->len - 1) : -1);
	return asleep;
}

/* Waits until the node's agent was started again after @starts starts. */
static gboolean
wait_agent_restart(E2e *e, const gchar *instance, guint starts)
{
	gint64 start = g_get_monotonic_time();

	while (g_get_monotonic_time() - start < FAULTS_WAIT_US) {
		g_autoptr(ExhLocalNodeInfo) now = e2e_node(e, instance);

		if (now != NULL && now->agent_starts > starts && now->agent_pid > 0)
			return TRUE;
		g_usleep(10 * 1000);
	}
	g_test_fail_printf("the agent was not restarted towards the other host");
	return FALSE;
}

/* Points the node's agent at @host (the backend restarts it). */
static gboolean
move_agent(E2e *e, ExhTest *host, const gchar *instance)
{
	g_autoptr(ExhLocalNodeInfo) before = e2e_node(e, instance);

	exh_local_backend_set_endpoints(
		e->backend, exh_host_get_orch_url(host->host), exh_host_get_status_url(host->host));
	return before != NULL && wait_agent_restart(e, instance, before->agent_starts);
}

static void
run_phases(E2e *e, ExhTest *peer, const gchar *instance, Watch *w)
{
	guint asleep;

	if (!faults_try_create_account(peer, instance, "probe", PASSWORD) ||
	    wait_seen(w, "probe", g_get_monotonic_time()) < 0) {
		g_test_fail_printf("the node never took a write through the second host");
		return;
	}
	concurrent_writers(e, peer, instance, w);
	asleep = cross_writes(e->t, instance, w, "xa");
	if (!move_agent(e, e->t, instance))
		return;
	asleep += cross_writes(peer, instance, w, "xb");
	if (FAULTS_ASSERT_TIMES)
		g_assert_cmpuint(asleep, ==, 0);
}

static void
test_two_hosts(void)
{
	g_autoptr(E2e) e = e2e_new(TRUE);
	g_autoptr(ExhLocalNodeInfo) node = NULL;
	g_autofree gchar *instance = NULL;
	g_autoptr(ExhTest) peer = NULL;
	Watch w = { 0 };
	GThread *watcher;

	if (e == NULL || (node = faults_active_instance(e, "mail-two", &instance)) == NULL)
		return;
	/* the peer's start points the agent at it */
	peer = e2e_start_peer_host(e);
	if (peer == NULL || !wait_agent_restart(e, instance, node->agent_starts))
		return;
	w.node = node;
	g_mutex_init(&w.lock);
	w.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	watcher = g_thread_new("passwd-watch", watch_run, &w);
	run_phases(e, peer, instance, &w);
	g_atomic_int_set(&w.stop, 1);
	g_thread_join(watcher);
	g_hash_table_unref(w.seen);
	g_mutex_clear(&w.lock);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/faults/two-hosts", test_two_hosts);
	return g_test_run();
}
