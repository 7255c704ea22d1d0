/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Benchmark (meson test --benchmark), issue 18 item 2: the real agent
 * (`exordos-metapaas-mail-agent run`, a child process on a sandbox root)
 * against the in-process fake CP, at 10 and 100 000 accounts:
 *   - CPU per idle iteration (light answers, nothing changed), from the
 *     child's /proc/<pid>/schedstat, beside the CPU of a full iteration (the
 *     previous design: every iteration lists, hashes and compares);
 *   - whether an idle iteration wrote anything (the stamps of every file the
 *     agent writes) or called the Status API;
 *   - CPU per iteration while mail moves (a line in exim's main log before
 *     every poll: the usage in the actual value changes, the targets do not),
 *     for three usage holds (the agent runs with usage_report_interval =
 *     HOLD_S, 30 s by default in production; docs/usage.md §3): the iterations that
 *     sent nothing and those that reported (once a hold), apart; a reporting
 *     iteration is what every such iteration cost before the hold (the
 *     previous design);
 *   - one changed account: from the CP's answer to the held long poll to the
 *     moment passwd.cdb (what exim reads) is swapped, and the agent's CPU in
 *     between; the medians of CHANGES changes, the range beside them;
 *   - the child's RSS (now and peak), and the peak of each phase (the first
 *     apply, idle iterations, full iterations, mail moving, the changes) on its own: the
 *     peak is reset between them (/proc/<pid>/clear_refs).
 * Figures are printed next to their targets; nothing is asserted on them.
 * EXM_BENCH_AGENT names another build's agent to run instead (the same
 * figures for main and a branch, side by side); EXM_BENCH_AGENT_TUNABLES
 * replaces the GLIBC_TUNABLES the unit sets ("" for none, as before it).
 * EXM_MEMORY_PROBE, inherited by the agent, has it log its memory at each
 * step of an iteration (exm-memprobe.h; docs/scale.md §3).
 */
#include "exm-config.h"
#include "exm-dp-config.h"
#include "exm-memprobe.h"
#include "exm-ua-config.h"
#include "exm-test.h"
#include "exm-uuid.h"
#include "test-ua-fakecp.h"

#include <fcntl.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#define NODE_UUID "5e3f8a9c-1b2d-4c5e-8f70-0a1b2c3d4e5f"
#define KIND	  "mail_instance_node"
#define HASH_1                                                                                     \
	"$6$abcdefgh$oGoxMtczJ0/xYkNKQnGuC3pOdNoGsZRZNs7n5JzX8KfMJWEmD2Bx4wBt/"                    \
	"tMCPvjE87aPyrlQPEKxEcxV6d4J6."
#define IDLE_POLLS 40
#define FULL_POLLS 5
#define CHANGES	   5
/* the agent's usage_report_interval here (production: EXM_DP_USAGE_REPORT_INTERVAL) */
#define HOLD_S 2
/* issue 18 targets */
#define TARGET_IDLE_MS	 5.0
#define TARGET_CHANGE_MS 500.0
#define TARGET_RSS_MB	 30.0
/* as the systemd unit sets it */
#define AGENT_TUNABLES                                                                             \
	(g_getenv("EXM_BENCH_AGENT_TUNABLES") != NULL ? g_getenv("EXM_BENCH_AGENT_TUNABLES")       \
						      : "glibc.malloc.hugetlb=1")

typedef struct {
	gchar *dir;
	FakeCp *cp;
	GSubprocess *child;
	gboolean exited;
	gchar *agent;
	gchar *cdb;
	gchar *mainlog;
	guint mail_seq;
} Run;

static const gchar *const written[] = {
	"/var/lib/exordos/exordos_metapaas/payload.json",
	EXM_DP_PATH_META,
	EXM_DP_PATH_PASSWD,
	EXM_DP_PATH_PASSWD_CDB,
	EXM_DP_PATH_POLICY,
	EXM_DP_PATH_POLICY_CDB,
	NULL,
};

static void
on_exit_cb(GObject *source, GAsyncResult *res, gpointer data)
{
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
	((Run *)data)->exited = TRUE;
}

/* Iterates the main context (the fake CP lives there) for @ms. */
static void
spin(guint ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	while (g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(200);
	}
}

static gchar *
value_json(const gchar *agent, guint n, const gchar *extra)
{
	g_autoptr(GString) v = g_string_new(NULL);

	g_string_append_printf(
		v,
		"{\"uuid\":\"%s\",\"name\":\"mail1\",\"domain\":\"example.com\",\"accounts\":{",
		agent);
	for (guint i = 0; i < n; i++)
		g_string_append_printf(v,
				       "%s\"u%06u\":{\"password_hash\":\"" HASH_1
				       "\",\"active\":true}",
				       i == 0 ? "" : ",",
				       i);
	if (extra != NULL)
		g_string_append_printf(
			v, ",\"%s\":{\"password_hash\":\"" HASH_1 "\",\"active\":true}", extra);
	g_string_append(v, "}}");
	return g_string_free(g_steal_pointer(&v), FALSE);
}

static void
run_start(Run *r)
{
	g_autofree gchar *conf = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *exe =
		g_getenv("EXM_BENCH_AGENT") != NULL
			? g_strdup(g_getenv("EXM_BENCH_AGENT"))
			: g_build_filename(
				  EXM_BUILD_ROOT, "agent", "exordos-metapaas-mail-agent", NULL);
	g_autoptr(GSubprocessLauncher) launcher =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
	g_autoptr(GError) error = NULL;

	r->dir = exm_test_mkdtemp("bench-agent");
	r->cdb = g_build_filename(r->dir, EXM_DP_PATH_PASSWD_CDB, NULL);
	/* there before the agent, which reads on from its end */
	r->mainlog = g_build_filename(r->dir, EXM_DP_PATH_LOG_DIR, "mainlog", NULL);
	{
		g_autofree gchar *dir = g_path_get_dirname(r->mainlog);

		g_mkdir_with_parents(dir, 0755);
		g_file_set_contents(r->mainlog, "", 0, &error);
		g_assert_no_error(error);
	}
	conf = g_build_filename(r->dir, "agent.conf", NULL);
	r->cp = fake_cp_new(NULL);
	fake_cp_accept_wait(r->cp, TRUE);
	fake_cp_ignore_wait(r->cp, TRUE);
	r->agent = exm_uuid_v5(NODE_UUID, "mailaas", &error);
	g_assert_no_error(error);
	text = g_strdup_printf(
		"[universal_agent]\norch_endpoint = %s\nstatus_endpoint = %s\n"
		"uuid5_name = mailaas\nnode_uuid = %s\n"
		"payload_path = %s/var/lib/exordos/exordos_metapaas/payload.json\n"
		"caps_drivers = MailCapabilityDriver\npoll_interval = 0.1\n"
		"long_poll = true\nlong_poll_wait = 5\nhttp_timeout = 60\n"
		"[dataplane]\nroot = %s\nusage_report_interval = " G_STRINGIFY(HOLD_S) "\n",
		fake_cp_orch_url(r->cp),
		fake_cp_status_url(r->cp),
		NODE_UUID,
		r->dir,
		r->dir);
	g_file_set_contents(conf, text, -1, &error);
	g_assert_no_error(error);
	/* as the systemd unit runs it (docs/scale.md §2) */
	g_subprocess_launcher_setenv(launcher, "G_SLICE", "always-malloc", TRUE);
	g_subprocess_launcher_setenv(launcher, "GLIBC_TUNABLES", AGENT_TUNABLES, TRUE);
	g_subprocess_launcher_set_child_setup(
		launcher, exm_test_die_with_parent, GINT_TO_POINTER(SIGKILL), NULL);
	r->child = g_subprocess_launcher_spawn(
		launcher, &error, exe, "run", "--config-file", conf, NULL);
	g_assert_no_error(error);
	g_subprocess_wait_async(r->child, NULL, on_exit_cb, r);
}

static void
run_stop(Run *r)
{
	if (r->child != NULL && !r->exited) {
		g_subprocess_force_exit(r->child);
		for (guint i = 0; i < 500 && !r->exited; i++)
			spin(20);
	}
	g_clear_object(&r->child);
	g_clear_pointer(&r->cp, fake_cp_free);
	spin(50);
	if (r->dir != NULL)
		exm_test_rmtree(r->dir);
	g_free(r->dir);
	g_free(r->agent);
	g_free(r->cdb);
	g_free(r->mainlog);
}

static guint
polls(Run *r)
{
	return fake_cp_count(r->cp, "GET", "/v1/agents/");
}

static guint
reports(Run *r)
{
	return fake_cp_count(r->cp, "POST", "/v1/kind/") + fake_cp_count(r->cp, "PUT", "/v1/kind/");
}

/* Nanoseconds the child has run on a CPU (the first field of schedstat). */
static guint64
child_cpu_ns(Run *r)
{
	g_autofree gchar *path =
		g_strdup_printf("/proc/%s/schedstat", g_subprocess_get_identifier(r->child));
	g_autofree gchar *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	return g_ascii_strtoull(text, NULL, 10);
}

/* A line of /proc/<pid>/status in MB (VmRSS, VmHWM). */
static gdouble
child_status_mb(Run *r, const gchar *key)
{
	g_autofree gchar *path =
		g_strdup_printf("/proc/%s/status", g_subprocess_get_identifier(r->child));
	g_autofree gchar *text = NULL;
	const gchar *p;

	if (!g_file_get_contents(path, &text, NULL, NULL) || (p = strstr(text, key)) == NULL)
		return -1;
	return g_ascii_strtod(p + strlen(key) + 1, NULL) / 1024.0;
}

/* The child's peak RSS (VmHWM) in MB since the last call, then reset to its
 * RSS now (clear_refs 5), so each phase's peak is its own. */
static gdouble
child_phase_peak_mb(Run *r)
{
	g_autofree gchar *path =
		g_strdup_printf("/proc/%s/clear_refs", g_subprocess_get_identifier(r->child));
	gdouble peak = child_status_mb(r, "VmHWM:");
	/* written in place: g_file_set_contents() would rename a copy over it */
	gint fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "5", 1) != 1)
		g_printerr("# cannot reset the agent's peak RSS (%s)\n", path);
	if (fd >= 0)
		close(fd);
	return peak;
}

/* The stamps of every file the agent writes, to compare before and after. */
static gchar *
stamps(Run *r)
{
	g_autoptr(GString) s = g_string_new(NULL);

	for (guint i = 0; written[i] != NULL; i++) {
		g_autofree gchar *path = g_build_filename(r->dir, written[i], NULL);
		struct stat st;

		if (stat(path, &st) != 0)
			g_string_append_printf(s, "%s: missing\n", written[i]);
		else
			g_string_append_printf(s,
					       "%s: %lu %ld.%09ld\n",
					       written[i],
					       (gulong)st.st_ino,
					       (glong)st.st_mtim.tv_sec,
					       st.st_mtim.tv_nsec);
	}
	return g_string_free(g_steal_pointer(&s), FALSE);
}

static ino_t
cdb_inode(Run *r)
{
	struct stat st;

	return stat(r->cdb, &st) == 0 ? st.st_ino : 0;
}

/* Waits (up to @secs) until @n more polls were answered after @since. */
static gboolean
wait_polls(Run *r, guint since, guint n, guint secs)
{
	gint64 end = g_get_monotonic_time() + (gint64)secs * G_USEC_PER_SEC;

	while (polls(r) < since + n && g_get_monotonic_time() < end && !r->exited)
		spin(20);
	return polls(r) >= since + n;
}

/* Converged: the actual row reported and a few light polls after it. */
static void
converge(Run *r, guint n)
{
	g_autofree gchar *value = value_json(r->agent, n, NULL);
	gint64 end = g_get_monotonic_time() + 600 * G_USEC_PER_SEC;

	while (fake_cp_get_agent(r->cp, r->agent) == NULL && g_get_monotonic_time() < end &&
	       !r->exited)
		spin(20);
	fake_cp_set_target(r->cp, r->agent, KIND, value);
	while (fake_cp_get_actual(r->cp, KIND, r->agent) == NULL && g_get_monotonic_time() < end &&
	       !r->exited)
		spin(50);
	g_assert_nonnull(fake_cp_get_actual(r->cp, KIND, r->agent));
	g_assert_true(wait_polls(r, polls(r), 3, 120));
}

static gboolean
touch_dkim(gpointer data)
{
	Run *r = data;
	g_autofree gchar *path = g_build_filename(r->dir, EXM_DP_PATH_DKIM_TXT, NULL);

	/* a new mtime: the driver's stamp differs, the iteration is a full one */
	if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
		g_autofree gchar *dir = g_path_get_dirname(path);
		g_mkdir_with_parents(dir, 0755);
		g_file_set_contents(path, "", 0, NULL);
	}
	utime(path, NULL);
	return G_SOURCE_CONTINUE;
}

/* A message of one account, received: the line exim's main log gets, which
 * the agent's usage counts (docs/usage.md). */
static gboolean
log_mail(gpointer data)
{
	Run *r = data;
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree gchar *stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S");
	g_autofree gchar *line = g_strdup_printf(
		"%s 1tK%03u-0001Ab-Cd <= u000001@example.com H=(c.test) [127.0.0.1] P=esmtpsa "
		"X=TLS1.3:x:256 A=plain_server:u000001@example.com S=512 for rcpt@example.net\n",
		stamp,
		r->mail_seq++ % 1000);
	FILE *f = fopen(r->mainlog, "a");

	if (f == NULL || fputs(line, f) < 0)
		g_printerr("# cannot append to %s\n", r->mainlog);
	if (f != NULL)
		fclose(f);
	return G_SOURCE_CONTINUE;
}

/* CPU ms per iteration over @n polls; @before_poll (every 30 ms, so before
 * every poll) changes what the driver reads: a file (the previous design's
 * cost) or the main log. */
static gdouble
cpu_per_poll(Run *r, guint n, GSourceFunc before_poll, guint *sent)
{
	guint p0 = polls(r), s0 = reports(r), timer = 0;
	guint64 c0 = child_cpu_ns(r), c1;
	guint p1;

	if (before_poll != NULL)
		timer = g_timeout_add(30, before_poll, r);
	wait_polls(r, p0, n, 300);
	if (timer != 0)
		g_source_remove(timer);
	c1 = child_cpu_ns(r);
	p1 = polls(r);
	*sent = reports(r) - s0;
	return p1 > p0 ? (gdouble)(c1 - c0) / 1e6 / (p1 - p0) : -1;
}

typedef struct {
	guint polls;	  /* iterations while the mail moved */
	guint held_n;	  /* of them, those that sent nothing */
	gdouble held;	  /* their CPU ms each */
	guint sent_n;	  /* those that reported */
	gdouble reported; /* their CPU ms each */
} Mail;

/* Mail moving for three holds (docs/usage.md §3), each iteration (from one
 * poll to the next) counted apart by whether it called the Status API. */
static void
mail_moving(Run *r, Mail *m)
{
	guint p = polls(r), s = reports(r), timer = g_timeout_add(30, log_mail, r);
	guint64 c = child_cpu_ns(r);
	gint64 end = g_get_monotonic_time() + 3 * HOLD_S * G_USEC_PER_SEC;
	gdouble held_ms = 0, sent_ms = 0;

	while ((g_get_monotonic_time() < end || m->polls == 0) && !r->exited) {
		guint64 c1;
		guint s1;

		spin(2);
		if (polls(r) == p)
			continue;
		c1 = child_cpu_ns(r);
		s1 = reports(r);
		if (s1 > s) {
			sent_ms += (gdouble)(c1 - c) / 1e6;
			m->sent_n++;
		} else {
			held_ms += (gdouble)(c1 - c) / 1e6;
			m->held_n++;
		}
		m->polls += polls(r) - p;
		p = polls(r);
		s = s1;
		c = c1;
	}
	g_source_remove(timer);
	m->held = m->held_n > 0 ? held_ms / m->held_n : -1;
	m->reported = m->sent_n > 0 ? sent_ms / m->sent_n : -1;
}

/* One account more or one less (@extra): ms from the answer to the held
 * poll to the swap of passwd.cdb, and from the change on the CP; and the
 * agent's CPU ms from the answer to the swap (the wall time of a loaded
 * machine is mostly waiting). */
static void
time_change(Run *r,
	    guint n,
	    const gchar *extra,
	    gdouble *from_answer,
	    gdouble *from_change,
	    gdouble *cpu)
{
	g_autofree gchar *value = value_json(r->agent, n, extra);
	ino_t before = cdb_inode(r);
	gint64 t0, t1, end;
	guint64 c0;

	fake_cp_ignore_wait(r->cp, FALSE);
	/* let the next poll be held */
	wait_polls(r, polls(r), 1, 30);
	spin(300);
	t0 = g_get_monotonic_time();
	fake_cp_set_target(r->cp, r->agent, KIND, value);
	t1 = g_get_monotonic_time();
	c0 = child_cpu_ns(r);
	end = t1 + 60 * G_USEC_PER_SEC;
	while (cdb_inode(r) == before && g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(100);
	}
	*from_answer = (g_get_monotonic_time() - t1) / 1000.0;
	*from_change = (g_get_monotonic_time() - t0) / 1000.0;
	*cpu = (gdouble)(child_cpu_ns(r) - c0) / 1e6;
	g_assert_cmpuint(cdb_inode(r), !=, before);
}

static gint
double_cmp(gconstpointer a, gconstpointer b)
{
	gdouble x = *(const gdouble *)a, y = *(const gdouble *)b;

	return x < y ? -1 : x > y;
}

/* CHANGES changes, an account added and removed in turn: one change's
 * figure moved by a third between runs of the same agent (how much of its
 * memory the kernel had to fault in again), so the median is the figure and
 * the range is printed beside it.  [0] median, [1] least, [2] most. */
typedef struct {
	gdouble answer[3];
	gdouble change[3];
	gdouble cpu[3];
} Changes;

static void
changes_stat(gdouble *v, gdouble *out)
{
	qsort(v, CHANGES, sizeof(*v), double_cmp);
	out[0] = v[CHANGES / 2];
	out[1] = v[0];
	out[2] = v[CHANGES - 1];
}

static void
time_changes(Run *r, guint n, Changes *c)
{
	gdouble answer[CHANGES], change[CHANGES], cpu[CHANGES];

	for (guint k = 0; k < CHANGES; k++)
		time_change(r, n, k % 2 == 0 ? "changed" : NULL, &answer[k], &change[k], &cpu[k]);
	changes_stat(answer, c->answer);
	changes_stat(change, c->change);
	changes_stat(cpu, c->cpu);
}

static void
print_mail(guint n, const Mail *m)
{
	gdouble polls_a_hold;

	/* production: one report a hold, at a poll every default poll interval */
	polls_a_hold = EXM_DP_USAGE_REPORT_INTERVAL / EXM_UA_DEFAULT_POLL_INTERVAL;
	g_print("# %7u accounts: mail moving (the usage changes before every poll, the targets "
		"do not) for %d s, a %d s hold: %u iterations; %u sent nothing, %.2f ms CPU each; "
		"%u reported, %.1f ms CPU each (the previous design: every such iteration)\n",
		n,
		3 * HOLD_S,
		HOLD_S,
		m->polls,
		m->held_n,
		m->held,
		m->sent_n,
		m->reported);
	g_print("# %7u accounts: mail moving at the defaults (a %d s hold, a poll every %d s): "
		"%.1f ms CPU a poll, against %.1f ms reporting at every poll\n",
		n,
		EXM_DP_USAGE_REPORT_INTERVAL,
		(gint)EXM_UA_DEFAULT_POLL_INTERVAL,
		(m->reported + m->held * (polls_a_hold - 1)) / polls_a_hold,
		m->reported);
}

static void
bench_size(guint n)
{
	Run r = { 0 };
	g_autofree gchar *s0 = NULL;
	g_autofree gchar *s1 = NULL;
	gdouble idle, full, rss, hwm;
	Changes changes;
	gdouble peak_first, peak_idle, peak_full, peak_mail, peak_change;
	guint idle_sent = 0, full_sent = 0;
	Mail mail = { 0 };

	run_start(&r);
	converge(&r, n);
	peak_first = child_phase_peak_mb(&r);
	s0 = stamps(&r);
	idle = cpu_per_poll(&r, IDLE_POLLS, NULL, &idle_sent);
	s1 = stamps(&r);
	rss = child_status_mb(&r, "VmRSS:");
	peak_idle = child_phase_peak_mb(&r);
	full = cpu_per_poll(&r, FULL_POLLS, touch_dkim, &full_sent);
	/* the full iterations' memory goes back in the idle ones after them: a
	 * reset before would count what is left of it as the next phase's */
	wait_polls(&r, polls(&r), 2, 60);
	peak_full = child_phase_peak_mb(&r);
	mail_moving(&r, &mail);
	wait_polls(&r, polls(&r), 2, 60);
	peak_mail = child_phase_peak_mb(&r);
	time_changes(&r, n, &changes);
	peak_change = child_phase_peak_mb(&r);
	hwm = MAX(MAX(MAX(peak_first, peak_idle), MAX(peak_full, peak_change)), peak_mail);
	g_print("# %7u accounts: idle iteration %.3f ms CPU (target < %.0f ms), full "
		"iteration (previous design) %.2f ms CPU\n",
		n,
		idle,
		TARGET_IDLE_MS,
		full);
	g_print("# %7u accounts: idle iterations wrote %s and sent %u Status API calls "
		"(target: nothing)\n",
		n,
		g_str_equal(s0, s1) ? "nothing" : "files",
		idle_sent);
	print_mail(n, &mail);
	g_print("# %7u accounts: one changed account swapped passwd.cdb %.1f ms after the "
		"answer (%.0f to %.0f), %.1f ms after the change (target < %.0f ms); the agent's "
		"CPU from the answer to the swap %.1f ms (%.0f to %.0f); medians of %d changes, an "
		"account added and removed in turn\n",
		n,
		changes.answer[0],
		changes.answer[1],
		changes.answer[2],
		changes.change[0],
		TARGET_CHANGE_MS,
		changes.cpu[0],
		changes.cpu[1],
		changes.cpu[2],
		CHANGES);
	g_print("# %7u accounts: RSS %.1f MB idle, %.1f MB peak (target < %.0f MB)\n",
		n,
		rss,
		hwm,
		TARGET_RSS_MB);
	g_print("# %7u accounts: peak RSS by phase: first apply %.1f MB, idle iterations %.1f MB, "
		"full iterations %.1f MB, mail moving %.1f MB, changes %.1f MB (target < %.0f "
		"MB)\n",
		n,
		peak_first,
		peak_idle,
		peak_full,
		peak_mail,
		peak_change,
		TARGET_RSS_MB);
	if (exm_memprobe_enabled())
		g_print("# %7u accounts: EXM_MEMORY_PROBE is set: the agent reset its peak at "
			"every point, so the peaks above are only since its last point; its "
			"lines (\"memory at\") are in this log\n",
			n);
	g_assert_false(r.exited);
	run_stop(&r);
}

static void
bench(void)
{
	const guint sizes[] = { 10, 100000 };

	for (guint i = 0; i < G_N_ELEMENTS(sizes); i++)
		bench_size(sizes[i]);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	/* the agent logs as it goes; the fake CP's warnings are not failures here */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_test_add_func("/e2e/bench/agent-scale", bench);
	return g_test_run();
}
