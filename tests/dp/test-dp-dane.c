/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Issue 22 item 6, DANE on outbound deliveries (docs/tls.md §7), end to end:
 * the production routing (MX records, no smarthost) of a real exim on the dp
 * sandbox, a DNSSEC-signed zone served by a real knotd and validated by a real
 * unbound (tests/dp/exm-dp-dnssec.c) that exim's resolv.conf names, and three
 * receiving MXes with STARTTLS (tests/dp/smtp-tls-sink.py), each with a
 * certificate of its own:
 *
 *   a.dane.test → mx-a, TLSA 3 1 1 of mx-a's key: delivered, CV=dane
 *   b.dane.test → mx-b, TLSA 3 1 1 of another key: deferred, nothing arrives
 *   c.dane.test → mx-c, no TLSA: delivered with opportunistic TLS, CV=no
 *   d.dane.test → mx-d, TLSA of its key, but no STARTTLS: deferred, not in clear
 *
 * The MX addresses are TEST-NET-1 (192.0.2.0/24), which the relay does not
 * refuse as a target, so the process first moves into a network and mount
 * namespace of its own (unshare(2)) where those addresses are on lo and
 * /etc/resolv.conf is a bind mount of the test's file: no packet leaves it.
 * Then the agent's log reader counts the delivery lines exim wrote.
 */
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exm-dp-config.h"
#include "exm-dp-dnssec.h"
#include "exm-dp-driver.h"
#include "exm-dp-fixture.h"
#include "exm-dp-logstats.h"
#include "exm-test.h"

#define UUID "5d1c7f0e-2b3a-4c5d-9e8f-0a1b2c3d4e5f"
#define MIA  "mia@example.com"
#define ZONE "dane.test"

static const gchar *const mx_names[] = { "a", "b", "c", "d" };
static const gchar *const mx_addrs[] = { "192.0.2.25", "192.0.2.26", "192.0.2.27", "192.0.2.28" };
#define N_MX 4
/* mx-d offers no STARTTLS (as when someone on the path strips it) */
#define MX_NO_TLS 3

/* enter_namespaces() succeeded */
static gboolean in_netns;

typedef struct {
	gchar *dir;
	gchar *out[N_MX];
	GPid pid[N_MX];
} Sinks;

/* The namespace's lo up with the MX addresses; resolv.conf → unbound.  AD
 * reaches exim only with trust-ad (glibc ≥ 2.31 clears it otherwise). */
static gboolean
enter_netns(const gchar *resolv, GError **error)
{
	const gchar *up[] = { "ip", "link", "set", "lo", "up", NULL };

	if (exm_test_run(up, NULL, NULL) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "ip link set lo up failed");
		return FALSE;
	}
	for (guint i = 0; i < N_MX; i++) {
		g_autofree gchar *cidr = g_strdup_printf("%s/32", mx_addrs[i]);
		const gchar *add[] = { "ip", "addr", "add", cidr, "dev", "lo", NULL };

		if (exm_test_run(add, NULL, NULL) != 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "ip addr add %s", cidr);
			return FALSE;
		}
	}
	if (!g_file_set_contents(resolv,
				 "nameserver " EXM_DP_DNSSEC_RESOLVER "\noptions edns0 trust-ad\n",
				 -1,
				 error))
		return FALSE;
	if (mount(resolv, "/etc/resolv.conf", "none", MS_BIND, NULL) != 0) {
		g_set_error(
			error, G_IO_ERROR, G_IO_ERROR_FAILED, "bind mount of resolv.conf failed");
		return FALSE;
	}
	return TRUE;
}

/* A self-signed EC P-256 certificate for mx-@name.dane.test. */
static gboolean
make_cert(const gchar *dir, const gchar *name)
{
	g_autofree gchar *key = g_strdup_printf("%s/mx-%s.key", dir, name);
	g_autofree gchar *crt = g_strdup_printf("%s/mx-%s.crt", dir, name);
	g_autofree gchar *subj = g_strdup_printf("/CN=mx-%s." ZONE, name);
	g_autofree gchar *san = g_strdup_printf("subjectAltName=DNS:mx-%s." ZONE, name);
	const gchar *argv[] = {
		"openssl", "req",   "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-nodes",  "-days", "2",     "-subj",	subj, "-addext",  san,
		"-keyout", key,	    "-out",  crt,	NULL
	};
	g_autofree gchar *err = NULL;

	return exm_test_run(argv, NULL, &err) == 0;
}

/* SHA-256 of the certificate's DER SubjectPublicKeyInfo: TLSA `3 1 1` data. */
static gchar *
spki_sha256(const gchar *dir, const gchar *name)
{
	g_autofree gchar *crt = g_strdup_printf("%s/mx-%s.crt", dir, name);
	FILE *f = fopen(crt, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	gint len = x != NULL ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der) : -1;
	gchar *hex =
		len > 0 ? g_compute_checksum_for_data(G_CHECKSUM_SHA256, der, (gsize)len) : NULL;

	OPENSSL_free(der);
	X509_free(x);
	if (f != NULL)
		(void)fclose(f);
	g_assert_nonnull(hex);
	return hex;
}

/* mx-b's TLSA names mx-c's key: a record that matches no certificate mx-b has. */
static gchar *
zone_records(const gchar *dir)
{
	g_autofree gchar *a = spki_sha256(dir, "a");
	g_autofree gchar *c = spki_sha256(dir, "c");
	g_autofree gchar *d = spki_sha256(dir, "d");
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < N_MX; i++)
		g_string_append_printf(s,
				       "%s MX 10 mx-%s\nmx-%s A %s\n",
				       mx_names[i],
				       mx_names[i],
				       mx_names[i],
				       mx_addrs[i]);
	g_string_append_printf(s, "_25._tcp.mx-a TLSA 3 1 1 %s\n", a);
	g_string_append_printf(s, "_25._tcp.mx-b TLSA 3 1 1 %s\n", c);
	g_string_append_printf(s, "_25._tcp.mx-d TLSA 3 1 1 %s\n", d);
	return g_string_free(s, FALSE);
}

static gboolean
start_sinks(Sinks *s, GError **error)
{
	g_autofree gchar *script = exm_dp_script("smtp-tls-sink.py");

	for (guint i = 0; i < N_MX; i++) {
		g_autofree gchar *key = g_strdup_printf("%s/mx-%s.key", s->dir, mx_names[i]);
		g_autofree gchar *crt = g_strdup_printf("%s/mx-%s.crt", s->dir, mx_names[i]);
		const gchar *argv[] = {
			"/usr/bin/python3", script, mx_addrs[i], "25", crt, key, NULL, NULL
		};

		s->out[i] = g_strdup_printf("%s/out-%s", s->dir, mx_names[i]);
		g_mkdir_with_parents(s->out[i], 0755);
		argv[6] = s->out[i];
		if (i == MX_NO_TLS)
			argv[4] = argv[5] = "-";
		if (!g_spawn_async(NULL,
				   (gchar **)argv,
				   NULL,
				   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
				   exm_test_die_with_parent,
				   GINT_TO_POINTER(SIGTERM),
				   &s->pid[i],
				   error))
			return FALSE;
	}
	for (guint i = 0; i < N_MX; i++) {
		for (guint t = 0; t < 200 && !exm_test_can_connect(mx_addrs[i], 25); t++)
			g_usleep(50 * 1000);
		if (!exm_test_can_connect(mx_addrs[i], 25)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "sink %s", mx_addrs[i]);
			return FALSE;
		}
	}
	return TRUE;
}

static void
sinks_free(Sinks *s)
{
	for (guint i = 0; i < N_MX; i++) {
		if (s->pid[i] > 0) {
			kill(s->pid[i], SIGTERM);
			waitpid(s->pid[i], NULL, 0);
			g_spawn_close_pid(s->pid[i]);
		}
		g_free(s->out[i]);
	}
	exm_test_rmtree(s->dir);
	g_free(s->dir);
	g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Sinks, sinks_free)

/* The one message the sink stored, "" when none. */
static gchar *
sink_message(Sinks *s, guint i)
{
	g_autofree gchar *path = g_strdup_printf("%s/msg-1.eml", s->out[i]);
	gchar *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return g_strdup("");
	return text;
}

static void
send_mail(ExmDpFixture *fx, const gchar *to)
{
	const gchar *argv[] = { "send", fx->addr, "587", "starttls", MIA, "mia-pw", MIA, to, NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) obj = exm_dp_fixture_client(argv, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(json_object_get_string_member(obj, "stage"), ==, "done");
}

/* The main log's line about @rcpt with @symbol (`=>`, `==`), %NULL if none. */
static gchar *
log_line(const gchar *log, const gchar *symbol, const gchar *rcpt)
{
	g_autofree gchar *needle = g_strdup_printf(" %s %s ", symbol, rcpt);
	g_auto(GStrv) lines = g_strsplit(log, "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++) {
		if (strstr(lines[i], needle) != NULL)
			return g_strdup(lines[i]);
	}
	return NULL;
}

/* exim tries each recipient once right after accepting it; a hang guard. */
static gchar *
wait_log(ExmDpFixture *fx)
{
	g_autofree gchar *path = g_build_filename(fx->root, EXM_DP_PATH_LOG_DIR, "mainlog", NULL);
	gchar *log = NULL;

	for (guint i = 0; i < 600; i++) {
		g_autofree gchar *a = NULL;
		g_autofree gchar *b = NULL;
		g_autofree gchar *c = NULL;
		g_autofree gchar *d = NULL;

		g_free(log);
		log = NULL;
		if (!g_file_get_contents(path, &log, NULL, NULL))
			log = g_strdup("");
		a = log_line(log, "=>", "someone@a." ZONE);
		b = log_line(log, "==", "someone@b." ZONE);
		c = log_line(log, "=>", "someone@c." ZONE);
		d = log_line(log, "==", "someone@d." ZONE);
		if (a != NULL && b != NULL && c != NULL && d != NULL)
			break;
		g_usleep(50 * 1000);
	}
	return log;
}

/* The relay in production routing, with mia's account. */
static ExmDpFixture *
start_relay(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(JsonNode) value = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hash = exm_dp_hash("$6$", "mia-pw");

	g_free(fx->config->smarthost);
	fx->config->smarthost = g_strdup("");
	g_assert_true(exm_dp_fixture_configure(fx, &error) &&
		      exm_dp_fixture_start_exim(fx, &error));
	g_assert_no_error(error);
	driver = exm_dp_driver_new(fx->config, &error);
	g_assert_no_error(error);
	value = exm_dp_node_value(UUID, (const gchar *const[]){ "mia", hash, "1", NULL });
	actual = exm_dp_driver_apply(driver, value, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(actual);
	return g_steal_pointer(&fx);
}

/* The resolver validates what exim will ask: MX, A and TLSA with AD. */
static void
check_resolver(ExmDpDnssec *dns)
{
	g_autofree gchar *tlsa = NULL;

	g_assert_true(exm_dp_dnssec_query(dns, "a." ZONE, "MX", NULL));
	g_assert_true(exm_dp_dnssec_query(dns, "mx-a." ZONE, "A", NULL));
	g_assert_true(exm_dp_dnssec_query(dns, "_25._tcp.mx-a." ZONE, "TLSA", &tlsa));
	g_test_message("TLSA of mx-a: %s", tlsa);
	g_assert_nonnull(strstr(tlsa, "TLSA 3 1 1"));
}

/* a: DANE; c: opportunistic TLS; both arrived over TLS.  b: deferred by
 * the TLSA mismatch, never in clear, nothing arrived, still queued. */
static void
check_outcomes(ExmDpFixture *fx, Sinks *sinks, const gchar *log)
{
	g_autofree gchar *a = log_line(log, "=>", "someone@a." ZONE);
	g_autofree gchar *b = log_line(log, "==", "someone@b." ZONE);
	g_autofree gchar *b_sent = log_line(log, "=>", "someone@b." ZONE);
	g_autofree gchar *c = log_line(log, "=>", "someone@c." ZONE);
	g_autofree gchar *msg_a = sink_message(sinks, 0);
	g_autofree gchar *msg_b = sink_message(sinks, 1);
	g_autofree gchar *msg_c = sink_message(sinks, 2);
	g_autofree gchar *conf = exm_dp_fixture_path(fx, EXM_DP_PATH_EXIM_CONF);
	const gchar *bp[] = { fx->config->exim_binary, "-C", conf, "-bp", NULL };
	g_autofree gchar *queue = NULL;

	g_assert_nonnull(a);
	g_assert_nonnull(strstr(a, " H=mx-a." ZONE " DS [192.0.2.25]"));
	g_assert_nonnull(strstr(a, " X=TLS1."));
	g_assert_nonnull(strstr(a, " CV=dane "));
	g_assert_true(g_str_has_prefix(msg_a, "X-Sink-TLS: TLSv1."));
	g_assert_nonnull(b);
	g_assert_nonnull(strstr(b, "certificate verification failed"));
	g_assert_nonnull(strstr(log, " DANE attempt failed; TLS connection to mx-b." ZONE));
	g_assert_null(b_sent);
	g_assert_cmpstr(msg_b, ==, "");
	g_assert_cmpint(exm_test_run(bp, &queue, NULL), ==, 0);
	g_assert_nonnull(strstr(queue, "someone@b." ZONE));
	g_assert_nonnull(c);
	g_assert_nonnull(strstr(c, " X=TLS1."));
	g_assert_nonnull(strstr(c, " CV=no "));
	g_assert_true(g_str_has_prefix(msg_c, "X-Sink-TLS: TLSv1."));
}

/* d: its TLSA record makes TLS mandatory, and its MX offers no STARTTLS (as
 * when someone on the path strips it): deferred, never sent in clear. */
static void
check_stripped(Sinks *sinks, const gchar *log)
{
	g_autofree gchar *d = log_line(log, "==", "someone@d." ZONE);
	g_autofree gchar *d_sent = log_line(log, "=>", "someone@d." ZONE);
	g_autofree gchar *msg_d = sink_message(sinks, MX_NO_TLS);

	g_test_message("mx-d without STARTTLS: %s", d);
	g_assert_nonnull(d);
	g_assert_nonnull(strstr(d, " H=mx-d." ZONE " DS [192.0.2.28]"));
	g_assert_null(d_sent);
	g_assert_cmpstr(msg_d, ==, "");
}

/* The agent's log reader on the same main log. */
static void
check_counted(const gchar *log)
{
	g_autoptr(ExmDpLogStats) stats = exm_dp_logstats_new("/nonexistent", TRUE);
	g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
	g_autoptr(GString) text = g_string_new(NULL);
	guint64 yes = 0;
	guint64 no = 0;

	for (guint i = 0; lines[i] != NULL; i++)
		exm_dp_logstats_feed_line(stats, lines[i], strlen(lines[i]));
	exm_dp_logstats_render(stats, text);
	g_test_message("%s", text->str);
	yes = exm_dp_logstats_get_deliveries_tls(stats, "TLS1.3", TRUE) +
	      exm_dp_logstats_get_deliveries_tls(stats, "TLS1.2", TRUE);
	no = exm_dp_logstats_get_deliveries_tls(stats, "TLS1.3", FALSE) +
	     exm_dp_logstats_get_deliveries_tls(stats, "TLS1.2", FALSE);
	g_assert_cmpuint(yes, ==, 1);
	g_assert_cmpuint(no, ==, 1);
	g_assert_cmpuint(exm_dp_logstats_get_deliveries_tls(stats, "none", FALSE), ==, 0);
	/* b's certificate and d's missing STARTTLS */
	g_assert_cmpuint(exm_dp_logstats_get_dane_failures(stats), ==, 2);
	g_assert_nonnull(strstr(text->str, "exordos_node_dane_failures_total 2\n"));
}

/* Why trust-ad matters: without it glibc clears AD, exim sees no validated
 * data, makes no TLSA lookup and sends b's message with opportunistic TLS to
 * the host whose certificate its TLSA record refuses. */
static void
check_without_trust_ad(ExmDpFixture *fx, Sinks *sinks, const gchar *log)
{
	g_autofree gchar *b = log_line(log, "==", "someone@b." ZONE);
	g_auto(GStrv) tok = g_strsplit(b, " ", 4);
	g_autofree gchar *conf = exm_dp_fixture_path(fx, EXM_DP_PATH_EXIM_CONF);
	const gchar *deliver[] = { fx->config->exim_binary, "-C", conf, "-M", tok[2], NULL };
	g_autofree gchar *path = g_build_filename(fx->root, EXM_DP_PATH_LOG_DIR, "mainlog", NULL);
	g_autofree gchar *after = NULL;
	g_autofree gchar *sent = NULL;
	FILE *f = fopen("/etc/resolv.conf", "w"); /* the bind mount: rewritten in place */

	g_assert_nonnull(f);
	g_assert_cmpint(fputs("nameserver " EXM_DP_DNSSEC_RESOLVER "\noptions edns0\n", f), >=, 0);
	g_assert_cmpint(fclose(f), ==, 0);
	g_assert_cmpint(exm_test_run(deliver, NULL, NULL), ==, 0);
	g_assert_true(g_file_get_contents(path, &after, NULL, NULL));
	sent = log_line(after, "=>", "someone@b." ZONE);
	g_test_message("without trust-ad: %s", sent);
	g_assert_nonnull(sent);
	g_assert_nonnull(strstr(sent, " CV=no "));
	g_assert_null(strstr(sent, " DS "));
	g_free(sent);
	sent = sink_message(sinks, 1);
	g_assert_true(g_str_has_prefix(sent, "X-Sink-TLS: TLSv1."));
}

static gboolean
have_peers(void)
{
	if (!exm_test_need_root_and("DANE in a network namespace", "ip"))
		return FALSE;
	if (!in_netns) {
		g_test_fail_printf("no network and mount namespace of the test's own");
		return FALSE;
	}
	return exm_dp_have_exim_and_sink() && exm_dp_have("openssl");
}

static void
test_dane(void)
{
	g_autoptr(Sinks) sinks = g_new0(Sinks, 1);
	g_autoptr(ExmDpDnssec) dns = NULL;
	g_autoptr(ExmDpFixture) fx = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *records = NULL;
	g_autofree gchar *resolv = NULL;
	g_autofree gchar *log = NULL;

	sinks->dir = exm_test_mkdtemp("exm-dane");
	if (!have_peers())
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees sinks
		return;
	for (guint i = 0; i < N_MX; i++)
		g_assert_true(make_cert(sinks->dir, mx_names[i]));
	records = zone_records(sinks->dir);
	dns = exm_dp_dnssec_new(ZONE, records);
	if (dns == NULL)
		return;
	resolv = g_build_filename(sinks->dir, "resolv.conf", NULL);
	g_assert_true(enter_netns(resolv, &error) && exm_dp_dnssec_start(dns, &error) &&
		      start_sinks(sinks, &error));
	EXM_TEST_OK(error);
	check_resolver(dns);
	fx = start_relay();
	for (guint i = 0; i < N_MX; i++) {
		g_autofree gchar *to = g_strdup_printf("someone@%s." ZONE, mx_names[i]);

		send_mail(fx, to);
	}
	log = wait_log(fx);
	g_test_message("exim's main log:\n%s", log);
	check_outcomes(fx, sinks, log);
	check_stripped(sinks, log);
	check_counted(log);
	check_without_trust_ad(fx, sinks, log);
}

/* As root: a network and mount namespace of the process's own, taken before
 * any thread exists; mounts made in it never reach the machine's. */
static void
enter_namespaces(void)
{
	if (geteuid() != 0)
		return;
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
		g_printerr("unshare: %s\n", g_strerror(errno));
		return;
	}
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
		g_printerr("mount --make-rprivate /: %s\n", g_strerror(errno));
		return;
	}
	in_netns = TRUE;
}

int
main(int argc, char **argv)
{
	enter_namespaces();
	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/dane/outbound", test_dane);
	return g_test_run();
}
