/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-mail-model.h"

#include "exm-mail-error.h"

/* Minimal placeholder: filled in by the libexm-mail helper. */

const gchar *
exm_mail_status_to_string(ExmMailStatus status)
{
	switch (status) {
	case EXM_MAIL_STATUS_NEW:
		return "NEW";
	case EXM_MAIL_STATUS_IN_PROGRESS:
		return "IN_PROGRESS";
	case EXM_MAIL_STATUS_ACTIVE:
		return "ACTIVE";
	case EXM_MAIL_STATUS_ERROR:
		return "ERROR";
	}
	return "ERROR";
}

gboolean
exm_mail_status_from_string(const gchar *text, ExmMailStatus *out, GError **error)
{
	for (ExmMailStatus s = EXM_MAIL_STATUS_NEW; s <= EXM_MAIL_STATUS_ERROR; s++) {
		if (g_strcmp0(text, exm_mail_status_to_string(s)) == 0) {
			*out = s;
			return TRUE;
		}
	}
	g_set_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "status: unknown value");
	return FALSE;
}

ExmMailVersion *
exm_mail_version_new(void)
{
	return g_new0(ExmMailVersion, 1);
}

void
exm_mail_version_free(ExmMailVersion *v)
{
	if (v == NULL)
		return;
	g_free(v->uuid);
	g_free(v->name);
	g_free(v->description);
	g_free(v->image);
	g_free(v);
}

ExmMailInstance *
exm_mail_instance_new(void)
{
	ExmMailInstance *i = g_new0(ExmMailInstance, 1);

	i->ipsv4 = g_ptr_array_new_with_free_func(g_free);
	i->dkim_public_key = g_strdup("");
	i->dkim_selector = g_strdup("");
	return i;
}

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
	g_ptr_array_unref(i->ipsv4);
	g_free(i->version);
	g_free(i->dkim_public_key);
	g_free(i->dkim_selector);
	g_free(i);
}

ExmMailAccount *
exm_mail_account_new(void)
{
	ExmMailAccount *a = g_new0(ExmMailAccount, 1);

	a->active = TRUE;
	return a;
}

void
exm_mail_account_free(ExmMailAccount *a)
{
	if (a == NULL)
		return;
	g_free(a->uuid);
	g_free(a->name);
	g_free(a->description);
	g_free(a->project_id);
	g_free(a->instance);
	g_free(a->username);
	g_free(a->password_hash);
	g_free(a);
}

gboolean
exm_mail_instance_validate(const ExmMailInstance *i, GError **error)
{
	return TRUE;
}

gboolean
exm_mail_account_validate(const ExmMailAccount *a, GError **error)
{
	return TRUE;
}

static void
node_account_free(gpointer p)
{
	ExmMailNodeAccount *a = p;

	g_free(a->username);
	g_free(a->password_hash);
	g_free(a);
}

ExmMailNode *
exm_mail_node_new(void)
{
	ExmMailNode *n = g_new0(ExmMailNode, 1);

	n->accounts = g_ptr_array_new_with_free_func(node_account_free);
	return n;
}

void
exm_mail_node_free(ExmMailNode *node)
{
	if (node == NULL)
		return;
	g_free(node->uuid);
	g_free(node->name);
	g_free(node->domain);
	g_ptr_array_unref(node->accounts);
	g_free(node);
}

gboolean
exm_mail_node_add_account(ExmMailNode *node,
			  const gchar *username,
			  const gchar *password_hash,
			  gboolean active,
			  GError **error)
{
	ExmMailNodeAccount *a = g_new0(ExmMailNodeAccount, 1);

	a->username = g_strdup(username);
	a->password_hash = g_strdup(password_hash);
	a->active = active;
	g_ptr_array_add(node->accounts, a);
	return TRUE;
}

ExmMailNode *
exm_mail_node_from_json(JsonNode *node, GError **error)
{
	g_set_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "node: not implemented yet");
	return NULL;
}

JsonNode *
exm_mail_node_to_json(const ExmMailNode *node)
{
	return json_node_new(JSON_NODE_NULL);
}

gchar *
exm_mail_format_timestamp(gint64 usec)
{
	return g_strdup("1970-01-01T00:00:00.000000Z");
}

JsonNode *
exm_mail_version_to_json(const ExmMailVersion *v)
{
	return json_node_new(JSON_NODE_NULL);
}

JsonNode *
exm_mail_instance_to_json(const ExmMailInstance *i, const gchar *prefix)
{
	return json_node_new(JSON_NODE_NULL);
}

JsonNode *
exm_mail_account_to_json(const ExmMailAccount *a, const gchar *prefix)
{
	return json_node_new(JSON_NODE_NULL);
}
