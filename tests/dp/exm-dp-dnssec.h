/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A DNSSEC-signed test zone behind a validating resolver, for the DANE test
 * (tests/dp/test-dp-dane.c): Debian's knotd serves the zone and signs it itself
 * (automatic DNSSEC signing, ECDSA P-256), and unbound resolves through it as a
 * stub zone, validating against the zone's own DS (from knot's keymgr) as its
 * only trust anchor.  Both listen on fixed addresses on port 53 (knot
 * 127.0.0.53, unbound 127.0.0.1), so only a network namespace of the test's
 * own may use this.  Both die with the test process (PR_SET_PDEATHSIG) and are
 * stopped and reaped by exm_dp_dnssec_free().
 */
#pragma once

#include <gio/gio.h>

/* The address of the validating resolver (port 53), for resolv.conf. */
#define EXM_DP_DNSSEC_RESOLVER "127.0.0.1"

typedef struct _ExmDpDnssec ExmDpDnssec;

/**
 * exm_dp_dnssec_new:
 * @zone: the zone's origin, no final dot (e.g. `dane.test`)
 * @records: zone file lines relative to the origin (`a MX 10 mx-a` …)
 *
 * Writes knot's configuration and the zone in a fresh directory; starts
 * nothing.  Calls exm_test_peer_missing() and returns %NULL when knotd, keymgr,
 * unbound or /usr/bin/python3 with dnspython is missing.
 */
ExmDpDnssec *exm_dp_dnssec_new(const gchar *zone, const gchar *records);

/* Starts knotd, waits until the zone is served signed, writes unbound's
 * configuration with the zone's DS as trust anchor and starts unbound. */
gboolean exm_dp_dnssec_start(ExmDpDnssec *d, GError **error);

/**
 * exm_dp_dnssec_query:
 * @name: a name to look up through the resolver
 * @type: its record type
 * @answer: (out) (optional): the answer records, one per line
 *
 * Returns: whether the resolver answered with the AD bit (validated data)
 */
gboolean exm_dp_dnssec_query(ExmDpDnssec *d, const gchar *name, const gchar *type, gchar **answer);

/* Stops both servers (SIGTERM, reaped) and removes the directory. */
void exm_dp_dnssec_free(ExmDpDnssec *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpDnssec, exm_dp_dnssec_free)
