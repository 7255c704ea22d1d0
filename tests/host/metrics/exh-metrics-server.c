/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exh-metrics-server.h"

#include "exh-host.h"
#include "exh-log.h"
#include "exh-metrics.h"

#include <libsoup/soup.h>

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct _ExhMetricsServer {
	gchar *listen_address;
	guint port;
	ExhListenerLimits limits;
	gchar *url;

	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;
	SoupServer *soup;
	ExhListener *listener;

	GMutex lock;
	GCond cond;
	gboolean ready;
	GError *start_error;
};

static void
answer_text(SoupServerMessage *msg, guint status, const gchar *type, gchar *text)
{
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);

	soup_server_message_set_status(msg, status, NULL);
	soup_message_headers_set_content_type(headers, type, NULL);
	soup_message_body_append_take(
		soup_server_message_get_response_body(msg), (guchar *)text, strlen(text));
}

static void
handler(SoupServer *unused_server,
	SoupServerMessage *msg,
	const char *path,
	GHashTable *unused_query,
	gpointer unused_data)
{
	const gchar *method = soup_server_message_get_method(msg);
	gboolean head = g_strcmp0(method, "HEAD") == 0;

	if (g_strcmp0(path, "/metrics") != 0) {
		answer_text(msg, 404, "text/plain; charset=utf-8", g_strdup("not found\n"));
		return;
	}
	if (g_strcmp0(method, "GET") != 0 && !head) {
		soup_message_headers_replace(
			soup_server_message_get_response_headers(msg), "Allow", "GET, HEAD");
		answer_text(msg, 405, "text/plain; charset=utf-8", g_strdup("GET only\n"));
		return;
	}
	answer_text(msg, 200, CONTENT_TYPE, exh_metrics_render());
}

static gboolean
setup(ExhMetricsServer *self, GError **error)
{
	g_autoptr(GInetAddress) address = exh_host_config_parse_listen(self->listen_address, error);
	g_autoptr(GSocketAddress) sockaddr = NULL;

	if (address == NULL)
		return FALSE;
	self->soup = soup_server_new(NULL, NULL);
	soup_server_add_handler(self->soup, NULL, handler, self, NULL);
	sockaddr = g_inet_socket_address_new(address, (guint16)self->port);
	self->listener = exh_listener_new(self->soup, "metrics", &self->limits);
	self->port = exh_listener_listen(self->listener, sockaddr, error);
	if (self->port == 0)
		return FALSE;
	self->url =
		g_inet_address_get_family(address) == G_SOCKET_FAMILY_IPV6
			? g_strdup_printf(
				  "http://[%s]:%u/metrics", self->listen_address, self->port)
			: g_strdup_printf("http://%s:%u/metrics", self->listen_address, self->port);
	return TRUE;
}

static gpointer
server_thread(gpointer data)
{
	ExhMetricsServer *self = data;
	GError *error = NULL;
	gboolean ok;

	g_main_context_push_thread_default(self->context);
	ok = setup(self, &error);
	g_mutex_lock(&self->lock);
	self->ready = TRUE;
	self->start_error = error;
	g_cond_signal(&self->cond);
	g_mutex_unlock(&self->lock);
	if (ok)
		g_main_loop_run(self->loop);
	if (self->listener != NULL)
		exh_listener_close(self->listener);
	if (self->soup != NULL)
		soup_server_disconnect(self->soup);
	g_main_context_pop_thread_default(self->context);
	return NULL;
}

ExhMetricsServer *
exh_metrics_server_new(const gchar *listen_address,
		       guint port,
		       const ExhListenerLimits *limits,
		       GError **error)
{
	g_autoptr(ExhMetricsServer) self = g_new0(ExhMetricsServer, 1);

	g_mutex_init(&self->lock);
	g_cond_init(&self->cond);
	self->listen_address = g_strdup(listen_address);
	self->port = port;
	if (limits != NULL)
		self->limits = *limits;
	self->context = g_main_context_new();
	self->loop = g_main_loop_new(self->context, FALSE);
	self->thread = g_thread_new("exh-metrics", server_thread, self);
	g_mutex_lock(&self->lock);
	while (!self->ready)
		g_cond_wait(&self->cond, &self->lock);
	g_mutex_unlock(&self->lock);
	if (self->start_error != NULL) {
		g_propagate_error(error, g_steal_pointer(&self->start_error));
		return NULL;
	}
	exh_log(G_LOG_LEVEL_INFO, NULL, "metrics listening on %s", self->url);
	return g_steal_pointer(&self);
}

guint
exh_metrics_server_get_port(ExhMetricsServer *server)
{
	return server->port;
}

const gchar *
exh_metrics_server_get_url(ExhMetricsServer *server)
{
	return server->url;
}

static gboolean
quit_loop(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

void
exh_metrics_server_free(ExhMetricsServer *server)
{
	if (server == NULL)
		return;
	if (server->thread != NULL) {
		g_main_context_invoke(server->context, quit_loop, server->loop);
		g_thread_join(g_steal_pointer(&server->thread));
	}
	g_clear_pointer(&server->listener, exh_listener_free);
	g_clear_object(&server->soup);
	g_clear_pointer(&server->loop, g_main_loop_unref);
	g_clear_pointer(&server->context, g_main_context_unref);
	g_clear_error(&server->start_error);
	g_mutex_clear(&server->lock);
	g_cond_clear(&server->cond);
	g_free(server->listen_address);
	g_free(server->url);
	g_free(server);
}
