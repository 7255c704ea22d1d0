/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * fake-core-nodes: the real nodes behind a fake Exordos Core started with
 * --external-nodes, as a daemon for `stand.sh up --infra core`: the bridge
 * of test-core-bridge.h over a `local` backend configured by the `[local]`
 * group of --config, until SIGTERM/SIGINT (which stops the node processes;
 * the sandboxes stay).
 *
 *   fake-core-nodes --fake http://127.0.0.1:<port> --config nodes.conf \
 *       --orch <url> --status <url>
 */
#include <glib-unix.h>

#include "exh-local-backend.h"
#include "test-core-bridge.h"

static gboolean
quit(gpointer loop)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static ExhInfraBackend *
local_from(const gchar *path, const gchar *orch, const gchar *status, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	ExhInfraBackend *local;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, error))
		return NULL;
	local = exh_local_backend_new_from_key_file(kf, error);
	if (local == NULL) {
		if (error != NULL && *error == NULL)
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_DATA,
				    "%s: no [local] group",
				    path);
		return NULL;
	}
	exh_local_backend_set_endpoints(local, orch, status);
	return local;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *fake_url = NULL, *config = NULL, *orch = NULL, *status = NULL;
	GOptionEntry entries[] = {
		{ "fake", 0, 0, G_OPTION_ARG_STRING, &fake_url, "the fake Core's root URL", "URL" },
		{ "config",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &config,
		  "a file with a [local] group",
		  "FILE" },
		{ "orch", 0, 0, G_OPTION_ARG_STRING, &orch, "the host's Orch API", "URL" },
		{ "status", 0, 0, G_OPTION_ARG_STRING, &status, "the host's Status API", "URL" },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- nodes of the fake Exordos Core");
	g_autoptr(GError) error = NULL;
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	CoreFake fake = { 0 };
	ExhInfraBackend *local;
	CoreBridge *bridge;

	g_setenv("GSETTINGS_BACKEND", "memory", TRUE);
	g_setenv("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || fake_url == NULL ||
	    config == NULL || orch == NULL || status == NULL) {
		g_printerr("fake-core-nodes: %s\n",
			   error != NULL ? error->message
					 : "--fake, --config, --orch, --status needed");
		return 2;
	}
	local = local_from(config, orch, status, &error);
	if (local == NULL) {
		g_printerr("fake-core-nodes: %s\n", error->message);
		return 1;
	}
	fake.root = fake_url;
	bridge = core_bridge_new(&fake, local);
	g_unix_signal_add(SIGTERM, quit, loop);
	g_unix_signal_add(SIGINT, quit, loop);
	g_print("fake-core-nodes: serving the nodes of %s\n", fake_url);
	g_main_loop_run(loop);
	core_bridge_free(bridge);
	exh_infra_backend_free(local);
	fake.root = NULL;
	return 0;
}
