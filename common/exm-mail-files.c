/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-mail-files.h"

#include "exm-mail-error.h"

/* Minimal placeholder: filled in by the libexm-mail helper. */

gchar *
exm_mail_passwd_render(const ExmMailNode *node)
{
	return g_strdup("");
}

void
exm_mail_passwd_entry_free(ExmMailPasswdEntry *e)
{
	if (e == NULL)
		return;
	g_free(e->address);
	g_free(e->local);
	g_free(e->hash);
	g_free(e);
}

GPtrArray *
exm_mail_passwd_parse(const gchar *content, GError **error)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)exm_mail_passwd_entry_free);
}

gchar *
exm_mail_env_render(const gchar *domain, GError **error)
{
	return g_strdup_printf("MAIL_DOMAIN=%s\n", domain);
}

gchar *
exm_mail_env_parse(const gchar *content, GError **error)
{
	g_set_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_PARSE, "mail.env: not implemented yet");
	return NULL;
}

gchar *
exm_mail_dkim_record_data(const gchar *public_key_b64)
{
	return g_strdup_printf("v=DKIM1; h=sha256; k=rsa; p=%s", public_key_b64);
}

GStrv
exm_mail_dkim_split(const gchar *data)
{
	return g_new0(gchar *, 1);
}

gchar *
exm_mail_dkim_txt_render(const gchar *selector, const gchar *domain, const gchar *data)
{
	return g_strdup("");
}

gchar *
exm_mail_dkim_txt_parse(const gchar *content)
{
	return g_strdup("");
}

JsonNode *
exm_mail_dns_records(const gchar *domain,
		     const gchar *const *ipsv4,
		     const gchar *selector,
		     const gchar *dkim_data)
{
	return json_node_new(JSON_NODE_NULL);
}

gchar *
exm_mail_dns_zone(const gchar *domain,
		  const gchar *const *ipsv4,
		  const gchar *selector,
		  const gchar *dkim_data)
{
	return g_strdup("");
}
