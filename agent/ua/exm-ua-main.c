/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-main.h"

#include "exm-ua-agent.h"
#include "exm-ua-config.h"
#include "exm-ua-error.h"

#include <stdlib.h>
#include <string.h>

static gboolean
main_add_drivers(ExmUaAgent *agent,
		 const gchar *config_path,
		 const ExmUaDriverEntry *drivers,
		 GError **error)
{
	g_autoptr(ExmUaConfig) config = exm_ua_config_load(config_path, error);

	if (config == NULL)
		return FALSE;
	for (guint i = 0; config->caps_drivers[i] != NULL; i++) {
		const gchar *name = config->caps_drivers[i];
		const ExmUaDriverEntry *e = drivers;
		ExmUaDriver *driver;

		while (e->name != NULL && strcmp(e->name, name) != 0)
			e++;
		if (e->name == NULL) {
			g_set_error(error,
				    EXM_UA_ERROR,
				    EXM_UA_ERROR_CONFIG,
				    "caps_drivers: unknown driver %s",
				    name);
			return FALSE;
		}
		driver = e->factory(config_path, error);
		if (driver == NULL || !exm_ua_agent_add_driver(agent, driver, error)) {
			g_prefix_error(error, "%s: ", name);
			return FALSE;
		}
	}
	return TRUE;
}

/**
 * exm_ua_main_run:
 * @argc: argument count (argv[0] is the subcommand name)
 * @argv: `[--config-file FILE]`
 * @info: the default configuration file and the built-in drivers
 *
 * Returns: the process exit status
 */
int
exm_ua_main_run(int argc, char **argv, const ExmUaMainInfo *info)
{
	g_autoptr(ExmIniOptions) options = exm_ua_config_options_new();
	g_autoptr(GOptionContext) ctx = g_option_context_new("- run the universal agent");
	g_autoptr(ExmUaAgent) agent = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *config_path;

	g_option_context_add_main_entries(ctx, exm_ini_options_entries(options), NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("run: %s\n", error->message);
		return 2;
	}
	config_path = exm_ini_options_config_file(options);
	if (config_path == NULL)
		config_path = info->default_config;
	agent = exm_ua_agent_new(config_path, &error);
	if (agent == NULL || !main_add_drivers(agent, config_path, info->drivers, &error)) {
		g_printerr("run: %s\n", error->message);
		return 1;
	}
	exm_ua_agent_run(agent);
	return 0;
}
