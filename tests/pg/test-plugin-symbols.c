/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The plugin exports exactly one dynamic symbol: the ABI entry point
 * (docs/architecture.md §3).  Everything else stays hidden (-fvisibility=hidden plus the
 * version script), so two plugins or a plugin and its host never clash.
 */
#include <gmodule.h>
#include <string.h>

#include "exm-test.h"
#include "exordos-paas-plugin.h"

static void
test_only_entry_point(void)
{
	g_autofree gchar *nm = exm_test_find_program("nm");
	const gchar *argv[] = { NULL, "-D", "--defined-only", EXM_PLUGIN_PATH, NULL };
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_auto(GStrv) lines = NULL;
	guint n = 0;

	if (nm == NULL) {
		exm_test_peer_missing("nm (binutils) is not installed");
		return;
	}
	argv[0] = nm;
	g_assert_cmpint(exm_test_run(argv, &out, &err), ==, 0);
	lines = g_strsplit(out, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) cols = NULL;
		if (lines[i][0] == '\0')
			continue;
		cols = g_strsplit_set(lines[i], " \t", -1);
		g_test_message("exported: %s", lines[i]);
		g_assert_cmpstr(
			cols[g_strv_length(cols) - 1], ==, EXORDOS_PAAS_PLUGIN_ENTRY_SYMBOL);
		n++;
	}
	g_assert_cmpuint(n, ==, 1);
}

/* A symbol the static libraries define must not leak out. */
static void
test_no_library_symbols(void)
{
	GModule *module = g_module_open(EXM_PLUGIN_PATH, G_MODULE_BIND_LOCAL);
	gpointer sym = NULL;

	g_assert_nonnull(module);
	g_assert_true(g_module_symbol(module, EXORDOS_PAAS_PLUGIN_ENTRY_SYMBOL, &sym));
	g_assert_false(g_module_symbol(module, "exm_rest_route_walk", &sym));
	g_assert_false(g_module_symbol(module, "exm_json_parse_strict", &sym));
	g_assert_false(g_module_symbol(module, "exm_plugin_crud_dispatch", &sym));
	g_assert_false(g_module_symbol(module, "exm_rest_crud_dispatch", &sym));
	g_assert_false(g_module_symbol(module, "exm_plugin_get_descriptor", &sym));
	g_module_close(module);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/plugin/symbols/only-entry-point", test_only_entry_point);
	g_test_add_func("/plugin/symbols/no-library-symbols", test_no_library_symbols);
	return g_test_run();
}
