/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * exordos-metapaas-mail-agent: operator commands on the node's mail driver.
 *   apply --payload FILE   apply a mail_instance_node value
 *   show                   print the actual state (JSON array)
 *   delete UUID            forget the instance and empty passwd
 *   run [--config-file F]  the universal agent daemon (ua/exm-ua-main.c) with the
 *                          drivers built into this binary
 */
#include <locale.h>
#include <string.h>

#include "exm-config.h"
#include "exm-dp-adapter.h"
#include "exm-dp-config.h"
#include "exm-dp-driver.h"
#include "exm-json.h"
#include "exm-ua-main.h"

/* Drivers compiled into the agent binary; `caps_drivers` picks among them. */
static const ExmUaDriverEntry builtin_drivers[] = {
	{ EXM_DP_ADAPTER_DRIVER_NAME, exm_dp_adapter_new },
	{ NULL, NULL },
};

static const ExmUaMainInfo agent_info = {
	.default_config = "/etc/exordos_metapaas/metapaas_mail_agent.conf",
	.drivers = builtin_drivers,
};

typedef struct {
	ExmIniOptions *dp;
	gchar *payload;
} Options;

static gboolean
cmd_apply(ExmDpDriver *driver, const Options *o, gchar **args, GError **error)
{
	g_autofree gchar *data = NULL;
	g_autoptr(JsonNode) value = NULL;
	g_autoptr(JsonNode) actual = NULL;
	gboolean changed = FALSE;
	gsize len = 0;

	if (o->payload == NULL || args[0] != NULL) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_FAILED,
			    "usage: apply --payload FILE");
		return FALSE;
	}
	if (!g_file_get_contents(o->payload, &data, &len, error))
		return FALSE;
	value = exm_json_parse_strict(data, len, error);
	if (value == NULL) {
		g_prefix_error(error, "%s: ", o->payload);
		return FALSE;
	}
	actual = exm_dp_driver_apply(driver, value, &changed, error);
	if (actual == NULL)
		return FALSE;
	g_print("%s\n", changed ? "passwd written" : "passwd unchanged");
	return TRUE;
}

static gboolean
cmd_show(ExmDpDriver *driver, const Options *o, gchar **args, GError **error)
{
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(JsonArray) arr = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *text = NULL;

	if (args[0] != NULL) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "usage: show");
		return FALSE;
	}
	list = exm_dp_driver_list(driver, EXM_DP_DRIVER_KIND, error);
	if (list == NULL)
		return FALSE;
	arr = json_array_sized_new(list->len);
	for (guint i = 0; i < list->len; i++)
		json_array_add_element(arr, json_node_ref(g_ptr_array_index(list, i)));
	root = json_node_new(JSON_NODE_ARRAY);
	json_node_set_array(root, arr);
	text = exm_json_to_string(root);
	g_print("%s\n", text);
	return TRUE;
}

static gboolean
cmd_delete(ExmDpDriver *driver, const Options *o, gchar **args, GError **error)
{
	if (args[0] == NULL || args[1] != NULL) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "usage: delete UUID");
		return FALSE;
	}
	return exm_dp_driver_delete(driver, EXM_DP_DRIVER_KIND, args[0], error);
}

typedef gboolean (*CommandFunc)(ExmDpDriver *, const Options *, gchar **, GError **);

static CommandFunc
find_command(const gchar *name)
{
	static const struct {
		const gchar *name;
		CommandFunc func;
	} commands[] = {
		{ "apply", cmd_apply },
		{ "show", cmd_show },
		{ "delete", cmd_delete },
	};

	for (guint i = 0; name != NULL && i < G_N_ELEMENTS(commands); i++) {
		if (g_str_equal(commands[i].name, name))
			return commands[i].func;
	}
	return NULL;
}

static gboolean
dispatch(Options *o, int argc, char **argv, GError **error)
{
	g_autoptr(ExmDpConfig) config = NULL;
	g_autoptr(ExmDpDriver) driver = NULL;
	CommandFunc func = argc >= 2 ? find_command(argv[1]) : NULL;

	if (func == NULL) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_FAILED,
			    "expected a command: apply, show or delete (see --help)");
		return FALSE;
	}
	config = exm_dp_config_from_options(o->dp, error);
	if (config == NULL)
		return FALSE;
	driver = exm_dp_driver_new(config, error);
	if (driver == NULL)
		return FALSE;
	return func(driver, o, argv + 2, error);
}

int
main(int argc, char **argv)
{
	Options o = { 0 };
	const GOptionEntry own[] = {
		{ "payload",
		  'p',
		  0,
		  G_OPTION_ARG_FILENAME,
		  &o.payload,
		  "apply: the mail_instance_node value (JSON)",
		  "FILE" },
		{ NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND");
	g_autoptr(GError) error = NULL;
	int rc = 0;

	(void)setlocale(LC_ALL, ""); /* the C locale is a fine fallback */
	/* `run`: the universal agent daemon, which parses its own options. */
	if (argc >= 2 && g_strcmp0(argv[1], "run") == 0)
		return exm_ua_main_run(argc - 1, argv + 1, &agent_info);
	o.dp = exm_dp_config_options_new();
	g_option_context_set_summary(ctx,
				     "Commands:\n"
				     "  apply --payload FILE   apply a mail_instance_node value\n"
				     "  show                   print the actual state as JSON\n"
				     "  delete UUID            forget the instance, empty passwd\n"
				     "  run [--config-file F]  run the universal agent daemon");
	g_option_context_add_main_entries(ctx, own, NULL);
	g_option_context_add_main_entries(ctx, exm_ini_options_entries(o.dp), NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) ||
	    !dispatch(&o, argc, argv, &error)) {
		g_printerr("exordos-metapaas-mail-agent: %s\n", error->message);
		rc = 1;
	}
	exm_ini_options_free(o.dp);
	g_free(o.payload);
	return rc;
}
