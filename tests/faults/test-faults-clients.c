/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fault (e) of issue 21: hostile clients against the exordos-paas-host
 * executable (user API and Orch API): 1 000 clients that connect and vanish
 * (closing at once, after a whole request without reading the answer,
 * halfway through the header, or with a reset), then 200 slow clients that
 * send nothing or part of a header and stay.  They come from addresses of
 * their own (127.0.2.x, 127.0.3.x), so limits per client address do not
 * touch the normal client on 127.0.0.1.  Targets: the host's open file
 * descriptors (/proc/<pid>/fd) back to where they started after the
 * vanishing clients, while the slow ones stay (the host drops them after its
 * header timeout, 10 s by default) and after they are gone; the answers to
 * the normal client unchanged throughout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exh-test.h"
#include "exm-test.h"
#include "test-faults-fixture.h"

#define VANISHING 1000
#define BATCH	  100
#define SLOW	  200
/* the header timeout (10 s by default) with room for a loaded machine */
#define SLOW_WAIT_S 20
#define SETTLE_S    5
#define ANSWER_MS   5000

typedef struct {
	GSubprocess *proc;
	GPid pid;
	guint port;
	guint orch_port;
	gchar *dir;
	/* what the normal client asks and the answers it got before the storm */
	gchar *requests[3];
	guint ports[3];
	gchar *answers[3];
	guint normal;  /* normal requests made during the storm */
	guint changed; /* of those, answered otherwise than before */
	gdouble slowest_ms;
} Host;

static gboolean
write_config(Host *h, const gchar *path)
{
	ExmTestPg *pg = exm_test_pg_get();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *conninfo = NULL;
	g_autofree gchar *tokens = NULL;
	g_autofree gchar *plugin = exh_test_plugin_path();
	g_autofree gchar *text = NULL;

	if (pg == NULL || (tokens = exh_test_write_token_file(h->dir)) == NULL)
		return FALSE;
	conninfo = exm_test_pg_create_database(pg, &error);
	if (conninfo == NULL) {
		g_test_fail_printf("database: %s", error->message);
		return FALSE;
	}
	h->port = (guint)exm_test_free_port();
	h->orch_port = (guint)exm_test_free_port();
	/* one worker: its database connection is open after the warm-up, so
	 * a connection the storm makes it open later is not taken for a leak */
	text = g_strdup_printf("[host]\nport = %u\nworkers = 1\nplugins = %s\ntoken_file = %s\n"
			       "[db]\nconninfo = %s\n"
			       "[agent_api]\nenabled = true\norch_port = %u\nstatus_port = %d\n",
			       h->port,
			       plugin,
			       tokens,
			       conninfo,
			       h->orch_port,
			       exm_test_free_port());
	return g_file_set_contents(path, text, -1, NULL);
}

/* A TCP connection from @source (a loopback address) to 127.0.0.1:@port; -1 on failure. */
static int
connect_from(const gchar *source, guint port)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((guint16)port) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, source, &src.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The normal client: one request on a fresh connection; status line and body. */
static gchar *
ask(guint port, const gchar *request)
{
	g_autoptr(GString) got = g_string_new(NULL);
	int fd = connect_from("127.0.0.1", port);
	gchar buf[4096];
	gssize n;
	const gchar *eol, *body;

	if (fd < 0)
		return g_strdup("(connect failed)");
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) == (gssize)strlen(request)) {
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			g_string_append_len(got, buf, n);
	}
	close(fd);
	/* the headers carry a Date: compare what the client acts on */
	eol = strstr(got->str, "\r\n");
	body = strstr(got->str, "\r\n\r\n");
	if (eol == NULL || body == NULL)
		return g_strdup_printf("(no answer: %s)", got->str);
	return g_strdup_printf("%.*s | %s", (int)(eol - got->str), got->str, body + 4);
}

/* Until the user API answers 200 and the Orch API answers at all. */
static gboolean
wait_up(Host *h)
{
	gint64 start = g_get_monotonic_time();

	while (g_get_monotonic_time() - start < 60 * G_USEC_PER_SEC &&
	       g_subprocess_get_identifier(h->proc) != NULL) {
		g_autofree gchar *user = ask(h->port, h->requests[0]);
		g_autofree gchar *orch = ask(h->orch_port, h->requests[2]);

		if (g_str_has_prefix(user, "HTTP/1.1 200") && g_str_has_prefix(orch, "HTTP/1.1 "))
			return TRUE;
		g_usleep(50 * 1000);
	}
	g_test_fail_printf("the host did not come up");
	return FALSE;
}

static gboolean
host_start(Host *h)
{
	g_autofree gchar *exe = exh_test_host_path();
	g_autofree gchar *config = NULL;
	g_autoptr(GError) error = NULL;

	h->dir = exm_test_mkdtemp("exh-faults");
	config = g_build_filename(h->dir, "host.conf", NULL);
	if (!write_config(h, config))
		return FALSE;
	h->requests[0] = g_strdup("GET /v1/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	h->requests[1] = g_strdup("GET /v1/types/mail/instances/ HTTP/1.1\r\nHost: a\r\n"
				  "Authorization: Bearer " EXH_TEST_TOKEN_OWNER "\r\n"
				  "Connection: close\r\n\r\n");
	h->requests[2] = g_strdup("GET /v1/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	h->ports[0] = h->ports[1] = h->port;
	h->ports[2] = h->orch_port;
	{
		const gchar *argv[] = { exe, "--config", config, NULL };

		h->proc = exh_test_spawn(argv, &error);
	}
	if (h->proc == NULL) {
		g_test_fail_printf("spawn the host: %s", error->message);
		return FALSE;
	}
	h->pid = (GPid)atoi(g_subprocess_get_identifier(h->proc));
	return wait_up(h);
}

static void
host_stop(Host *h)
{
	exh_test_stop(&h->proc);
	if (h->dir != NULL)
		exm_test_rmtree(h->dir);
	g_free(h->dir);
	for (guint i = 0; i < G_N_ELEMENTS(h->requests); i++) {
		g_free(h->requests[i]);
		g_free(h->answers[i]);
	}
}

/* Each normal request once; counts the answers that differ from the first ones. */
static void
normal_round(Host *h)
{
	for (guint i = 0; i < G_N_ELEMENTS(h->requests); i++) {
		gint64 start = g_get_monotonic_time();
		g_autofree gchar *a = ask(h->ports[i], h->requests[i]);
		gdouble ms = (gdouble)(g_get_monotonic_time() - start) / 1000.0;

		if (h->answers[i] == NULL) {
			h->answers[i] = g_steal_pointer(&a);
			continue;
		}
		h->normal++;
		h->slowest_ms = MAX(h->slowest_ms, ms);
		if (g_strcmp0(a, h->answers[i]) != 0) {
			g_test_message("answer changed: %s -> %s", h->answers[i], a);
			h->changed++;
		}
	}
}

/* Client @i of a batch: what it does before it vanishes. */
static void
vanish(int fd, guint i, const gchar *request)
{
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	gchar buf[4096];

	switch (i % 5) {
	case 0: /* connects and goes */
		break;
	case 1: /* a whole request, never reads the answer */
		send(fd, request, strlen(request), MSG_NOSIGNAL);
		break;
	case 2: /* half a header */
		send(fd, request, strlen(request) / 2, MSG_NOSIGNAL);
		break;
	case 3: /* reads its answer, leaves the kept-alive connection idle (as curl) */
		send(fd, request, strlen(request), MSG_NOSIGNAL);
		recv(fd, buf, sizeof(buf), 0);
		break;
	default: /* a request, then a reset instead of a close */
		send(fd, request, strlen(request), MSG_NOSIGNAL);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	}
	close(fd);
}

/* VANISHING clients in batches of BATCH open at once, half on each API. */
static void
vanishing_clients(Host *h)
{
	const gchar *request = "GET /v1/types/mail/instances/ HTTP/1.1\r\nHost: a\r\n"
			       "Authorization: Bearer " EXH_TEST_TOKEN_OWNER "\r\n\r\n";

	for (guint b = 0; b < VANISHING / BATCH; b++) {
		int fds[BATCH];

		for (guint i = 0; i < BATCH; i++) {
			g_autofree gchar *source =
				g_strdup_printf("127.0.3.%u", 1 + (b * BATCH + i) % 250);

			fds[i] = connect_from(source, (i / 4) % 2 == 0 ? h->port : h->orch_port);
		}
		for (guint i = 0; i < BATCH; i++) {
			if (fds[i] >= 0)
				vanish(fds[i], i, request);
		}
		normal_round(h);
	}
}

/*
 * Waits up to @max_s for the host's descriptors to come back to @start, with a
 * normal round every 2 s; the excess left (0: back) and when it went (@out_s).
 */
static gint
wait_fds(Host *h, gint start, guint max_s, gdouble *out_s)
{
	gint64 t0 = g_get_monotonic_time(), last_round = t0;
	gint excess;

	for (;;) {
		gint64 now = g_get_monotonic_time();

		excess = exm_test_count_fds(h->pid) - start;
		if (excess <= 0 || now - t0 >= (gint64)max_s * G_USEC_PER_SEC)
			break;
		if (now - last_round >= 2 * G_USEC_PER_SEC) {
			normal_round(h);
			last_round = now;
		}
		g_usleep(200 * 1000);
	}
	if (out_s != NULL)
		*out_s = (gdouble)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
	return MAX(excess, 0);
}

/*
 * The host's descriptor count once it held still for a second (at most 10 s):
 * the engine's threads open their database connections on their own after
 * the host answers, later on a loaded machine, and those are not the storm's.
 */
static gint
settled_fds(Host *h)
{
	gint64 t0 = g_get_monotonic_time();
	gint count = exm_test_count_fds(h->pid);
	guint still = 0;

	while (still < 5 && g_get_monotonic_time() - t0 < 10 * G_USEC_PER_SEC) {
		gint now;

		g_usleep(200 * 1000);
		now = exm_test_count_fds(h->pid);
		still = now == count ? still + 1 : 0;
		count = now;
	}
	return count;
}

/* The host's descriptors now: number → what it points at. */
static GHashTable *
fd_table(Host *h)
{
	g_autofree gchar *dir = g_strdup_printf("/proc/%d/fd", (int)h->pid);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	GHashTable *fds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);

		g_hash_table_insert(fds, g_strdup(name), g_file_read_link(path, NULL));
	}
	return fds;
}

/* For the log: the first 40 descriptors the host holds that it did not at @start. */
static void
log_new_fds(Host *h, GHashTable *start)
{
	g_autoptr(GHashTable) now = fd_table(h);
	g_autoptr(GString) added = g_string_new(NULL);
	GHashTableIter iter;
	gpointer name, target;
	guint n = 0;

	g_hash_table_iter_init(&iter, now);
	while (g_hash_table_iter_next(&iter, &name, &target) && n < 40) {
		if (g_strcmp0(g_hash_table_lookup(start, name), target) != 0 && ++n)
			g_string_append_printf(added, " %s:%s", (gchar *)name, (gchar *)target);
	}
	if (n > 0)
		g_test_message("host fds added:%s", added->str);
}

/* SLOW clients that send nothing or half a header, then stay. */
static void
slow_clients(Host *h, int *fds)
{
	const gchar *part = "GET /v1/ HTTP/1.1\r\nHost: a\r\n";

	for (guint i = 0; i < SLOW; i++) {
		g_autofree gchar *source = g_strdup_printf("127.0.2.%u", 1 + i % 250);

		fds[i] = connect_from(source, i % 4 < 2 ? h->port : h->orch_port);
		if (fds[i] >= 0 && i % 2 == 1)
			send(fds[i], part, strlen(part), MSG_NOSIGNAL);
	}
}

/* How many of the slow clients' connections the host has closed. */
static guint
closed_by_host(const int *fds)
{
	guint closed = 0;

	for (guint i = 0; i < SLOW; i++) {
		gchar c;
		gssize n = fds[i] >= 0 ? recv(fds[i], &c, 1, MSG_DONTWAIT | MSG_PEEK) : 0;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			closed++;
	}
	return closed;
}

static void
storm(Host *h)
{
	int slow[SLOW];
	g_autoptr(GHashTable) before = NULL;
	gint start, vanished, held, gone;
	gdouble held_s = 0;
	guint closed;

	for (guint i = 0; i < 3; i++)
		normal_round(h); /* the first answers are the reference; warm-up */
	start = settled_fds(h);
	before = fd_table(h);
	vanishing_clients(h);
	vanished = wait_fds(h, start, SETTLE_S, NULL);
	log_new_fds(h, before);
	faults_figure(
		"+0",
		"host fds after %u clients connected and vanished: +%d over the %d at the start",
		VANISHING,
		vanished,
		start);
	slow_clients(h, slow);
	normal_round(h);
	held = wait_fds(h, start, SLOW_WAIT_S, &held_s);
	closed = closed_by_host(slow);
	faults_figure("+0 within the header timeout, 10 s",
		      "host fds with %u slow clients after %.0f s: +%d (it closed %u of them)",
		      SLOW,
		      held_s,
		      held,
		      closed);
	for (guint i = 0; i < SLOW; i++) {
		if (slow[i] >= 0)
			close(slow[i]);
	}
	gone = wait_fds(h, start, SETTLE_S, NULL);
	log_new_fds(h, before);
	faults_figure("+0", "host fds once the slow clients went away: +%d", gone);
	normal_round(h);
	faults_figure("0",
		      "answers to the normal client that changed during the storm: %u of %u "
		      "(slowest %.0f ms)",
		      h->changed,
		      h->normal,
		      h->slowest_ms);
	g_assert_cmpint(vanished, ==, 0);
	g_assert_cmpint(held, ==, 0);
	g_assert_cmpint(gone, ==, 0);
	g_assert_cmpuint(h->changed, ==, 0);
	if (FAULTS_ASSERT_TIMES)
		g_assert_cmpfloat(h->slowest_ms, <, ANSWER_MS);
}

static void
test_clients(void)
{
	Host h = { 0 };

	if (host_start(&h))
		storm(&h);
	host_stop(&h);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/faults/clients", test_clients);
	return g_test_run();
}
