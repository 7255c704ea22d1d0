/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The shared module libexordos_paas_mail.so: nothing but the ABI entry point
 * (its name is fixed by exordos-paas-plugin.h, the one documented exception to
 * the file-prefix rule).  Everything else is libexm-plugin, linked in.
 */
#include "exm-plugin-private.h"

const ExordosPaasPluginDescriptor *
exordos_paas_plugin_get_descriptor(void)
{
	return exm_plugin_get_descriptor();
}
