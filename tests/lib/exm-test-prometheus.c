/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-test-prometheus.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>

#include "exm-test.h"

struct _ExmTestPrometheus {
	GSubprocess *proc;
	SoupSession *session;
	gchar *dir;
	guint port;
};

static gboolean
spawn(ExmTestPrometheus *p, const gchar *exe, const gchar *target)
{
	g_autofree gchar *config = g_build_filename(p->dir, "prometheus.yml", NULL);
	g_autofree gchar *text = g_strdup_printf("global:\n  scrape_interval: 1s\n"
						 "  scrape_timeout: 1s\n"
						 "scrape_configs:\n  - job_name: target\n"
						 "    static_configs:\n      - targets: ['%s']\n",
						 target);
	g_autofree gchar *config_flag = g_strconcat("--config.file=", config, NULL);
	g_autofree gchar *data_flag = g_strdup_printf("--storage.tsdb.path=%s/data", p->dir);
	g_autofree gchar *listen_flag =
		g_strdup_printf("--web.listen-address=127.0.0.1:%u", p->port);
	const gchar *argv[] = {
		exe, config_flag, data_flag, listen_flag, "--log.level=warn", NULL
	};
	g_autoptr(GSubprocessLauncher) launcher =
		g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_SILENCE);
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_set_contents(config, text, -1, NULL));
	g_subprocess_launcher_set_child_setup(
		launcher, exm_test_die_with_parent, GINT_TO_POINTER(SIGTERM), NULL);
	p->proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	g_assert_no_error(error);
	return p->proc != NULL;
}

ExmTestPrometheus *
exm_test_prometheus_start(const gchar *target)
{
	g_autofree gchar *exe = exm_test_find_program("prometheus");
	g_autoptr(ExmTestPrometheus) p = NULL;

	if (exe == NULL) {
		exm_test_peer_missing("prometheus (Debian package prometheus) is not installed");
		return NULL;
	}
	p = g_new0(ExmTestPrometheus, 1);
	p->dir = exm_test_mkdtemp("exm-prometheus");
	p->port = (guint)exm_test_free_port();
	p->session = soup_session_new();
	if (!spawn(p, exe, target))
		return NULL;
	return g_steal_pointer(&p);
}

/* The first result's value of an instant query, or NULL while there is none. */
static gchar *
query_value(ExmTestPrometheus *p, const gchar *query)
{
	g_autofree gchar *escaped = g_uri_escape_string(query, NULL, FALSE);
	g_autofree gchar *url =
		g_strdup_printf("http://127.0.0.1:%u/api/v1/query?query=%s", p->port, escaped);
	g_autoptr(SoupMessage) msg = soup_message_new("GET", url);
	g_autoptr(GBytes) body = soup_session_send_and_read(p->session, msg, NULL, NULL);
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonArray *result;

	if (body == NULL || soup_message_get_status(msg) != 200 ||
	    !json_parser_load_from_data(
		    parser, g_bytes_get_data(body, NULL), (gssize)g_bytes_get_size(body), NULL))
		return NULL;
	result = json_object_get_array_member(
		json_object_get_object_member(json_node_get_object(json_parser_get_root(parser)),
					      "data"),
		"result");
	if (json_array_get_length(result) == 0)
		return NULL;
	return g_strdup(json_array_get_string_element(
		json_object_get_array_member(json_array_get_object_element(result, 0), "value"),
		1));
}

gchar *
exm_test_prometheus_wait(ExmTestPrometheus *p,
			 const gchar *query,
			 const gchar *want,
			 void (*between)(void))
{
	gchar *value = NULL;

	for (guint i = 0; i < 300 && g_strcmp0(value, want) != 0; i++) {
		if (between != NULL)
			between();
		else
			g_usleep(100 * 1000);
		g_free(value);
		value = query_value(p, query);
	}
	return value;
}

void
exm_test_prometheus_free(ExmTestPrometheus *p)
{
	if (p == NULL)
		return;
	if (p->proc != NULL) {
		g_subprocess_send_signal(p->proc, SIGTERM);
		g_subprocess_wait(p->proc, NULL, NULL);
		g_object_unref(p->proc);
	}
	g_clear_object(&p->session);
	exm_test_rmtree(p->dir);
	g_free(p->dir);
	g_free(p);
}
