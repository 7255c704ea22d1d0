/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A bounded DNS stub resolver over libunbound, for the live DNS check
 * (docs/dns-verification.md).  Answers are untrusted input: counts, sizes and
 * names are bounded before they reach the check.
 */
#pragma once

#include <glib.h>

/* At most this many records of one answer are kept, this many queries made. */
#define EXM_MAIL_RESOLVER_MAX_RECORDS 32
#define EXM_MAIL_RESOLVER_MAX_QUERIES 64
/* A TXT record longer than this (after joining its strings) is cut. */
#define EXM_MAIL_RESOLVER_MAX_TXT 4096

typedef struct _ExmMailResolver ExmMailResolver;

/**
 * exm_mail_resolver_new:
 * @server: (nullable): `ADDR` or `ADDR@PORT` of the resolver (or an
 *   authoritative server) to send every query to; %NULL or "" reads
 *   /etc/resolv.conf
 * @timeout_ms: the total time every lookup of this resolver may take together
 * @error: on a bad @server or an unreadable resolv.conf
 *
 * A fresh libunbound context without a cache shared with earlier checks, so a
 * record fixed since the last check is seen now.
 *
 * Returns: (transfer full) (nullable): the resolver
 */
ExmMailResolver *exm_mail_resolver_new(const gchar *server, guint timeout_ms, GError **error);

void exm_mail_resolver_free(ExmMailResolver *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmMailResolver, exm_mail_resolver_free)

/**
 * exm_mail_resolver_lookup:
 * @self: (type ExmMailResolver): the resolver
 * @name: the name to look up (no trailing dot needed)
 * @type: "A", "TXT", "MX" or "PTR"
 * @out: (element-type utf8): gets one string per record: A dotted, TXT its
 *   strings joined, MX `PREF NAME.`, PTR `NAME.`
 * @error: G_IO_ERROR_TIMED_OUT once the time is spent, G_IO_ERROR_FAILED on
 *   SERVFAIL, REFUSED and any other failure to learn the answer
 *
 * A name that does not exist or has no such record adds nothing and succeeds.
 * The signature is ExmMailDnsLookup's (exm-mail-dnscheck.h).
 *
 * Returns: %TRUE when the answer (possibly empty) is known
 */
gboolean exm_mail_resolver_lookup(gpointer resolver,
				  const gchar *name,
				  const gchar *type,
				  GPtrArray *out,
				  GError **error);
