/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: the node's main-log reader on delivery lines
 * (exm_dp_logstats_delivery_tls() and exm_dp_logstats_feed_line(), issue 22
 * item 6): the text after `=>` comes from exim, but holds the tenant's
 * recipient and sender and the receiving server's DN and reply.
 *
 * Properties: the version is one of the metric's labels; a remote delivery
 * has an `H=`, DANE needs a `CV=dane`, a version other than `none` an `X=`
 * (the facts never come from nowhere); fed as a line, the input counts at most
 * one delivery, and the TLS counts never exceed the deliveries counted.
 */
#include <string.h>

#include "exm-dp-logstats.h"
#include "fuzz-common.h"

static const gchar *const labels[] = { "TLS1.3", "TLS1.2", "TLS1.1", "TLS1.0",
				       "TLS1",	 "SSL3",   "other",  "none" };

static gboolean
is_label(const gchar *version)
{
	for (guint i = 0; i < G_N_ELEMENTS(labels); i++) {
		if (g_str_equal(version, labels[i]))
			return TRUE;
	}
	return FALSE;
}

static guint64
tls_total(ExmDpLogStats *stats)
{
	guint64 n = 0;

	for (guint i = 0; i < G_N_ELEMENTS(labels); i++)
		n += exm_dp_logstats_get_deliveries_tls(stats, labels[i], FALSE) +
		     exm_dp_logstats_get_deliveries_tls(stats, labels[i], TRUE);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree gchar *rest = exm_fuzz_strndup(data, size);
	g_autofree gchar *line = NULL;
	g_autoptr(ExmDpLogStats) stats = exm_dp_logstats_new("/nonexistent/mainlog", TRUE);
	ExmDpDeliveryTls tls;
	gboolean remote;
	guint64 delivered;

	exm_fuzz_begin(data, size);
	remote = exm_dp_logstats_delivery_tls(rest, &tls);
	EXM_FUZZ_CHECK(tls.version != NULL && is_label(tls.version), "version not a label");
	EXM_FUZZ_CHECK(!remote || strstr(rest, "H=") != NULL, "remote without H=");
	EXM_FUZZ_CHECK(!tls.dane || strstr(rest, "CV=dane") != NULL, "dane without CV=dane");
	EXM_FUZZ_CHECK(g_str_equal(tls.version, "none") || strstr(rest, "X=") != NULL,
		       "version %s without X=",
		       tls.version);
	line = g_strconcat("2026-12-05 12:54:29 1xZpHZ-0007N7-03 => ", rest, NULL);
	exm_dp_logstats_feed_line(stats, line, strlen(line));
	exm_dp_logstats_feed_line(stats, rest, strlen(rest));
	delivered = exm_dp_logstats_get(stats, "unknown", EXM_DP_LOG_DELIVERED);
	EXM_FUZZ_CHECK(
		delivered >= 1 && delivered <= 2, "%" G_GUINT64_FORMAT " deliveries", delivered);
	EXM_FUZZ_CHECK(tls_total(stats) <= delivered, "more TLS counts than deliveries");
	EXM_FUZZ_CHECK(exm_dp_logstats_get_dane_failures(stats) <= 1, "dane failures");
	if (remote)
		exm_fuzz_accepted();
	return 0;
}
