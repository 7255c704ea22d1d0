/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A real authoritative DNS server for tests: Debian's knotd on 127.0.0.1 and a
 * free port, serving zones the test writes.  knotd dies with the test process
 * (PR_SET_PDEATHSIG) even when the test crashes before its teardown.
 */
#pragma once

#include <glib.h>

typedef struct _ExmTestKnot ExmTestKnot;

/**
 * exm_test_knot_new:
 * @zones: %NULL-terminated zone origins (no final dot), the first one holding
 *   the name server `ns.<first>` at 127.0.0.1
 *
 * Writes the configuration in a fresh directory; knotd is not started yet.
 * Calls exm_test_peer_missing() and returns %NULL when knotd is not installed.
 */
ExmTestKnot *exm_test_knot_new(const gchar *const *zones);

/* Writes @origin's zone file: SOA (serial of the next load), NS, then @records
 * ("<fqdn>. TTL IN TYPE RDATA" lines, newline-separated). */
void exm_test_knot_write_zone(ExmTestKnot *k, const gchar *origin, const gchar *records);

/* Starts knotd and waits until it listens; %FALSE (test failed) otherwise. */
gboolean exm_test_knot_start(ExmTestKnot *k);

/* Has the running knotd load the zone files again (knotc -b zone-reload):
 * returns once they are loaded. */
void exm_test_knot_reload(ExmTestKnot *k);

/* Stops knotd (SIGTERM, reaped); harmless when it is not running. */
void exm_test_knot_stop(ExmTestKnot *k);

/* `127.0.0.1@<port>`, the resolver address to point a check at. */
const gchar *exm_test_knot_server(ExmTestKnot *k);

/* Stops knotd, checks nothing of it runs on, removes the directory. */
void exm_test_knot_free(ExmTestKnot *k);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmTestKnot, exm_test_knot_free)
