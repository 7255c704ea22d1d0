/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The dp suite's sandbox: a root directory with mail.env, a loopback address of
 * its own, exim4 as a daemon on it, an SMTP sink, and the Python clients.
 * Every process started here is tracked and stopped in exm_dp_fixture_free()
 * (and dies with the test binary through PR_SET_PDEATHSIG).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <sys/types.h>

#include "exm-dp-config.h"

#define EXM_DP_TEST_DOMAIN "example.com"

typedef struct {
	gchar *root;	  /* sandbox root (0755, under /tmp) */
	gchar *addr;	  /* 127.a.b.c owned by this fixture */
	gchar *sink_addr; /* the sink's address (127.a.b.c+1) */
	gint sink_port;
	gchar *sink_dir;     /* messages captured by the sink */
	gchar *restarts;     /* file the restart command appends to */
	ExmDpConfig *config; /* settings pointing into the sandbox */
	GPid exim_pid;
	GPid sink_pid;
	GPid dns_pid;
	gchar *resolv_conf;	  /* names the fake DNS server as the only nameserver */
	const gchar *exim_define; /* (nullable) a macro the next exim start gets as -D */
} ExmDpFixture;

/**
 * exm_dp_fixture_new:
 * @domain: (nullable): written to mail.env; %NULL writes no mail.env
 *
 * Creates the sandbox, laid out by the real exordos/images/dp_install.sh and
 * dp_bootstrap.sh (stubs for apt-get, meson, systemctl and the platform's
 * bootstrap library in tests/dp/node-stubs), so every directory and file the
 * image and the first boot make has their owner and mode; picks a free
 * loopback address; starts nothing.
 */
ExmDpFixture *exm_dp_fixture_new(const gchar *domain);
void exm_dp_fixture_free(ExmDpFixture *fx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpFixture, exm_dp_fixture_free)

/* Runs exordos-mail-configure's code (in-process); %FALSE with @error on failure. */
gboolean exm_dp_fixture_configure(ExmDpFixture *fx, GError **error);

/* Number of lines in the restart log (times the restart command ran). */
guint exm_dp_fixture_restarts(ExmDpFixture *fx);

/* Starts `exim4 -C <sandbox conf> -bdf` (with `-D<exim_define>` when set) and
 * waits until 25, 465, 587 accept. */
gboolean exm_dp_fixture_start_exim(ExmDpFixture *fx, GError **error);
/* Stops exim (SIGTERM, reaped) and starts it again; the spool stays. */
gboolean exm_dp_fixture_restart_exim(ExmDpFixture *fx, GError **error);
/* Starts the SMTP sink and waits for "ready". */
gboolean exm_dp_fixture_start_sink(ExmDpFixture *fx, GError **error);
void exm_dp_fixture_stop(ExmDpFixture *fx);

/**
 * exm_dp_fixture_start_dns:
 * @records: `NAME`, `TYPE`, `VALUE` triples, %NULL-ended (tests/dp/dns-fake.py)
 *
 * Starts a fake DNS server on the fixture's loopback address, port 53, and
 * writes @resolv_conf naming it.
 */
gboolean exm_dp_fixture_start_dns(ExmDpFixture *fx, const gchar *const *records, GError **error);

/**
 * exm_dp_fixture_route:
 * @address: a recipient address
 * @out: (out) (optional): exim's output (stdout and stderr)
 *
 * Runs `exim -C <sandbox conf> -bt @address` (routing only, nothing is
 * connected to) in a private mount namespace whose /etc/resolv.conf is
 * @resolv_conf, so every DNS query goes to the fake server.  exim does not run
 * at all when that bind mount fails.
 *
 * Returns: exim's exit status (0 routed, 2 undeliverable), -1 when it could not run
 */
gint exm_dp_fixture_route(ExmDpFixture *fx, const gchar *address, gchar **out);

/* Path of @node_path under the sandbox. */
gchar *exm_dp_fixture_path(ExmDpFixture *fx, const gchar *node_path);

/**
 * exm_dp_fixture_client:
 * @argv: arguments of tests/dp/smtp-client.py after the script name
 *
 * Returns: (transfer full): its JSON output as an object, %NULL on failure
 */
JsonObject *exm_dp_fixture_client(const gchar *const *argv, GError **error);

/**
 * exm_dp_fixture_auth:
 * @port: 25, 465 or 587 of the fixture (465 is implicit TLS, others STARTTLS)
 * @mech: (nullable): "PLAIN", "LOGIN" or %NULL (smtplib picks)
 *
 * Returns: the SMTP code of the AUTH answer (235 on success), -1 on a client error
 */
gint exm_dp_fixture_auth(ExmDpFixture *fx,
			 gint port,
			 const gchar *user,
			 const gchar *password,
			 const gchar *mech);

/**
 * exm_dp_node_value:
 * @accounts: `username`, `password_hash`, `"1"`/`"0"` (active) triples, %NULL-ended
 *
 * Returns: (transfer full): a `mail_instance_node` value for the test domain
 */
JsonNode *exm_dp_node_value(const gchar *uuid, const gchar *const *accounts);

/* @node as a reader of its text builds it: every raw object
 * (exm_json_node_is_raw(), a value's `accounts` as the driver writes them)
 * made a tree, for a test that looks inside. */
JsonNode *exm_dp_expanded(JsonNode *node);

/* SHA-512 crypt hash of @password with `rounds=@rounds`. */
gchar *exm_dp_hash_rounds(const gchar *password, gulong rounds);

/* crypt(3) hash of @password with @prefix ("$y$", "$2b$", "$5$", "$6$"). */
gchar *exm_dp_hash(const gchar *prefix, const gchar *password);

/* Script path of tests/dp/<name> in the source tree. */
gchar *exm_dp_script(const gchar *name);

/* Whether a peer program exists; reports it as missing otherwise. */
gboolean exm_dp_have(const gchar *program);

/* exim4 and a Python with smtpd (the sink); reports what is missing. */
gboolean exm_dp_have_exim_and_sink(void);

/* Runs the thread-default main context for about 100 ms (an endpoint the
 * test serves while a peer such as Prometheus queries it). */
void exm_dp_spin_100ms(void);

/* A TLS session on @addr:@port held open by `openssl s_client`: its stdin
 * stays open until exm_dp_held_finish() sends NOOP and QUIT, so a test can
 * change the node under a session that goes on. */
typedef struct {
	GPid pid;
	gint in;
	gint out;
} ExmDpHeld;

/* Opens the session and reads the banner (the handshake is done). */
void exm_dp_held_start(ExmDpHeld *h, const gchar *addr, gint port);

/* NOOP and QUIT on the held session; returns all it answered after the
 * banner and reaps the client. */
gchar *exm_dp_held_finish(ExmDpHeld *h);
