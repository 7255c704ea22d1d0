/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * exordos-mail-configure: the oneshot run by exordos-metapaas-mail-configure.service.
 */
#include <locale.h>
#include <stdio.h>

#include "exm-config.h"
#include "exm-dp-config.h"
#include "exm-dp-configure.h"

static int
run(int argc, char **argv)
{
	g_autoptr(ExmIniOptions) options = exm_dp_config_options_new();
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
	g_autoptr(ExmDpConfig) config = NULL;
	g_autoptr(GError) error = NULL;
	ExmDpConfigureResult result = { 0 };
	g_autofree gchar *txt = NULL;
	int rc = 0;

	g_option_context_set_summary(
		ctx,
		"Turns /etc/exordos_metapaas/mail.env into a configured exim4: "
		"DKIM and TLS keys (made once),\nthe DKIM TXT record and "
		"/etc/exim4/exim4.conf; restarts exim when anything changed.");
	g_option_context_add_main_entries(ctx, exm_ini_options_entries(options), NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) ||
	    (config = exm_dp_config_from_options(options, &error)) == NULL ||
	    !exm_dp_configure_run(config, &result, &error)) {
		g_printerr("exordos-mail-configure: %s\n", error->message);
		rc = 1;
	} else {
		txt = exm_dp_config_path(config, EXM_DP_PATH_DKIM_TXT);
		g_print("mail server %s: domain=%s\n",
			result.changed ? "configured" : "unchanged",
			result.domain);
		g_print("DKIM public key: %s\n", txt);
	}
	exm_dp_configure_result_clear(&result);
	return rc;
}

int
main(int argc, char **argv)
{
	(void)setlocale(LC_ALL, ""); /* the C locale is a fine fallback */
	return run(argc, argv);
}
