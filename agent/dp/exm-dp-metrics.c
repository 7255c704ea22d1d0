/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-metrics.h"

#include <libsoup/soup.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "exm-dp-error.h"
#include "exm-dp-logstats.h"
#include "exm-dp-tls.h"

/* the log is followed between scrapes too, so a rotation is rarely missed */
#define POLL_SECONDS 10
/* queue files looked at per scrape at most */
#define MAX_QUEUE_SCAN 100000

struct _ExmDpMetrics {
	SoupServer *server;
	guint port;
	gchar *spool_input;
	gchar *tls_cert;   /* the self-signed certificate (issue 22) */
	gchar *tls_custom; /* a tenant's, served instead when present */
	gchar *tls_acme;   /* ACME's, served when present and no tenant's is */
	ExmDpLogStats *log;
	guint poll_source;
	ExmDpBreaker *breaker; /* (nullable) borrowed from the agent's adapter */
};

/* `*-H` header files in the spool: one per queued message. */
static void
render_queue(ExmDpMetrics *m, GString *out)
{
	g_autoptr(GDir) dir = g_dir_open(m->spool_input, 0, NULL);
	const gchar *name;
	guint64 count = 0;
	gint64 oldest = 0;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	while (dir != NULL && count < MAX_QUEUE_SCAN && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = NULL;
		struct stat st;

		if (!g_str_has_suffix(name, "-H"))
			continue;
		path = g_build_filename(m->spool_input, name, NULL);
		if (lstat(path, &st) != 0)
			continue;
		count++;
		if (oldest == 0 || st.st_mtime < oldest)
			oldest = st.st_mtime;
	}
	g_string_append_printf(out,
			       "# HELP exordos_node_queue_messages Messages in exim's queue.\n"
			       "# TYPE exordos_node_queue_messages gauge\n"
			       "exordos_node_queue_messages %" G_GUINT64_FORMAT "\n"
			       "# HELP exordos_node_queue_oldest_seconds Age of the oldest queued "
			       "message (0: empty).\n"
			       "# TYPE exordos_node_queue_oldest_seconds gauge\n"
			       "exordos_node_queue_oldest_seconds %" G_GINT64_FORMAT "\n",
			       count,
			       oldest > 0 ? MAX(now - oldest, 0) : 0);
}

/* Issue 22: days until the served certificate expires (docs/tls.md §4); no
 * sample while there is no readable certificate. */
static void
render_tls(ExmDpMetrics *m, GString *out)
{
	ExmMailCertInfo info = { 0 };
	const gchar *source = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	g_string_append(out,
			"# HELP exordos_node_tls_certificate_expiry_days Days until the notAfter "
			"of the certificate exim serves (negative: expired).\n"
			"# TYPE exordos_node_tls_certificate_expiry_days gauge\n");
	if (exm_dp_tls_served(m->tls_cert, m->tls_custom, m->tls_acme, &source, &info, NULL))
		g_string_append_printf(out,
				       "exordos_node_tls_certificate_expiry_days %.3f\n",
				       (gdouble)(info.not_after - now) / 86400.0);
	exm_mail_cert_info_clear(&info);
}

/* The circuit breaker (docs/abuse-controls.md §7): no labels, so no account
 * name reaches the scraper and the series stay two. */
static void
render_breaker(ExmDpMetrics *m, GString *out)
{
	if (m->breaker == NULL)
		return;
	g_string_append_printf(
		out,
		"# HELP exordos_node_breaker_held_accounts Accounts whose mail the "
		"circuit breaker holds.\n"
		"# TYPE exordos_node_breaker_held_accounts gauge\n"
		"exordos_node_breaker_held_accounts %u\n"
		"# HELP exordos_node_breaker_trips_total Accounts the circuit breaker "
		"tripped since the agent started.\n"
		"# TYPE exordos_node_breaker_trips_total counter\n"
		"exordos_node_breaker_trips_total %" G_GUINT64_FORMAT "\n",
		exm_dp_breaker_get_held_count(m->breaker),
		exm_dp_breaker_get_trips_total(m->breaker));
}

void
exm_dp_metrics_set_breaker(ExmDpMetrics *metrics, ExmDpBreaker *breaker)
{
	metrics->breaker = breaker;
}

static void
render_process(GString *out, gint64 usec)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	g_string_append_printf(
		out,
		"# HELP exordos_node_agent_cpu_seconds_total CPU time of the mail agent.\n"
		"# TYPE exordos_node_agent_cpu_seconds_total counter\n"
		"exordos_node_agent_cpu_seconds_total %.6f\n"
		"# HELP exordos_node_scrape_duration_seconds Time this scrape took to read the "
		"log and the queue.\n"
		"# TYPE exordos_node_scrape_duration_seconds gauge\n"
		"exordos_node_scrape_duration_seconds %.6f\n",
		(gdouble)ru.ru_utime.tv_sec + (gdouble)ru.ru_utime.tv_usec / 1e6 +
			(gdouble)ru.ru_stime.tv_sec + (gdouble)ru.ru_stime.tv_usec / 1e6,
		(gdouble)usec / 1e6);
}

gchar *
exm_dp_metrics_render(ExmDpMetrics *metrics)
{
	GString *out = g_string_sized_new(4096);
	gint64 start = g_get_monotonic_time();

	exm_dp_logstats_poll(metrics->log);
	exm_dp_logstats_render(metrics->log, out);
	render_queue(metrics, out);
	render_tls(metrics, out);
	render_breaker(metrics, out);
	render_process(out, g_get_monotonic_time() - start);
	return g_string_free(out, FALSE);
}

static void
handler(SoupServer *unused_server,
	SoupServerMessage *msg,
	const char *path,
	GHashTable *unused_query,
	gpointer data)
{
	const gchar *method = soup_server_message_get_method(msg);
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);
	gchar *text;

	if (g_strcmp0(path, "/metrics") != 0) {
		soup_server_message_set_status(msg, 404, NULL);
		return;
	}
	if (g_strcmp0(method, "GET") != 0 && g_strcmp0(method, "HEAD") != 0) {
		soup_message_headers_replace(headers, "Allow", "GET, HEAD");
		soup_server_message_set_status(msg, 405, NULL);
		return;
	}
	text = exm_dp_metrics_render(data);
	soup_server_message_set_status(msg, 200, NULL);
	soup_message_headers_set_content_type(
		headers, "text/plain; version=0.0.4; charset=utf-8", NULL);
	soup_message_body_append_take(
		soup_server_message_get_response_body(msg), (guchar *)text, strlen(text));
}

static gboolean
poll_log(gpointer data)
{
	ExmDpMetrics *m = data;

	exm_dp_logstats_poll(m->log);
	return G_SOURCE_CONTINUE;
}

static gboolean
metrics_listen(ExmDpMetrics *m, const ExmDpConfig *config, GError **error)
{
	g_autoptr(GInetAddress) address = g_inet_address_new_from_string(config->metrics_listen);
	g_autoptr(GSocketAddress) sockaddr = NULL;
	GSList *listeners;
	g_autoptr(GSocketAddress) local = NULL;

	if (address == NULL) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_CONFIG,
			    "metrics_listen: '%s' is not an IP address",
			    config->metrics_listen);
		return FALSE;
	}
	sockaddr = g_inet_socket_address_new(address, (guint16)config->metrics_port);
	if (!soup_server_listen(m->server, sockaddr, 0, error)) {
		g_prefix_error(
			error, "metrics %s:%d: ", config->metrics_listen, config->metrics_port);
		return FALSE;
	}
	/* the socket, not soup_server_get_uris(): libsoup 3.2 leaks an address there */
	listeners = soup_server_get_listeners(m->server);
	local = listeners != NULL ? g_socket_get_local_address(listeners->data, NULL) : NULL;
	g_slist_free(listeners);
	m->port = local != NULL ? g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local)) : 0;
	return TRUE;
}

ExmDpMetrics *
exm_dp_metrics_new(const ExmDpConfig *config, GError **error)
{
	g_autoptr(ExmDpMetrics) m = g_new0(ExmDpMetrics, 1);
	g_autofree gchar *log =
		g_build_filename(config->root, EXM_DP_PATH_LOG_DIR, "mainlog", NULL);

	m->spool_input = g_build_filename(config->root, EXM_DP_PATH_SPOOL, "input", NULL);
	m->tls_cert = exm_dp_config_path(config, EXM_DP_PATH_TLS_CERT);
	m->tls_custom = exm_dp_config_path(config, EXM_DP_PATH_TLS_CUSTOM);
	m->tls_acme = exm_dp_config_path(config, EXM_DP_PATH_TLS_ACME);
	m->log = exm_dp_logstats_new(log, FALSE);
	exm_dp_logstats_poll(m->log); /* opens it at its end: counts start now */
	m->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(m->server, NULL, handler, m, NULL);
	if (!metrics_listen(m, config, error))
		return NULL;
	m->poll_source = g_timeout_add_seconds(POLL_SECONDS, poll_log, m);
	return g_steal_pointer(&m);
}

guint
exm_dp_metrics_get_port(ExmDpMetrics *metrics)
{
	return metrics->port;
}

void
exm_dp_metrics_free(ExmDpMetrics *metrics)
{
	if (metrics == NULL)
		return;
	g_clear_handle_id(&metrics->poll_source, g_source_remove);
	if (metrics->server != NULL)
		soup_server_disconnect(metrics->server);
	g_clear_object(&metrics->server);
	g_clear_pointer(&metrics->log, exm_dp_logstats_free);
	g_free(metrics->spool_input);
	g_free(metrics->tls_cert);
	g_free(metrics->tls_custom);
	g_free(metrics->tls_acme);
	g_free(metrics);
}
