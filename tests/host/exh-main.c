/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * exordos-paas-host: the thin executable around the `exh` library.
 */
#include "exh-host.h"
#include "exh-backend.h"

#include <glib-unix.h>
#include <locale.h>
#include <unistd.h>

static gboolean
on_signal(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_CONTINUE; /* removed by run() */
}

static int
migrate(ExhHostConfig *config)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhHost) host = exh_host_new(config, &error);

	if (host == NULL || !exh_host_migrate(host, &error)) {
		g_printerr("exordos-paas-host: %s\n", error->message);
		return 1;
	}
	return 0;
}

static int
serve(ExhHostConfig *config)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ExhHost) host = exh_host_new(config, &error);
	g_autoptr(GMainLoop) loop = NULL;
	guint term_id;
	guint int_id;

	if (host == NULL) {
		g_printerr("exordos-paas-host: %s\n", error->message);
		return 1;
	}
	/* the server runs on its own thread; this loop only waits for a signal.
	 * The handlers come first: the server answers as soon as it starts,
	 * and a SIGTERM sent on its first answer (a supervisor's, a test's)
	 * must stop it cleanly, not kill it by the signal's default action. */
	loop = g_main_loop_new(NULL, FALSE);
	term_id = g_unix_signal_add(SIGTERM, on_signal, loop);
	int_id = g_unix_signal_add(SIGINT, on_signal, loop);
	if (!exh_host_start(host, &error)) {
		g_printerr("exordos-paas-host: %s\n", error->message);
		g_source_remove(term_id);
		g_source_remove(int_id);
		return 1;
	}
	g_main_loop_run(loop);
	g_source_remove(term_id);
	g_source_remove(int_id);
	exh_host_stop(host);
	return 0;
}

/* The host borrows the backend of the config file's `[local]` group: it is
 * freed (its node children stopped) only after the host has stopped. */
static int
run(ExhHostConfig *config)
{
	g_autoptr(GError) error = NULL;
	ExhInfraBackend *backend;
	int status;

	if (config->migrate_only)
		return migrate(config);
	backend = exh_host_config_new_backend(config, &error);
	if (error != NULL) {
		g_printerr("exordos-paas-host: %s\n", error->message);
		return 1;
	}
	config->backend = backend;
	status = serve(config);
	config->backend = NULL;
	g_clear_pointer(&backend, exh_infra_backend_free);
	return status;
}

/*
 * GLib 2.74's slice allocator keeps the chunks of every freed JSON tree
 * cached for good (a payload of 100 000 accounts is a million of them), so the
 * host's memory would stay at its largest build; with plain malloc the
 * builder hands it back after a tick (docs/architecture.md §2).  G_SLICE is
 * read when GLib loads: the host starts itself once more with it set.
 * GLib 2.76 and later always use malloc and ignore it.
 */
static void
slice_through_malloc(char **argv)
{
	if (g_getenv("G_SLICE") != NULL)
		return;
	g_setenv("G_SLICE", "always-malloc", TRUE);
	execv("/proc/self/exe", argv);
	/* no exec: run on with the slice allocator */
}

int
main(int argc, char **argv)
{
	g_autoptr(ExhHostConfig) config = exh_host_config_new();
	g_autoptr(GError) error = NULL;
	gboolean done = FALSE;

	slice_through_malloc(argv);
	(void)setlocale(LC_ALL, ""); /* the C locale is a fine fallback */
	if (!exh_host_config_parse_args(config, &argc, &argv, &done, &error)) {
		g_printerr("exordos-paas-host: %s\n", error->message);
		return 2;
	}
	if (done)
		return 0;
	if (config->verbose)
		g_log_set_debug_enabled(TRUE);
	return run(config);
}
