/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-dnssec.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "exm-test.h"

#define KNOT_ADDR "127.0.0.53"
#define PYTHON	  "/usr/bin/python3"

/* One DNS query through a server; exit status 0 when the answer has AD, 3
 * when it has none, 1 on no answer.  Prints the answer's records. */
static const gchar query_py[] =
	"import sys, dns.flags, dns.message, dns.query\n"
	"q = dns.message.make_query(sys.argv[2], sys.argv[3], want_dnssec=True)\n"
	"r = dns.query.udp(q, sys.argv[1], timeout=2)\n"
	"for rrset in r.answer:\n"
	"    print(rrset.to_text())\n"
	"sys.exit(0 if r.flags & dns.flags.AD else 3)\n";

struct _ExmDpDnssec {
	gchar *dir;
	gchar *zone;
	gchar *knot_conf;
	GPid knot_pid;
	GPid unbound_pid;
};

static gchar *
knot_conf_text(const gchar *dir, const gchar *zone)
{
	/* keys that never roll: the test's trust anchor stays right throughout */
	return g_strdup_printf("server:\n  rundir: \"%s\"\n  listen: " KNOT_ADDR "@53\n"
			       "database:\n  storage: \"%s\"\n"
			       "control:\n  listen: \"%s/knot.sock\"\n"
			       "log:\n  - target: stderr\n    any: warning\n"
			       "policy:\n  - id: test\n    algorithm: ecdsap256sha256\n"
			       "    ksk-lifetime: 0\n    zsk-lifetime: 0\n"
			       "template:\n  - id: default\n    storage: \"%s\"\n"
			       "    file: \"%%s.zone\"\n    zonefile-sync: -1\n"
			       "    zonefile-load: whole\n    journal-content: none\n"
			       "zone:\n  - domain: %s\n    dnssec-signing: on\n"
			       "    dnssec-policy: test\n",
			       dir,
			       dir,
			       dir,
			       dir,
			       zone);
}

static gboolean
have_peers(void)
{
	const gchar *check[] = { PYTHON, "-c", "import dns.message", NULL };

	for (guint i = 0; i < 3; i++) {
		const gchar *program = (const gchar *[]){ "knotd", "keymgr", "unbound" }[i];
		g_autofree gchar *path = exm_test_find_program(program);

		if (path == NULL) {
			exm_test_peer_missing("%s is not installed (Debian packages knot, unbound)",
					      program);
			return FALSE;
		}
	}
	if (exm_test_run(check, NULL, NULL) != 0) {
		exm_test_peer_missing(PYTHON " with dnspython is not installed");
		return FALSE;
	}
	return TRUE;
}

ExmDpDnssec *
exm_dp_dnssec_new(const gchar *zone, const gchar *records)
{
	ExmDpDnssec *d;
	g_autofree gchar *conf = NULL;
	g_autofree gchar *zone_path = NULL;
	g_autofree gchar *zone_text = NULL;
	g_autoptr(GError) error = NULL;

	if (!have_peers())
		return NULL;
	d = g_new0(ExmDpDnssec, 1);
	d->dir = exm_test_mkdtemp("exm-dnssec");
	d->zone = g_strdup(zone);
	d->knot_conf = g_build_filename(d->dir, "knot.conf", NULL);
	conf = knot_conf_text(d->dir, zone);
	zone_path = g_strdup_printf("%s/%s.zone", d->dir, zone);
	zone_text = g_strdup_printf("$ORIGIN %s.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 "
				    "86400 60\n@ NS ns\nns A " KNOT_ADDR "\n%s\n",
				    zone,
				    records);
	if (!g_file_set_contents(d->knot_conf, conf, -1, &error) ||
	    !g_file_set_contents(zone_path, zone_text, -1, &error))
		g_test_fail_printf("dnssec: %s", error->message);
	return d;
}

static gboolean
spawn(const gchar *const *argv, GPid *pid, GError **error)
{
	return g_spawn_async(NULL,
			     (gchar **)argv,
			     NULL,
			     G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
			     exm_test_die_with_parent,
			     GINT_TO_POINTER(SIGTERM),
			     pid,
			     error);
}

static gint
query(const gchar *server, const gchar *name, const gchar *type, gchar **answer)
{
	const gchar *argv[] = { PYTHON, "-c", query_py, server, name, type, NULL };

	return exm_test_run(argv, answer, NULL);
}

/* knot loads the zone only once it is signed: a DNSKEY answer means signed.
 * A hang guard, not a timing assertion: knot signs in milliseconds. */
static gboolean
wait_signed(ExmDpDnssec *d, GError **error)
{
	for (guint i = 0; i < 150; i++) {
		g_autofree gchar *answer = NULL;

		query(KNOT_ADDR, d->zone, "DNSKEY", &answer);
		if (answer != NULL && strstr(answer, "DNSKEY 257") != NULL)
			return TRUE;
		g_usleep(100 * 1000);
	}
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "knotd served no signed %s", d->zone);
	return FALSE;
}

/* The zone's DS (SHA-256) as knot's keymgr prints it: `<zone>. DS …`. */
static gchar *
zone_ds(ExmDpDnssec *d, GError **error)
{
	g_autofree gchar *keymgr = exm_test_find_program("keymgr");
	const gchar *argv[] = { keymgr, "-c", d->knot_conf, d->zone, "ds", NULL };
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gchar *nl;

	if (exm_test_run(argv, &out, &err) != 0 || out == NULL || strstr(out, " DS ") == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "keymgr ds: %s", err);
		return NULL;
	}
	nl = strchr(out, '\n');
	if (nl != NULL)
		*nl = '\0';
	return g_steal_pointer(&out);
}

static gchar *
unbound_conf_text(ExmDpDnssec *d, const gchar *ds)
{
	/* `test.` is one of unbound's built-in empty zones (RFC 6761): undone */
	return g_strdup_printf("server:\n  interface: " EXM_DP_DNSSEC_RESOLVER "\n  port: 53\n"
			       "  username: \"\"\n  chroot: \"\"\n  directory: \"%s\"\n"
			       "  pidfile: \"%s/unbound.pid\"\n  use-syslog: no\n"
			       "  logfile: \"\"\n  verbosity: 1\n  do-not-query-localhost: no\n"
			       "  access-control: 127.0.0.0/8 allow\n"
			       "  module-config: \"validator iterator\"\n"
			       "  val-permissive-mode: no\n  trust-anchor: \"%s\"\n"
			       "  local-zone: \"test.\" nodefault\n"
			       "stub-zone:\n  name: \"%s.\"\n  stub-addr: " KNOT_ADDR "@53\n"
			       "remote-control:\n  control-enable: no\n",
			       d->dir,
			       d->dir,
			       ds,
			       d->zone);
}

gboolean
exm_dp_dnssec_start(ExmDpDnssec *d, GError **error)
{
	g_autofree gchar *knotd = exm_test_find_program("knotd");
	g_autofree gchar *unbound = exm_test_find_program("unbound");
	g_autofree gchar *conf = g_build_filename(d->dir, "unbound.conf", NULL);
	const gchar *knot_argv[] = { knotd, "-c", d->knot_conf, NULL };
	const gchar *unbound_argv[] = { unbound, "-d", "-c", conf, NULL };
	g_autofree gchar *ds = NULL;
	g_autofree gchar *text = NULL;

	if (!spawn(knot_argv, &d->knot_pid, error) || !wait_signed(d, error))
		return FALSE;
	ds = zone_ds(d, error);
	if (ds == NULL)
		return FALSE;
	text = unbound_conf_text(d, ds);
	if (!g_file_set_contents(conf, text, -1, error) ||
	    !spawn(unbound_argv, &d->unbound_pid, error))
		return FALSE;
	for (guint i = 0; i < 100 && !exm_test_can_connect(EXM_DP_DNSSEC_RESOLVER, 53); i++)
		g_usleep(50 * 1000);
	if (!exm_test_can_connect(EXM_DP_DNSSEC_RESOLVER, 53)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "unbound is not listening");
		return FALSE;
	}
	return TRUE;
}

gboolean
exm_dp_dnssec_query(ExmDpDnssec *d, const gchar *name, const gchar *type, gchar **answer)
{
	return query(EXM_DP_DNSSEC_RESOLVER, name, type, answer) == 0;
}

static void
stop(GPid *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	waitpid(*pid, NULL, 0);
	g_spawn_close_pid(*pid);
	*pid = 0;
}

void
exm_dp_dnssec_free(ExmDpDnssec *d)
{
	if (d == NULL)
		return;
	stop(&d->unbound_pid);
	stop(&d->knot_pid);
	exm_test_rmtree(d->dir);
	g_free(d->dir);
	g_free(d->zone);
	g_free(d->knot_conf);
	g_free(d);
}
