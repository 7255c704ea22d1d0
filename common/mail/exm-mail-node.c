/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `mail_instance_node` value the agent receives: strict in what it
 * accepts, exact in what it writes.
 */
#include "exm-mail-node.h"

#include <string.h>

#include "exm-mail-crypt.h"
#include "exm-mail-error.h"
#include "exm-mail-validate.h"
#include "exm-uuid.h"

static void
node_account_free(ExmMailNodeAccount *a)
{
	g_free(a->username);
	g_free(a->password_hash);
	g_free(a);
}

/**
 * exm_mail_node_new:
 * Returns: (transfer full): an empty value
 */
ExmMailNode *
exm_mail_node_new(void)
{
	ExmMailNode *n = g_new0(ExmMailNode, 1);

	n->accounts = g_ptr_array_new_with_free_func((GDestroyNotify)node_account_free);
	return n;
}

/**
 * exm_mail_node_free:
 * @node: (nullable): a value
 *
 * Frees @node and its accounts.
 */
void
exm_mail_node_free(ExmMailNode *node)
{
	if (node == NULL)
		return;
	g_free(node->uuid);
	g_free(node->name);
	g_free(node->domain);
	g_clear_pointer(&node->accounts, g_ptr_array_unref);
	g_free(node);
}

/* Index where @username belongs in the sorted array; *@found when it is there. */
static guint
node_account_position(const ExmMailNode *node, const gchar *username, gboolean *found)
{
	guint lo = 0, hi = node->accounts->len;

	*found = FALSE;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		const ExmMailNodeAccount *a = g_ptr_array_index(node->accounts, mid);
		gint cmp = strcmp(a->username, username);

		if (cmp == 0) {
			*found = TRUE;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/**
 * exm_mail_node_add_account:
 * @node: the value
 * @username: a username (folded to lower case)
 * @password_hash: a valid hash, `{SCHEME}` prefix kept
 * @active: whether the account may log in
 * @error: %EXM_MAIL_ERROR_INVALID for an invalid username or hash, or a duplicate
 *
 * Everything that reaches passwd passes through here, so both values are
 * validated: neither can carry a line break or a `:`, and the hash's work factor
 * is within the ceilings of exm_mail_validate_hash_cost(), so no login can make
 * exim spend minutes on it.
 *
 * Returns: %TRUE when added
 */
gboolean
exm_mail_node_add_account(ExmMailNode *node,
			  const gchar *username,
			  const gchar *password_hash,
			  gboolean active,
			  GError **error)
{
	g_autofree gchar *user = NULL;
	ExmMailNodeAccount *a;
	gboolean found;
	guint pos;

	g_return_val_if_fail(node != NULL, FALSE);
	user = exm_mail_validate_normalize_username(username, error);
	if (user == NULL)
		return FALSE;
	if (!exm_mail_validate_hash_cost(password_hash, error)) {
		g_prefix_error(error, "accounts.%s.", user);
		return FALSE;
	}
	pos = node_account_position(node, user, &found);
	if (found) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "accounts: username '%s' appears twice (usernames ignore case)",
			    user);
		return FALSE;
	}
	a = g_new0(ExmMailNodeAccount, 1);
	a->username = g_steal_pointer(&user);
	a->password_hash = g_strdup(password_hash);
	a->active = active;
	g_ptr_array_insert(node->accounts, (gint)pos, a);
	return TRUE;
}

/* A string member of @obj, or %NULL with an error naming @path. */
static const gchar *
member_string(JsonObject *obj, const gchar *name, const gchar *path, GError **error)
{
	JsonNode *m = json_object_get_member(obj, name);

	if (m == NULL) {
		g_set_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "%s: is required", path);
		return NULL;
	}
	if (!JSON_NODE_HOLDS_VALUE(m) || json_node_get_value_type(m) != G_TYPE_STRING) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "%s: must be a string",
			    path);
		return NULL;
	}
	return json_node_get_string(m);
}

/* `active`: a JSON boolean; absent means %TRUE (the model default). */
static gboolean
member_active(JsonObject *acc, const gchar *user, gboolean *active, GError **error)
{
	JsonNode *m = json_object_get_member(acc, "active");

	*active = TRUE;
	if (m == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(m) || json_node_get_value_type(m) != G_TYPE_BOOLEAN) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "accounts.%s.active: must be true or false",
			    user);
		return FALSE;
	}
	*active = json_node_get_boolean(m);
	return TRUE;
}

static gboolean
node_account_from_json(ExmMailNode *n, const gchar *key, JsonNode *value, GError **error)
{
	g_autofree gchar *user = exm_mail_validate_normalize_username(key, error);
	g_autofree gchar *path = NULL;
	const gchar *hash;
	gboolean active;

	if (user == NULL) {
		g_prefix_error(error, "accounts: ");
		return FALSE;
	}
	if (!JSON_NODE_HOLDS_OBJECT(value)) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "accounts.%s: must be an object",
			    user);
		return FALSE;
	}
	path = g_strdup_printf("accounts.%s.password_hash", user);
	hash = member_string(json_node_get_object(value), "password_hash", path, error);
	if (hash == NULL || !member_active(json_node_get_object(value), user, &active, error))
		return FALSE;
	return exm_mail_node_add_account(n, user, hash, active, error);
}

static gboolean
node_accounts_from_json(ExmMailNode *n, JsonObject *obj, GError **error)
{
	JsonNode *m = json_object_get_member(obj, "accounts");
	JsonObjectIter iter;
	const gchar *key;
	JsonNode *value;

	if (m == NULL || !JSON_NODE_HOLDS_OBJECT(m)) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    m == NULL ? "accounts: is required"
					      : "accounts: must be an object");
		return FALSE;
	}
	json_object_iter_init(&iter, json_node_get_object(m));
	while (json_object_iter_next(&iter, &key, &value)) {
		if (!node_account_from_json(n, key, value, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
node_header_from_json(ExmMailNode *n, JsonObject *obj, GError **error)
{
	const gchar *uuid = member_string(obj, "uuid", "uuid", error);
	const gchar *name = uuid != NULL ? member_string(obj, "name", "name", error) : NULL;
	const gchar *domain = name != NULL ? member_string(obj, "domain", "domain", error) : NULL;

	if (domain == NULL)
		return FALSE;
	n->uuid = exm_uuid_parse(uuid, NULL);
	if (n->uuid == NULL) {
		g_set_error_literal(
			error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "uuid: must be a UUID");
		return FALSE;
	}
	if (!exm_mail_validate_name(name, error))
		return FALSE;
	n->name = g_strdup(name);
	n->domain = exm_mail_validate_normalize_domain(domain, error);
	return n->domain != NULL;
}

/**
 * exm_mail_node_from_json:
 * @node: a JSON object as the agent payload carries it
 * @error: %EXM_MAIL_ERROR_INVALID naming the bad member
 *
 * Returns: (transfer full) (nullable): the value
 */
ExmMailNode *
exm_mail_node_from_json(JsonNode *node, GError **error)
{
	g_autoptr(ExmMailNode) n = NULL;
	JsonObject *obj;

	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "mail_instance_node: must be a JSON object");
		return NULL;
	}
	obj = json_node_get_object(node);
	n = exm_mail_node_new();
	if (!node_header_from_json(n, obj, error) || !node_accounts_from_json(n, obj, error))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		return NULL;
	return g_steal_pointer(&n);
}

/**
 * exm_mail_node_to_json:
 * @node: the value
 *
 * Returns: (transfer full): `{uuid, name, domain, accounts: {username: {password_hash,
 *   active}}}`, every account (inactive too), no other key
 */
JsonNode *
exm_mail_node_to_json(const ExmMailNode *node)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "uuid");
	json_builder_add_string_value(b, node->uuid != NULL ? node->uuid : "");
	json_builder_set_member_name(b, "name");
	json_builder_add_string_value(b, node->name != NULL ? node->name : "");
	json_builder_set_member_name(b, "domain");
	json_builder_add_string_value(b, node->domain != NULL ? node->domain : "");
	json_builder_set_member_name(b, "accounts");
	json_builder_begin_object(b);
	for (guint k = 0; k < node->accounts->len; k++) {
		const ExmMailNodeAccount *a = g_ptr_array_index(node->accounts, k);

		json_builder_set_member_name(b, a->username);
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "password_hash");
		json_builder_add_string_value(b, a->password_hash);
		json_builder_set_member_name(b, "active");
		json_builder_add_boolean_value(b, a->active);
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}
