/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Benchmark (meson benchmark(), never a timed test): concurrent keep-alive
 * clients against exordos-paas-host with the mail plugin on the throwaway
 * PostgreSQL.  Prints requests/s, p50 and p99 for
 *   GET  /v1/types/mail/instances/          (100 rows)
 *   GET  /v1/types/mail/instances/<uuid>
 *   POST /v1/types/mail/instances/<uuid>/accounts/
 * and the host's peak RSS.  The host runs as its own process (the real
 * executable), so its RSS is its own; the clients run here.
 *
 * Then, on the same database and with as many workers, the bare endpoint
 * (bench-bare.c: libsoup-3 and libpq doing only the database work) for GET
 * one and the account POST, and the ratios bare/host next to the 1.2x target
 * of issue 18 item 6; and the host with 2 and with 4 workers (docs/scale.md
 * §8).
 *
 * Knobs: EXH_BENCH_CLIENTS (default 8), EXH_BENCH_REQUESTS per client and
 * scenario (default 250), EXH_BENCH_WORKERS (default: the host's, one per
 * online CPU), EXH_BENCH_CALLGRIND=DIR (the host and the bare endpoint run
 * under callgrind, its files in DIR, and GET one and the POST print their
 * instructions per request: counts that the machine's load does not move),
 * EXH_BENCH_STRACE=DIR (strace -c -f attached to the server for each counted
 * scenario, its table in DIR).  Each counted scenario also prints what the
 * kernel counted per request: system calls, context switches, the server's
 * CPU time and its database backends' (docs/scale.md §8).
 */
#include "exh-test-iam.h"
#include "exh-test.h"
#include "exm-test.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define CALLGRIND_DIR_ENV "EXH_BENCH_CALLGRIND"

typedef struct {
	const gchar *base;
	const gchar *method;
	const gchar *path;
	const gchar *hash; /* POST an account with this hash, else no body */
	const gchar *token;
	guint client;
	guint n;
	guint expect;
	GArray *latencies; /* gdouble, ms */
	guint failures;
} Client;

static guint
env_uint(const gchar *name, guint fallback)
{
	const gchar *v = g_getenv(name);

	return v != NULL && atoi(v) > 0 ? (guint)atoi(v) : fallback;
}

/* @argv, behind valgrind's callgrind when EXH_BENCH_CALLGRIND names a
 * directory; counting starts switched off (callgrind_zero() and
 * callgrind_dump() bracket what is counted). */
static GPtrArray *
wrap_argv(const gchar *const *argv)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	const gchar *dir = g_getenv(CALLGRIND_DIR_ENV);

	if (dir != NULL) {
		/* as the host would re-execute itself with it: valgrind cannot follow */
		g_ptr_array_add(out, g_strdup("env"));
		g_ptr_array_add(out, g_strdup("G_SLICE=always-malloc"));
		g_ptr_array_add(out, g_strdup("valgrind"));
		g_ptr_array_add(out, g_strdup("--tool=callgrind"));
		g_ptr_array_add(out, g_strdup("--instr-atstart=no"));
		g_ptr_array_add(out, g_strdup_printf("--callgrind-out-file=%s/cg.%%p", dir));
	}
	for (guint i = 0; argv[i] != NULL; i++)
		g_ptr_array_add(out, g_strdup(argv[i]));
	g_ptr_array_add(out, NULL);
	return out;
}

static gboolean
callgrind_control(GSubprocess *proc, const gchar *option, const gchar *value)
{
	const gchar *argv[] = {
		"callgrind_control", option, value, g_subprocess_get_identifier(proc), NULL
	};

	if (value == NULL) {
		argv[2] = argv[3];
		argv[3] = NULL;
	}
	return exm_test_run(argv, NULL, NULL) == 0;
}

/* Counting on, from zero (nothing without EXH_BENCH_CALLGRIND). */
static void
callgrind_zero(GSubprocess *proc)
{
	if (g_getenv(CALLGRIND_DIR_ENV) == NULL)
		return;
	g_assert_true(callgrind_control(proc, "-z", NULL));
	g_assert_true(callgrind_control(proc, "-i", "on"));
}

/* The "totals:" of @path's dump, or 0. */
static guint64
callgrind_totals(const gchar *path)
{
	g_autofree gchar *text = NULL;
	const gchar *line;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	line = strstr(text, "\ntotals: ");
	if (line == NULL)
		line = strstr(text, "\nsummary: ");
	return line != NULL ? g_ascii_strtoull(strchr(line, ':') + 1, NULL, 10) : 0;
}

/* Counting off, dumped: the instructions counted since callgrind_zero() (0
 * without EXH_BENCH_CALLGRIND).  callgrind numbers its dumps cg.PID.1, .2... */
static guint64
callgrind_dump(GSubprocess *proc)
{
	const gchar *dir = g_getenv(CALLGRIND_DIR_ENV);
	g_autofree gchar *path = NULL;
	guint64 total = 0;

	if (dir == NULL)
		return 0;
	g_assert_true(callgrind_control(proc, "-i", "off"));
	g_assert_true(callgrind_control(proc, "-d", NULL));
	for (guint n = 1; n < 1000; n++) {
		g_free(path);
		path = g_strdup_printf("%s/cg.%s.%u", dir, g_subprocess_get_identifier(proc), n);
		if (!g_file_test(path, G_FILE_TEST_EXISTS))
			break;
		total = callgrind_totals(path);
	}
	return total;
}

/* The prefix of the usernames the POSTs create (unique per run on a
 * database): "u", or h1, n1, b1, p1, h2, … while /bench/host's rounds run. */
static gchar bench_user[8] = "u";
/* /bench/host's rounds of each side (rounds()) */
#define ROUNDS 3

static gpointer
client_run(gpointer data)
{
	Client *c = data;
	/* One connection, kept alive for all of this client's requests, the POSTs
	 * included: libsoup opens a new connection for every request of a
	 * non-idempotent method unless the message says it may reuse one
	 * (SOUP_MESSAGE_IDEMPOTENT, set below), so each POST used to pay a TCP
	 * connect and the server's per-connection setup, the host's and the bare
	 * endpoint's alike, which an API client keeping its connection does not
	 * (docs/scale.md §8). */
	g_autoptr(SoupSession) session = soup_session_new_with_options(
		"max-conns", 1, "max-conns-per-host", 1, "timeout", 120, NULL);
	g_autofree gchar *url = g_strconcat(c->base, c->path, NULL);

	for (guint i = 0; i < c->n; i++) {
		g_autoptr(SoupMessage) msg = soup_message_new(c->method, url);
		g_autoptr(GBytes) reply = NULL;
		gint64 start;
		gdouble ms;

		g_autofree gchar *auth = g_strconcat("Bearer ", c->token, NULL);

		soup_message_headers_replace(
			soup_message_get_request_headers(msg), "Authorization", auth);
		/* reuse the kept-alive connection for the POST too (above); a
		 * failed POST is still not resent: libsoup restarts only
		 * idempotent methods */
		soup_message_add_flags(msg, SOUP_MESSAGE_IDEMPOTENT);
		if (c->hash != NULL) {
			/* unique usernames per client and request */
			g_autofree gchar *body = g_strdup_printf(
				"{\"username\":\"%s%ux%u\",\"password_hash\":\"%s\"}",
				bench_user,
				c->client,
				i,
				c->hash);
			g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
			soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
		}
		start = g_get_monotonic_time();
		reply = soup_session_send_and_read(session, msg, NULL, NULL);
		ms = (gdouble)(g_get_monotonic_time() - start) / 1000.0;
		if (reply == NULL || soup_message_get_status(msg) != c->expect)
			c->failures++;
		g_array_append_val(c->latencies, ms);
	}
	return NULL;
}

static const gchar *bench_token = EXH_TEST_TOKEN_OWNER;

/* The workers of the host and of the bare endpoint: the host's default unless
 * EXH_BENCH_WORKERS says. */
static guint
bench_workers(void)
{
	return env_uint("EXH_BENCH_WORKERS", exh_host_config_default_workers());
}

/* Runs one scenario with @n_clients concurrent clients and prints its
 * figures; its requests/s. */
static gdouble
scenario(const gchar *base,
	 const gchar *label,
	 const gchar *method,
	 const gchar *path,
	 const gchar *hash,
	 guint expect)
{
	guint n_clients = env_uint("EXH_BENCH_CLIENTS", 8);
	guint n = env_uint("EXH_BENCH_REQUESTS", 250);
	g_autofree Client *clients = g_new0(Client, n_clients);
	g_autofree GThread **threads = g_new0(GThread *, n_clients);
	g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(gdouble));
	guint failures = 0;
	gint64 start = g_get_monotonic_time();
	gdouble secs;

	for (guint i = 0; i < n_clients; i++) {
		clients[i] = (Client){ .base = base,
				       .method = method,
				       .path = path,
				       .hash = hash,
				       .token = bench_token,
				       .client = i,
				       .n = n,
				       .expect = expect,
				       .latencies = g_array_new(FALSE, FALSE, sizeof(gdouble)) };
		threads[i] = g_thread_new("bench-client", client_run, &clients[i]);
	}
	for (guint i = 0; i < n_clients; i++) {
		g_thread_join(threads[i]);
		g_array_append_vals(all, clients[i].latencies->data, clients[i].latencies->len);
		failures += clients[i].failures;
		g_array_unref(clients[i].latencies);
	}
	secs = (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
	g_array_sort(all, exm_test_cmp_double);
	g_test_message("%-44s %4u clients %6u req  %8.1f req/s  p50 %7.2f ms  p99 %7.2f ms",
		       label,
		       n_clients,
		       all->len,
		       all->len / secs,
		       g_array_index(all, gdouble, all->len / 2),
		       g_array_index(all, gdouble, (all->len * 99) / 100));
	/* a benchmark of failing requests measures nothing */
	g_assert_cmpuint(failures, ==, 0);
	return all->len / secs;
}

/* What the kernel counted of a process: its read-like and write-like system
 * calls (/proc/PID/io), its threads' context switches and their time on and
 * waiting for a CPU, summed over /proc/PID/task/ (a thread that exited is not
 * in it), and the CPU time of its database backends. */
typedef struct {
	guint64 syscr;
	guint64 syscw;
	guint64 voluntary;
	guint64 involuntary;
	guint64 cpu_ns;	 /* on a CPU (schedstat) */
	guint64 wait_ns; /* runnable, waiting for a CPU */
	guint64 pg_ns;	 /* the database's backends on a CPU */
} ProcCounts;

/* The database the scenarios' server uses (its backends' CPU is counted). */
static const gchar *bench_conninfo;

static guint64
field_of(const gchar *text, const gchar *name)
{
	const gchar *at = text != NULL ? strstr(text, name) : NULL;

	return at != NULL ? g_ascii_strtoull(at + strlen(name), NULL, 10) : 0;
}

/* The CPU time of the other backends on bench_conninfo's database. */
static guint64
backends_cpu_ns(void)
{
	g_autofree gchar *pids = NULL;
	g_auto(GStrv) each = NULL;
	guint64 cpu = 0;

	if (bench_conninfo == NULL)
		return 0;
	pids = exm_test_pg_exec(bench_conninfo,
				"SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE "
				"datname = current_database() AND pid <> pg_backend_pid()",
				NULL);
	each = g_strsplit(pids != NULL ? pids : "", " ", -1);
	for (guint i = 0; each[i] != NULL; i++) {
		guint64 backend_cpu = 0, backend_wait = 0;

		if (*each[i] != '\0')
			exm_test_schedstat((GPid)atoi(each[i]), &backend_cpu, &backend_wait);
		cpu += backend_cpu;
	}
	return cpu;
}

static void
proc_counts(const gchar *pid, ProcCounts *out)
{
	g_autofree gchar *io_path = g_strdup_printf("/proc/%s/io", pid);
	g_autofree gchar *task_path = g_strdup_printf("/proc/%s/task", pid);
	g_autofree gchar *io = NULL;
	g_autoptr(GDir) tasks = g_dir_open(task_path, 0, NULL);
	const gchar *tid;

	*out = (ProcCounts){ 0 };
	if (g_file_get_contents(io_path, &io, NULL, NULL)) {
		out->syscr = field_of(io, "syscr: ");
		out->syscw = field_of(io, "syscw: ");
	}
	while (tasks != NULL && (tid = g_dir_read_name(tasks)) != NULL) {
		g_autofree gchar *path = g_build_filename(task_path, tid, "status", NULL);
		g_autofree gchar *status = NULL;

		if (!g_file_get_contents(path, &status, NULL, NULL))
			continue;
		out->voluntary += field_of(status, "\nvoluntary_ctxt_switches:\t");
		out->involuntary += field_of(status, "nonvoluntary_ctxt_switches:\t");
	}
	exm_test_schedstat((GPid)atoi(pid), &out->cpu_ns, &out->wait_ns);
	out->pg_ns = backends_cpu_ns();
}

/* @after - @before per request; 0 when a thread or backend that exited took
 * its count away. */
static gdouble
per_request(guint64 before, guint64 after, gdouble n)
{
	return after > before ? (gdouble)(after - before) / n : 0.0;
}

static void
print_proc_counts(const gchar *label, const ProcCounts *a, const ProcCounts *b, guint requests)
{
	gdouble n = requests > 0 ? (gdouble)requests : 1.0;

	g_test_message("%-44s per request: %.2f read and %.2f write syscalls, %.2f voluntary "
		       "and %.2f involuntary context switches; %.1f us on a CPU, %.1f us "
		       "waiting for one; the database's backends %.1f us on a CPU",
		       label,
		       per_request(a->syscr, b->syscr, n),
		       per_request(a->syscw, b->syscw, n),
		       per_request(a->voluntary, b->voluntary, n),
		       per_request(a->involuntary, b->involuntary, n),
		       per_request(a->cpu_ns, b->cpu_ns, n) / 1000.0,
		       per_request(a->wait_ns, b->wait_ns, n) / 1000.0,
		       per_request(a->pg_ns, b->pg_ns, n) / 1000.0);
}

/* EXH_BENCH_STRACE=DIR: strace -c -f attached to @proc for one scenario, its
 * table in DIR/strace.PID.N (NULL without it). */
static GSubprocess *
strace_attach(GSubprocess *proc)
{
	static guint n;
	const gchar *dir = g_getenv("EXH_BENCH_STRACE");
	g_autofree gchar *out = NULL;
	const gchar *argv[] = { "strace", "-c", "-f", "-p", NULL, "-o", NULL, NULL };
	g_autoptr(GError) error = NULL;
	GSubprocess *strace;

	if (dir == NULL)
		return NULL;
	out = g_strdup_printf("%s/strace.%s.%u", dir, g_subprocess_get_identifier(proc), ++n);
	argv[4] = g_subprocess_get_identifier(proc);
	argv[6] = out;
	strace = exh_test_spawn(argv, &error);
	g_assert_no_error(error);
	g_usleep(G_USEC_PER_SEC); /* attached to every thread */
	return strace;
}

/* SIGINT detaches strace, which writes its table. */
static void
strace_detach(GSubprocess *strace)
{
	if (strace == NULL)
		return;
	g_subprocess_send_signal(strace, SIGINT);
	g_subprocess_wait(strace, NULL, NULL);
	g_object_unref(strace);
}

/* scenario() counted by callgrind in @proc when EXH_BENCH_CALLGRIND says:
 * the instructions per request printed too, and always the system calls and
 * context switches per request the kernel counted. */
static gdouble
counted(GSubprocess *proc,
	const gchar *base,
	const gchar *label,
	const gchar *method,
	const gchar *path,
	const gchar *hash,
	guint expect)
{
	guint requests = env_uint("EXH_BENCH_CLIENTS", 8) * env_uint("EXH_BENCH_REQUESTS", 250);
	GSubprocess *strace = strace_attach(proc);
	ProcCounts before, after;
	guint64 total;
	gdouble rps;

	callgrind_zero(proc);
	proc_counts(g_subprocess_get_identifier(proc), &before);
	rps = scenario(base, label, method, path, hash, expect);
	proc_counts(g_subprocess_get_identifier(proc), &after);
	strace_detach(strace);
	print_proc_counts(label, &before, &after, requests);
	total = callgrind_dump(proc);
	if (total > 0)
		g_test_message("%-44s %" G_GUINT64_FORMAT " instructions per request (callgrind)",
			       label,
			       total / requests);
	return rps;
}

/* The host's VmHWM from /proc, in KiB: its peak RSS (what ru_maxrss reports). */
static guint64
peak_rss_kib(const gchar *pid)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%s/status", pid);
	g_autofree gchar *status = NULL;
	const gchar *line;

	if (!g_file_get_contents(path, &status, NULL, NULL))
		return 0;
	line = strstr(status, "VmHWM:");
	return line != NULL ? g_ascii_strtoull(line + 6, NULL, 10) : 0;
}

static gboolean
wait_up(const gchar *base)
{
	g_autoptr(SoupSession) session = soup_session_new_with_options("timeout", 5, NULL);
	g_autofree gchar *url = g_strconcat(base, "/v1/", NULL);
	gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

	while (g_get_monotonic_time() < deadline) {
		g_autoptr(SoupMessage) msg = soup_message_new("GET", url);
		g_autoptr(GBytes) reply = soup_session_send_and_read(session, msg, NULL, NULL);

		if (reply != NULL && soup_message_get_status(msg) == 200)
			return TRUE;
		g_usleep(50 * 1000);
	}
	return FALSE;
}

/* A client-only fixture pointing at the subprocess host. */
static ExhTest *
client_for(const gchar *base)
{
	ExhTest *t = g_new0(ExhTest, 1);

	t->base_url = g_strdup(base);
	t->session = soup_session_new_with_options("timeout", 120, NULL);
	return t;
}

static void
client_free(ExhTest *t)
{
	g_clear_object(&t->session);
	g_free(t->base_url);
	g_free(t);
}

static gchar *
make_hash(void)
{
	const gchar *argv[] = { "openssl", "passwd", "-6", "-salt", "benchsalt", "bench", NULL };
	g_autofree gchar *out = NULL;

	if (exm_test_run(argv, &out, NULL) != 0)
		return NULL;
	return g_strdup(g_strstrip(out));
}

/* A version and @n instances; the first instance's uuid (NULL on failure). */
static gchar *
create_instances(ExhTest *setup, guint n)
{
	g_autofree gchar *version = NULL;
	g_autofree gchar *one = NULL;

	version = exh_test_create(setup,
				  EXH_TEST_TOKEN_OPERATOR,
				  "/v1/types/mail/versions/",
				  "{\"name\":\"exim4_1\",\"image\":\"exordos-metapaas-mail-dp\"}");
	if (version == NULL)
		return NULL;
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *body = g_strdup_printf(
			"{\"name\":\"bench-%u\",\"domain\":\"b%u.example.com\",\"cpu\":1,"
			"\"ram\":1024,\"disk_size\":10,\"version\":\"/v1/types/mail/versions/%s\"}",
			i,
			i,
			version);
		g_autofree gchar *uuid = exh_test_create(
			setup, EXH_TEST_TOKEN_OWNER, "/v1/types/mail/instances/", body);
		if (uuid == NULL)
			return NULL;
		if (one == NULL)
			one = g_steal_pointer(&uuid);
	}
	return g_steal_pointer(&one);
}

/* GET one and the account POST (requests/s in @rps[0] and @rps[1]); @label
 * ends the scenarios' labels. */
static void
one_and_post(GSubprocess *proc,
	     const gchar *base,
	     const gchar *label,
	     const gchar *one,
	     const gchar *hash,
	     gdouble *rps)
{
	g_autofree gchar *one_path = g_strconcat("/v1/types/mail/instances/", one, NULL);
	g_autofree gchar *accounts_path = g_strconcat(one_path, "/accounts/", NULL);
	g_autofree gchar *l1 = g_strdup_printf("GET  /v1/types/mail/instances/<uuid>%s", label);
	g_autofree gchar *l2 =
		g_strdup_printf("POST /v1/types/mail/instances/<uuid>/accounts/%s", label);

	rps[0] = counted(proc, base, l1, "GET", one_path, NULL, 200);
	rps[1] = counted(proc, base, l2, "POST", accounts_path, hash, 201);
}

/* 100 instances and the list scenario; the uuid of one of them. */
static gchar *
run_list(ExhTest *setup, const gchar *base)
{
	g_autofree gchar *one = create_instances(setup, 100);

	if (one == NULL)
		return NULL;
	scenario(base,
		 "GET  /v1/types/mail/instances/ (100 rows)",
		 "GET",
		 "/v1/types/mail/instances/",
		 NULL,
		 200);
	return g_steal_pointer(&one);
}

typedef struct {
	GSubprocess *proc;
	gchar *base;
	gchar *conninfo;
} Host;

/* The real executable on @h's database (h->conninfo), with @conf as its
 * --config and @n workers; @env (nullable) one more VAR=value for it. */
static gboolean
host_spawn(Host *h, const gchar *conf, guint n, const gchar *env)
{
	g_autofree gchar *exe = exh_test_host_path();
	g_autofree gchar *plugin = exh_test_plugin_path();
	g_autofree gchar *port = g_strdup_printf("%d", exm_test_free_port());
	g_autofree gchar *workers = g_strdup_printf("%u", n);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) wrapped = NULL;
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	const gchar *args[] = { exe,	"--config", conf, "--db",      h->conninfo, "--plugin",
				plugin, "--port",   port, "--workers", workers,	    NULL };

	if (env != NULL) {
		g_ptr_array_add(argv, (gpointer) "env");
		g_ptr_array_add(argv, (gpointer)env);
	}
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	h->base = g_strdup_printf("http://127.0.0.1:%s", port);
	wrapped = wrap_argv((const gchar *const *)argv->pdata);
	h->proc = exh_test_spawn((const gchar *const *)wrapped->pdata, &error);
	g_assert_no_error(error);
	if (h->proc == NULL || !wait_up(h->base)) {
		g_test_fail_printf("the host did not come up");
		return FALSE;
	}
	return TRUE;
}

/* The real executable on a fresh database, with @conf as its --config and
 * @n workers. */
static gboolean
host_start_n(Host *h, ExmTestPg *pg, const gchar *conf, guint n)
{
	g_autoptr(GError) error = NULL;

	h->conninfo = exm_test_pg_create_database(pg, &error);
	g_assert_no_error(error);
	bench_conninfo = h->conninfo;
	return host_spawn(h, conf, n, NULL);
}

static gboolean
host_start(Host *h, ExmTestPg *pg, const gchar *conf)
{
	return host_start_n(h, pg, conf, bench_workers());
}

static void
host_stop(Host *h)
{
	exh_test_stop(&h->proc);
	bench_conninfo = NULL;
	g_clear_pointer(&h->base, g_free);
	g_clear_pointer(&h->conninfo, g_free);
}

/* The bare endpoint (bench-bare.c) on @h's database, as many workers, its
 * statements prepared when @prepared, up (it accepts a connection once its
 * connections are open); its base URL in @base. */
static GSubprocess *
bare_start(const Host *h, gboolean prepared, gchar **base)
{
	g_autofree gchar *port = g_strdup_printf("%d", exm_test_free_port());
	g_autofree gchar *workers = g_strdup_printf("%u", bench_workers());
	const gchar *argv[] = { EXH_BENCH_BARE,
				"--db",
				h->conninfo,
				"--port",
				port,
				"--workers",
				workers,
				"--project",
				EXH_TEST_PROJECT,
				prepared ? "--prepared" : NULL,
				NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) wrapped = wrap_argv(argv);
	GSubprocess *proc = exh_test_spawn((const gchar *const *)wrapped->pdata, &error);

	g_assert_no_error(error);
	for (guint i = 0; i < 500 && !exm_test_can_connect("127.0.0.1", (guint)atoi(port)); i++)
		g_usleep(20 * 1000);
	*base = g_strdup_printf("http://127.0.0.1:%s", port);
	return proc;
}

/* One server of /bench/host's comparison, up on the host's database. */
typedef struct {
	const gchar *name;
	GSubprocess *proc;
	const gchar *base;
	gchar *get;  /* GET one's path */
	gchar *post; /* the account POST's path */
	gchar user;  /* the first letter of the usernames its POSTs create */
	gdouble best[2];
} Side;

enum { SIDE_HOST, SIDE_HOST_UNNAMED, SIDE_BARE, SIDE_BARE_PREPARED, N_SIDES };

static void
side_init(Side *side, const gchar *name, gchar user, GSubprocess *proc, const gchar *base)
{
	side->name = name;
	side->user = user;
	side->proc = proc;
	side->base = base;
}

/* Scenario @i (GET one, the POST) on @side, round @r, its rate kept when
 * the best. */
static void
side_round(Side *side, guint i, guint r, const gchar *hash)
{
	g_autofree gchar *label = g_strdup_printf(
		"%s %s #%u", i == 0 ? "GET  one instance," : "POST account,", side->name, r);
	gdouble v;

	/* usernames of their own per side and round */
	g_snprintf(bench_user, sizeof(bench_user), "%c%u", side->user, r);
	v = counted(side->proc,
		    side->base,
		    label,
		    i == 0 ? "GET" : "POST",
		    i == 0 ? side->get : side->post,
		    i == 0 ? NULL : hash,
		    i == 0 ? 200 : 201);
	side->best[i] = MAX(side->best[i], v);
}

static void
print_ratios(const Side *sides)
{
	static const gchar *const names[] = { "GET one instance", "account POST" };
	const Side *host = &sides[SIDE_HOST];
	const Side *bare = &sides[SIDE_BARE];
	const Side *bare_p = &sides[SIDE_BARE_PREPARED];
	const Side *before = &sides[SIDE_HOST_UNNAMED];

	for (guint i = 0; i < 2; i++) {
		g_test_message("%-17s bare %8.1f req/s, host %8.1f req/s: bare/host %.2fx "
			       "[target at most 1.2x] (best of %u rounds each, taking turns)",
			       names[i],
			       bare->best[i],
			       host->best[i],
			       host->best[i] > 0 ? bare->best[i] / host->best[i] : 0.0,
			       ROUNDS);
		g_test_message("%-17s both prepared: bare %8.1f req/s: bare/host %.2fx; previous "
			       "design (host statements unnamed) %8.1f req/s: host %.2fx faster",
			       names[i],
			       bare_p->best[i],
			       host->best[i] > 0 ? bare_p->best[i] / host->best[i] : 0.0,
			       before->best[i],
			       before->best[i] > 0 ? host->best[i] / before->best[i] : 0.0);
	}
}

/* The rounds of rounds() on @sides, every server up. */
static void
sides_run(Side *sides, const gchar *one, const gchar *hash)
{
	for (guint s = 0; s < N_SIDES; s++) {
		gboolean is_host = s == SIDE_HOST || s == SIDE_HOST_UNNAMED;

		sides[s].get = is_host ? g_strconcat("/v1/types/mail/instances/", one, NULL)
				       : g_strconcat("/one/", one, NULL);
		sides[s].post = is_host ? g_strconcat(sides[s].get, "/accounts/", NULL)
					: g_strconcat("/accounts/", one, NULL);
	}
	for (guint i = 0; i < 2; i++) {
		for (guint r = 1; r <= ROUNDS; r++) {
			for (guint s = 0; s < N_SIDES; s++)
				side_round(&sides[s], i, r, hash);
		}
	}
	print_ratios(sides);
	g_strlcpy(bench_user, "u", sizeof(bench_user));
	for (guint s = 0; s < N_SIDES; s++) {
		g_free(sides[s].get);
		g_free(sides[s].post);
	}
}

/*
 * GET one, then the account POST, ROUNDS times each, on four servers taking
 * turns, all up all along on the same database: the host; the host with its
 * statements unnamed (EXM_REST_PREPARE=0, the previous design); the bare
 * endpoint with unnamed statements (the limit issue 18 item 6 names); the
 * bare endpoint with its statements prepared.  On a shared machine the rate
 * moves by tens of percent within a minute (docs/scale.md §8): one run of
 * each side, minutes apart, compared that drift as much as the code.
 * Taking turns lets all sides meet the same moments, and the best round is
 * each side's when nothing else ran.  Each round's figures are printed too.
 */
static void
rounds(const Host *h, const gchar *conf, const gchar *one, const gchar *hash)
{
	Host unnamed = { NULL, NULL, h->conninfo };
	g_autofree gchar *bare_base = NULL;
	g_autofree gchar *bare_p_base = NULL;
	g_autoptr(GSubprocess) bare = bare_start(h, FALSE, &bare_base);
	g_autoptr(GSubprocess) bare_p = bare_start(h, TRUE, &bare_p_base);
	Side sides[N_SIDES] = { { 0 } };
	/* one that did not come up failed the test; the others still stop */
	gboolean up = host_spawn(&unnamed, conf, bench_workers(), "EXM_REST_PREPARE=0");

	side_init(&sides[SIDE_HOST], "host", 'h', h->proc, h->base);
	side_init(&sides[SIDE_HOST_UNNAMED], "host unnamed", 'n', unnamed.proc, unnamed.base);
	side_init(&sides[SIDE_BARE], "bare", 'b', bare, bare_base);
	side_init(&sides[SIDE_BARE_PREPARED], "bare prepared", 'p', bare_p, bare_p_base);
	if (up)
		sides_run(sides, one, hash);
	exh_test_stop(&unnamed.proc);
	g_free(unnamed.base);
	exh_test_stop(&bare);
	exh_test_stop(&bare_p);
}

static gchar *
write_conf(const gchar *dir, const gchar *name, const gchar *text)
{
	gchar *path = g_build_filename(dir, name, NULL);

	g_assert_true(g_file_set_contents_full(
		path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL));
	return path;
}

static void
bench_host(void)
{
	ExmTestPg *pg = exm_test_pg_get();
	g_autofree gchar *dir = NULL;
	g_autofree gchar *tokens = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *conf = NULL;
	g_autofree gchar *hash = make_hash();
	Host host = { 0 };
	ExhTest *setup;

	if (pg == NULL)
		return;
	if (hash == NULL) {
		exm_test_peer_missing("openssl is not installed");
		return;
	}
	dir = exm_test_mkdtemp("exh-bench");
	tokens = exh_test_write_token_file(dir);
	text = g_strdup_printf("[host]\ntoken_file = %s\n", tokens);
	conf = write_conf(dir, "host.conf", text);
	if (host_start(&host, pg, conf)) {
		g_autofree gchar *one = NULL;

		setup = client_for(host.base);
		one = run_list(setup, host.base);
		client_free(setup);
		if (one != NULL)
			rounds(&host, conf, one, hash);
		g_test_message("host peak RSS (VmHWM): %" G_GUINT64_FORMAT " KiB with %u workers",
			       peak_rss_kib(g_subprocess_get_identifier(host.proc)),
			       bench_workers());
	}
	host_stop(&host);
	exm_test_rmtree(dir);
}

/* The host with 2 and with 4 workers: GET one and the account POST. */
static void
bench_workers_compare(void)
{
	ExmTestPg *pg = exm_test_pg_get();
	g_autofree gchar *dir = NULL;
	g_autofree gchar *tokens = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *conf = NULL;
	g_autofree gchar *hash = make_hash();
	static const guint counts[] = { 2, 4 };
	gdouble rps[2][2] = { { 0 } };

	if (pg == NULL || hash == NULL)
		return;
	dir = exm_test_mkdtemp("exh-bench-workers");
	tokens = exh_test_write_token_file(dir);
	text = g_strdup_printf("[host]\ntoken_file = %s\n", tokens);
	conf = write_conf(dir, "host.conf", text);
	for (guint i = 0; i < G_N_ELEMENTS(counts); i++) {
		Host host = { 0 };
		g_autofree gchar *label = g_strdup_printf(" (%u workers)", counts[i]);

		if (host_start_n(&host, pg, conf, counts[i])) {
			ExhTest *setup = client_for(host.base);
			g_autofree gchar *one = create_instances(setup, 1);

			if (one != NULL)
				one_and_post(host.proc, host.base, label, one, hash, rps[i]);
			client_free(setup);
		}
		host_stop(&host);
	}
	g_test_message("2 / 4 workers on %u online CPUs: GET one %.2fx, account POST %.2fx "
		       "(the default follows the CPUs: %u workers here)",
		       g_get_num_processors(),
		       rps[1][0] > 0 ? rps[0][0] / rps[1][0] : 0.0,
		       rps[1][1] > 0 ? rps[0][1] / rps[1][1] : 0.0,
		       exh_host_config_default_workers());
	exm_test_rmtree(dir);
}

/* GET one instance as its owner, the host as the given @conf says. */
static void
iam_scenario(ExmTestPg *pg, const gchar *conf, const gchar *label, const gchar *const *tokens)
{
	Host host = { 0 };
	ExhTest *setup;
	g_autofree gchar *version = NULL;
	g_autofree gchar *one = NULL;
	g_autofree gchar *path = NULL;

	if (host_start(&host, pg, conf)) {
		setup = client_for(host.base);
		/* tokens: owner, operator (JWTs in core mode) */
		version = exh_test_create(setup,
					  tokens[1],
					  "/v1/types/mail/versions/",
					  "{\"name\":\"exim4_1\",\"image\":\"dp\"}");
		path = g_strdup_printf(
			"{\"name\":\"b\",\"domain\":\"b.example.com\",\"cpu\":1,\"ram\":1024,"
			"\"disk_size\":10,\"version\":\"/v1/types/mail/versions/%s\"}",
			version);
		one = exh_test_create(setup, tokens[0], "/v1/types/mail/instances/", path);
		g_free(path);
		path = g_strconcat("/v1/types/mail/instances/", one, NULL);
		bench_token = tokens[0];
		scenario(host.base, label, "GET", path, NULL, 200);
		bench_token = EXH_TEST_TOKEN_OWNER;
		client_free(setup);
	}
	host_stop(&host);
}

/* The price of real identities: GET one instance with the token file, with
 * Core IAM and a warm introspection cache, and with Core IAM asked on every
 * request (the fake Core's IAM, a Python process, answers). */
static void
bench_iam(void)
{
	ExmTestPg *pg = exm_test_pg_get();
	g_autofree gchar *dir = NULL;
	g_autoptr(ExhTestIam) iam = NULL;
	g_autoptr(ExhHostConfig) target = exh_host_config_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tokens = NULL;
	g_autofree gchar *owner = NULL;
	g_autofree gchar *operator= NULL;
	const gchar *file_tokens[] = { EXH_TEST_TOKEN_OWNER, EXH_TEST_TOKEN_OPERATOR };

	if (pg == NULL)
		return;
	dir = exm_test_mkdtemp("exh-bench-iam");
	tokens = exh_test_write_token_file(dir);
	iam = exh_test_iam_new(dir, NULL, &error);
	if (iam == NULL) {
		exm_test_peer_missing("the fake Core: %s", error->message);
		exm_test_rmtree(dir);
		return;
	}
	exh_test_iam_configure(iam, target);
	owner = exh_test_iam_mint(iam,
				  "{\"sub\":\"" EXH_TEST_USER_OWNER
				  "\",\"project_id\":\"" EXH_TEST_PROJECT
				  "\",\"permissions\":[\"exordos_mail.*.*\"],\"ttl\":86400}");
	operator= exh_test_iam_mint(iam, "{\"permissions\":[\"*.*.*\"],\"ttl\":86400}");
	for (guint i = 0; i < 3; i++) {
		const gchar *jwt_tokens[] = { owner, operator};
		g_autofree gchar *text =
			i == 0 ? g_strdup_printf("[host]\ntoken_file = %s\n", tokens)
			       : g_strdup_printf("[iam]\nmode = core\nendpoint = %s\n"
						 "jwks_key_file = %s\ncache_ttl = %u\n",
						 target->iam_endpoint,
						 target->iam_jwks_key_file,
						 i == 1 ? 15 : 0);
		g_autofree gchar *conf = write_conf(dir, "host.conf", text);
		static const gchar *const labels[] = {
			"GET one instance, token file",
			"GET one instance, Core IAM, warm cache",
			"GET one instance, Core IAM, cache off",
		};

		iam_scenario(pg, conf, labels[i], i == 0 ? file_tokens : jwt_tokens);
	}
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	exh_test_init(&argc, &argv);
	g_test_add_func("/bench/host", bench_host);
	g_test_add_func("/bench/host/iam", bench_iam);
	g_test_add_func("/bench/host/workers", bench_workers_compare);
	return g_test_run();
}
