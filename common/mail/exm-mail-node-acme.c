/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `acme` member of the `mail_instance_node` value (issue 22 item 2,
 * docs/tls.md §6): `{"directory_url": "https://…", "contact": "mailto:…"}`,
 * present only when the instance's node is to get its certificate by ACME.
 * The node trusts no value it is sent (docs/SECURITY.md §12): both strings
 * are checked again here, by the rules of the API's 400.
 */
#include "exm-mail-node.h"

#include "exm-mail-acme.h"
#include "exm-mail-error.h"

gboolean
exm_mail_node_acme_set(ExmMailNode *node,
		       const gchar *directory_url,
		       const gchar *contact,
		       GError **error)
{
	if (directory_url == NULL && contact != NULL) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "acme.contact: needs acme.directory_url");
		return FALSE;
	}
	if ((directory_url != NULL &&
	     !exm_mail_acme_check_directory_url("acme.directory_url", directory_url, error)) ||
	    (contact != NULL && !exm_mail_acme_check_contact("acme.contact", contact, error)))
		return FALSE;
	g_free(node->acme_directory_url);
	g_free(node->acme_contact);
	node->acme_directory_url = g_strdup(directory_url);
	node->acme_contact = g_strdup(contact);
	return TRUE;
}

/* A string member @name of `acme`; absent or null is %NULL. */
static gboolean
acme_string(JsonObject *acme,
	    const gchar *name,
	    gboolean required,
	    const gchar **out,
	    GError **error)
{
	JsonNode *m = json_object_get_member(acme, name);

	*out = NULL;
	if ((m == NULL || JSON_NODE_HOLDS_NULL(m)) && !required)
		return TRUE;
	if (m == NULL || !JSON_NODE_HOLDS_VALUE(m) ||
	    json_node_get_value_type(m) != G_TYPE_STRING) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "acme.%s: must be a string%s",
			    name,
			    required ? "" : " or null");
		return FALSE;
	}
	*out = json_node_get_string(m);
	return TRUE;
}

gboolean
exm_mail_node_acme_from_json(ExmMailNode *node, JsonObject *obj, GError **error)
{
	JsonNode *m = json_object_get_member(obj, "acme");
	const gchar *url = NULL, *contact = NULL;
	JsonObject *acme;

	if (m == NULL || JSON_NODE_HOLDS_NULL(m))
		return exm_mail_node_acme_set(node, NULL, NULL, error);
	if (!JSON_NODE_HOLDS_OBJECT(m)) {
		g_set_error_literal(
			error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "acme: must be an object");
		return FALSE;
	}
	acme = json_node_get_object(m);
	return acme_string(acme, "directory_url", TRUE, &url, error) &&
	       acme_string(acme, "contact", FALSE, &contact, error) &&
	       exm_mail_node_acme_set(node, url, contact, error);
}

void
exm_mail_node_acme_to_json(JsonBuilder *b, const ExmMailNode *node)
{
	if (node->acme_directory_url == NULL)
		return;
	json_builder_set_member_name(b, "acme");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "directory_url");
	json_builder_add_string_value(b, node->acme_directory_url);
	if (node->acme_contact != NULL) {
		json_builder_set_member_name(b, "contact");
		json_builder_add_string_value(b, node->acme_contact);
	}
	json_builder_end_object(b);
}
