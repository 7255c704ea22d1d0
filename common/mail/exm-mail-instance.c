/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The builders' instance input.
 */
#include "exm-mail-instance.h"

/**
 * exm_mail_instance_new:
 * Returns: (transfer full): an instance with the model defaults: status NEW, no
 *   IPs, empty DKIM key and selector
 */
ExmMailInstance *
exm_mail_instance_new(void)
{
	ExmMailInstance *i = g_new0(ExmMailInstance, 1);

	i->status = EXM_MAIL_STATUS_NEW;
	i->ipsv4 = g_ptr_array_new_with_free_func(g_free);
	i->dkim_public_key = g_strdup("");
	i->dkim_selector = g_strdup("");
	return i;
}

/**
 * exm_mail_instance_free:
 * @i: (nullable): an instance
 *
 * Frees @i, its strings and its IP list.
 */
void
exm_mail_instance_free(ExmMailInstance *i)
{
	if (i == NULL)
		return;
	g_free(i->uuid);
	g_free(i->name);
	g_free(i->description);
	g_free(i->project_id);
	g_free(i->domain);
	g_clear_pointer(&i->ipsv4, g_ptr_array_unref);
	g_free(i->version);
	g_free(i->dkim_public_key);
	g_free(i->dkim_selector);
	g_free(i);
}
