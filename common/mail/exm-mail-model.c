/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail models: plain structs, their rules, the `mail_instance_node` value the
 * agent receives, and the API JSON of restalchemy (reference/rest-conventions.md §5:
 * model property order, null members omitted, relationships as path URIs).
 */
#include "exm-mail-model.h"

#include <string.h>

#include "exm-mail-crypt.h"
#include "exm-mail-error.h"
#include "exm-mail-validate.h"
#include "exm-uuid.h"

#define DEFAULT_PREFIX "/v1/types/mail/"

static const gchar *const status_names[] = {
	[EXM_MAIL_STATUS_NEW] = "NEW",
	[EXM_MAIL_STATUS_IN_PROGRESS] = "IN_PROGRESS",
	[EXM_MAIL_STATUS_ACTIVE] = "ACTIVE",
	[EXM_MAIL_STATUS_ERROR] = "ERROR",
};

/**
 * exm_mail_status_to_string:
 * @status: a status
 *
 * Returns: (transfer none): its API name; "ERROR" for a value outside the enum
 */
const gchar *
exm_mail_status_to_string(ExmMailStatus status)
{
	if ((guint)status >= G_N_ELEMENTS(status_names))
		return "ERROR";
	return status_names[status];
}

/**
 * exm_mail_status_from_string:
 * @text: (nullable): an API name, case-sensitive
 * @out: (out): the status
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * Returns: %TRUE when @text names a status
 */
gboolean
exm_mail_status_from_string(const gchar *text, ExmMailStatus *out, GError **error)
{
	for (guint s = 0; s < G_N_ELEMENTS(status_names); s++) {
		if (g_strcmp0(text, status_names[s]) == 0) {
			*out = (ExmMailStatus)s;
			return TRUE;
		}
	}
	g_set_error_literal(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "status: must be one of NEW, IN_PROGRESS, ACTIVE, ERROR");
	return FALSE;
}

/* ---- constructors -------------------------------------------------------------- */

/**
 * exm_mail_version_new:
 * Returns: (transfer full): an empty version
 */
ExmMailVersion *
exm_mail_version_new(void)
{
	return g_new0(ExmMailVersion, 1);
}

/**
 * exm_mail_version_free:
 * @v: (nullable): a version
 *
 * Frees @v and its strings.
 */
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

/**
 * exm_mail_account_new:
 * Returns: (transfer full): an account, active by default
 */
ExmMailAccount *
exm_mail_account_new(void)
{
	ExmMailAccount *a = g_new0(ExmMailAccount, 1);

	a->active = TRUE;
	return a;
}

/**
 * exm_mail_account_free:
 * @a: (nullable): an account
 *
 * Frees @a and its strings (the hash is a public hash, not a secret).
 */
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

/* ---- rules ------------------------------------------------------------------------ */

/* A uuid field in canonical lower-case form; %NULL only when !@required. */
static gboolean
check_uuid(const gchar *field, const gchar *value, gboolean required, GError **error)
{
	g_autofree gchar *canonical = NULL;

	if (value == NULL && !required)
		return TRUE;
	canonical = value != NULL ? exm_uuid_parse(value, NULL) : NULL;
	if (canonical == NULL || strcmp(canonical, value) != 0) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "%s: must be a lower-case UUID like "
			    "'4d657461-0000-0000-0000-000000000002'",
			    field);
		return FALSE;
	}
	return TRUE;
}

/* A normaliser's result must equal the stored text: stored values are canonical. */
static gboolean
check_normal(const gchar *field,
	     const gchar *value,
	     gchar *(*normalize)(const gchar *, GError **),
	     GError **error)
{
	g_autofree gchar *norm = normalize(value, error);

	if (norm == NULL)
		return FALSE;
	if (strcmp(norm, value) != 0) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "%s: must be stored in lower case",
			    field);
		return FALSE;
	}
	return TRUE;
}

/* The DKIM TXT data goes into DNS zone text: printable ASCII (spaces allowed). */
static gboolean
check_dkim_key(const gchar *key, GError **error)
{
	gsize len = key != NULL ? strlen(key) : 0;

	if (len > EXM_MAIL_DKIM_KEY_MAX) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "dkim_public_key: is %zu bytes long, at most %d are allowed",
			    len,
			    EXM_MAIL_DKIM_KEY_MAX);
		return FALSE;
	}
	for (gsize k = 0; k < len; k++) {
		if (key[k] < 0x20 || key[k] > 0x7e || key[k] == '"' || key[k] == '\\') {
			g_set_error_literal(error,
					    EXM_MAIL_ERROR,
					    EXM_MAIL_ERROR_INVALID,
					    "dkim_public_key: must be printable ASCII without "
					    "quotes or backslashes");
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
check_ipsv4(const GPtrArray *ipsv4, GError **error)
{
	for (guint k = 0; ipsv4 != NULL && k < ipsv4->len; k++) {
		if (!exm_mail_validate_ipv4(g_ptr_array_index(ipsv4, k), error)) {
			g_prefix_error(error, "ipsv4[%u]: ", k);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
check_instance_sizes(const ExmMailInstance *i, GError **error)
{
	return exm_mail_validate_cpu(i->cpu, error) && exm_mail_validate_ram(i->ram, error) &&
	       exm_mail_validate_disk_size(i->disk_size, error);
}

static gboolean
check_instance_dkim(const ExmMailInstance *i, GError **error)
{
	if (!check_dkim_key(i->dkim_public_key, error))
		return FALSE;
	if (i->dkim_selector != NULL && *i->dkim_selector != '\0')
		return exm_mail_validate_selector(i->dkim_selector, error);
	return TRUE;
}

/**
 * exm_mail_instance_validate:
 * @i: an instance
 * @error: %EXM_MAIL_ERROR_INVALID naming the first bad field
 *
 * uuid may be unset (assigned on insert); project_id and version are required.
 * domain must already be in its normalised (lower-case) form.
 *
 * Returns: %TRUE when every field is valid
 */
gboolean
exm_mail_instance_validate(const ExmMailInstance *i, GError **error)
{
	g_return_val_if_fail(i != NULL, FALSE);
	if (!check_uuid("uuid", i->uuid, FALSE, error) || !exm_mail_validate_name(i->name, error) ||
	    !exm_mail_validate_description(i->description, error) ||
	    !check_uuid("project_id", i->project_id, TRUE, error))
		return FALSE;
	if (i->domain == NULL) {
		g_set_error_literal(
			error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "domain: is required");
		return FALSE;
	}
	if (!check_normal("domain", i->domain, exm_mail_normalize_domain, error))
		return FALSE;
	if ((guint)i->status > EXM_MAIL_STATUS_ERROR) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "status: is not a known status");
		return FALSE;
	}
	return check_ipsv4(i->ipsv4, error) && check_instance_sizes(i, error) &&
	       check_uuid("version", i->version, TRUE, error) && check_instance_dkim(i, error);
}

/* An account's name may be empty (upstream default ""), else it follows the rule. */
static gboolean
check_account_name(const gchar *name, GError **error)
{
	if (name == NULL || *name == '\0')
		return TRUE;
	return exm_mail_validate_name(name, error);
}

/**
 * exm_mail_account_validate:
 * @a: an account
 * @error: %EXM_MAIL_ERROR_INVALID naming the first bad field
 *
 * Returns: %TRUE when every field is valid (username already lower-cased)
 */
gboolean
exm_mail_account_validate(const ExmMailAccount *a, GError **error)
{
	g_return_val_if_fail(a != NULL, FALSE);
	if (!check_uuid("uuid", a->uuid, FALSE, error) || !check_account_name(a->name, error) ||
	    !exm_mail_validate_description(a->description, error) ||
	    !check_uuid("project_id", a->project_id, TRUE, error) ||
	    !check_uuid("instance", a->instance, TRUE, error))
		return FALSE;
	if (a->username == NULL) {
		g_set_error_literal(
			error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "username: is required");
		return FALSE;
	}
	return check_normal("username", a->username, exm_mail_normalize_username, error) &&
	       exm_mail_validate_password_hash(a->password_hash, error);
}

/* ---- the mail_instance_node value -------------------------------------------------- */

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
 * validated: neither can carry a line break or a `:`.
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
	user = exm_mail_normalize_username(username, error);
	if (user == NULL)
		return FALSE;
	if (!exm_mail_validate_password_hash(password_hash, error)) {
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
	g_autofree gchar *user = exm_mail_normalize_username(key, error);
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
	n->domain = exm_mail_normalize_domain(domain, error);
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

/* ---- API JSON ----------------------------------------------------------------------- */

/**
 * exm_mail_format_timestamp:
 * @usec: microseconds since the epoch, UTC
 *
 * Returns: (transfer full) (nullable): `YYYY-MM-DDTHH:MM:SS.ffffffZ`, %NULL for a
 *   time outside years 1..9999
 */
gchar *
exm_mail_format_timestamp(gint64 usec)
{
	gint64 secs = usec / G_USEC_PER_SEC;
	gint64 frac = usec % G_USEC_PER_SEC;
	g_autoptr(GDateTime) dt = NULL;
	g_autofree gchar *base = NULL;

	if (frac < 0) { /* floor division for times before 1970 */
		frac += G_USEC_PER_SEC;
		secs -= 1;
	}
	dt = g_date_time_new_from_unix_utc(secs);
	if (dt == NULL)
		return NULL;
	base = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
	return g_strdup_printf("%s.%06" G_GINT64_FORMAT "Z", base, frac);
}

/* Members whose value is NULL are omitted, as restalchemy's packer does. */
static void
add_string(JsonBuilder *b, const gchar *name, const gchar *value)
{
	if (value == NULL)
		return;
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, value);
}

static void
add_int(JsonBuilder *b, const gchar *name, gint64 value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

static void
add_timestamps(JsonBuilder *b, gint64 created_at, gint64 updated_at)
{
	g_autofree gchar *created = exm_mail_format_timestamp(created_at);
	g_autofree gchar *updated = exm_mail_format_timestamp(updated_at);

	add_string(b, "created_at", created);
	add_string(b, "updated_at", updated);
}

/* `<prefix><collection>/<uuid>`, the path URI of a related resource. */
static void
add_relation(JsonBuilder *b,
	     const gchar *name,
	     const gchar *prefix,
	     const gchar *collection,
	     const gchar *uuid)
{
	g_autofree gchar *uri = NULL;
	const gchar *root = prefix != NULL ? prefix : DEFAULT_PREFIX;

	if (uuid == NULL)
		return;
	uri = g_strdup_printf(
		"%s%s%s/%s", root, g_str_has_suffix(root, "/") ? "" : "/", collection, uuid);
	add_string(b, name, uri);
}

/**
 * exm_mail_version_to_json:
 * @v: a version
 *
 * Returns: (transfer full): `{uuid, name, description, created_at, updated_at, image}`
 */
JsonNode *
exm_mail_version_to_json(const ExmMailVersion *v)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	add_string(b, "uuid", v->uuid);
	add_string(b, "name", v->name);
	add_string(b, "description", v->description);
	add_timestamps(b, v->created_at, v->updated_at);
	add_string(b, "image", v->image);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

static void
add_ipsv4(JsonBuilder *b, const GPtrArray *ipsv4)
{
	json_builder_set_member_name(b, "ipsv4");
	json_builder_begin_array(b);
	for (guint k = 0; ipsv4 != NULL && k < ipsv4->len; k++)
		json_builder_add_string_value(b, g_ptr_array_index(ipsv4, k));
	json_builder_end_array(b);
}

/**
 * exm_mail_instance_to_json:
 * @i: an instance
 * @prefix: (nullable): API root, e.g. "/v1/types/mail/"
 *
 * Returns: (transfer full): the object in model property order (uuid, name,
 *   description, project_id, created_at, updated_at, domain, status, ipsv4, cpu, ram,
 *   disk_size, version, dkim_public_key, dkim_selector)
 */
JsonNode *
exm_mail_instance_to_json(const ExmMailInstance *i, const gchar *prefix)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	add_string(b, "uuid", i->uuid);
	add_string(b, "name", i->name);
	add_string(b, "description", i->description);
	add_string(b, "project_id", i->project_id);
	add_timestamps(b, i->created_at, i->updated_at);
	add_string(b, "domain", i->domain);
	add_string(b, "status", exm_mail_status_to_string(i->status));
	add_ipsv4(b, i->ipsv4);
	add_int(b, "cpu", i->cpu);
	add_int(b, "ram", i->ram);
	add_int(b, "disk_size", i->disk_size);
	add_relation(b, "version", prefix, "versions", i->version);
	add_string(b, "dkim_public_key", i->dkim_public_key);
	add_string(b, "dkim_selector", i->dkim_selector);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

/**
 * exm_mail_account_to_json:
 * @a: an account
 * @prefix: (nullable): API root
 *
 * Returns: (transfer full): uuid, name, description, created_at, updated_at,
 *   project_id, instance, username, active — never password_hash
 */
JsonNode *
exm_mail_account_to_json(const ExmMailAccount *a, const gchar *prefix)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	add_string(b, "uuid", a->uuid);
	add_string(b, "name", a->name);
	add_string(b, "description", a->description);
	add_timestamps(b, a->created_at, a->updated_at);
	add_string(b, "project_id", a->project_id);
	add_relation(b, "instance", prefix, "instances", a->instance);
	add_string(b, "username", a->username);
	json_builder_set_member_name(b, "active");
	json_builder_add_boolean_value(b, a->active);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}
