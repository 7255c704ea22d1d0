/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail rules on top of the generic controllers: field validation through
 * libexm-mail, disk_size may only grow, usernames lower-cased, password_hash or
 * the write-only password (never both), accounts serialised per instance and
 * bumping its updated_at, instance deletion cascading to its accounts.
 */
#include "exm-plugin-private.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-mail-acme.h"
#include "exm-mail-crypt.h"
#include "exm-mail-dns.h"
#include "exm-mail-error.h"
#include "exm-mail-validate.h"

#define EXM_PLUGIN_POLICY_VERSION  "exordos_mail.mail_version"
#define EXM_PLUGIN_POLICY_INSTANCE "exordos_mail.mail_instance"
#define EXM_PLUGIN_POLICY_ACCOUNT  "exordos_mail.account"

static ExmRestMethod
mail_method(const ExmRestRow *row)
{
	return row == NULL ? EXM_REST_CREATE : EXM_REST_UPDATE;
}

/*
 * Upstream's String(min_length, max_length) and Integer(min_value, max_value):
 * a value outside is its TypeError (create) or ModelTypeError (update),
 * worded as upstream; the mail rules (characters, syntax) come after.
 */
static gboolean
mail_chars(const ExmRestModel *model,
	   GPtrArray *sets,
	   const gchar *field,
	   glong min,
	   glong max,
	   const ExmRestRow *row,
	   GError **error)
{
	const gchar *text = exm_rest_set_text(sets, field);
	glong n;

	if (text == NULL)
		return TRUE;
	n = g_utf8_strlen(text, -1);
	if (n >= min && n <= max)
		return TRUE;
	return exm_rest_body_range_error(error, model, field, mail_method(row), text);
}

static gboolean
mail_range(GPtrArray *sets,
	   const gchar *field,
	   gint64 min,
	   gint64 max,
	   const ExmRestRow *row,
	   GError **error)
{
	const gchar *text = exm_rest_set_text(sets, field);
	gint64 v;

	if (text == NULL)
		return TRUE;
	v = g_ascii_strtoll(text, NULL, 10);
	if (v >= min && v <= max)
		return TRUE;
	return exm_rest_body_range_error(
		error, &exm_plugin_instance_model, field, mail_method(row), text);
}

/* name/description defaults of ModelWithNameDesc: "" at create. */
static void
mail_name_desc_defaults(const ExmRestModel *model, GPtrArray *sets, gboolean name)
{
	if (name && exm_rest_set_find(sets, "name") == NULL)
		exm_rest_set_put(sets, model, "name", "");
	if (exm_rest_set_find(sets, "description") == NULL)
		exm_rest_set_put(sets, model, "description", "");
}

static gboolean
mail_description(GPtrArray *sets, GError **error)
{
	const gchar *d = exm_rest_set_text(sets, "description");

	return d == NULL || exm_mail_validate_description(d, error);
}

/* ------------------------------------------------------------------ ACME */

/* The ACME settings of a version or an instance (docs/tls.md §6): each null
 * (the default: no ACME, or the version's) or a checked value. */
static gboolean
mail_acme(GPtrArray *sets, GError **error)
{
	const gchar *url = exm_rest_set_text(sets, "acme_directory_url");
	const gchar *contact = exm_rest_set_text(sets, "acme_contact");

	return (url == NULL ||
		exm_mail_acme_check_directory_url("acme_directory_url", url, error)) &&
	       (contact == NULL || exm_mail_acme_check_contact("acme_contact", contact, error));
}

/* The version's `acme_allowed_directory_urls`: null (any), or at most
 * EXM_MAIL_ACME_ALLOWED_MAX checked directory URLs. */
static gboolean
mail_acme_allowed(GPtrArray *sets, GError **error)
{
	const gchar *text = exm_rest_set_text(sets, "acme_allowed_directory_urls");
	g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);

	if (text == NULL)
		return TRUE;
	exm_rest_row_parse_text_list(text, list);
	return exm_mail_acme_check_allowed("acme_allowed_directory_urls", list, error);
}

gboolean
exm_plugin_mail_acme_allowed(const gchar *url, const ExmRestRow *version)
{
	const gchar *text =
		version != NULL ? exm_rest_row_get(version, "acme_allowed_directory_urls") : NULL;
	g_autoptr(GPtrArray) allowed = NULL;

	if (text != NULL) {
		allowed = g_ptr_array_new_with_free_func(g_free);
		exm_rest_row_parse_text_list(text, allowed);
	}
	return exm_mail_acme_directory_allowed(
		url,
		version != NULL ? exm_rest_row_get(version, "acme_directory_url") : NULL,
		allowed);
}

/*
 * An instance's own directory must be one its version allows (docs/tls.md
 * §6), checked when a create or an update names a new one (an instance's
 * version is fixed).  A list narrowed later refuses no write that re-sends
 * the stored value (a GET, an edit, a PUT back); the builder uses the
 * version's directory instead (builder_acme_directory(),
 * exm-plugin-builder.c).
 */
static gboolean
mail_acme_instance_allowed(ExmRestCrud *r, const ExmRestRow *row, GPtrArray *sets, GError **error)
{
	const gchar *url = exm_rest_set_text(sets, "acme_directory_url");
	const gchar *id =
		row != NULL ? exm_rest_row_get(row, "version") : exm_rest_set_text(sets, "version");
	g_autoptr(ExmRestRow) version = NULL;

	if (url == NULL ||
	    (row != NULL && g_strcmp0(url, exm_rest_row_get(row, "acme_directory_url")) == 0))
		return TRUE;
	version = exm_rest_crud_load(r, &exm_plugin_mail_versions, id, FALSE, error);
	if (version == NULL)
		return FALSE;
	if (exm_plugin_mail_acme_allowed(url, version))
		return TRUE;
	g_set_error(error,
		    EXM_MAIL_ERROR,
		    EXM_MAIL_ERROR_INVALID,
		    "acme_directory_url: must be the version's acme_directory_url or one of its "
		    "acme_allowed_directory_urls");
	return FALSE;
}

/* A version's write reaches its instances' nodes: its ACME settings are part
 * of their node value, and the builder looks again at an instance whose
 * updated_at moved (docs/plugin-abi.md §8).  Versions are written rarely, by
 * operators; a write that changed nothing of ACME costs one rebuild each. */
static gboolean
mail_version_touch_instances(ExmRestCrud *r, GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(PGresult) res = NULL;

	if (r->match == NULL || r->match->id == NULL)
		return TRUE; /* a create: no instance uses it yet */
	g_ptr_array_add(params, g_strdup_printf("%" G_GINT64_FORMAT, r->now));
	g_ptr_array_add(params, g_strdup(r->match->id));
	res = exm_rest_store_exec(
		&r->store,
		&exm_plugin_instance_model,
		"UPDATE mail_instances SET updated_at = GREATEST(TIMESTAMP 'epoch' + "
		"$1::bigint * INTERVAL '1 microsecond', updated_at + INTERVAL "
		"'1 microsecond') WHERE version = $2::uuid",
		params,
		error);
	return res != NULL;
}

/* ------------------------------------------------------------------ versions */

static gboolean
mail_version_prepare(ExmRestCrud *r,
		     const ExmRestBody *body,
		     const ExmRestRow *row,
		     GPtrArray *sets,
		     GError **error)
{
	const ExmRestModel *m = &exm_plugin_version_model;

	if (row == NULL)
		mail_name_desc_defaults(m, sets, TRUE);
	return mail_chars(m, sets, "name", 0, EXM_MAIL_NAME_MAX, row, error) &&
	       mail_description(sets, error) &&
	       mail_chars(m, sets, "image", 0, EXM_MAIL_IMAGE_MAX, row, error) &&
	       mail_acme(sets, error) && mail_acme_allowed(sets, error);
}

/* ------------------------------------------------------------------ instances */

static gboolean
mail_sizes(GPtrArray *sets, const ExmRestRow *row, GError **error)
{
	return mail_range(sets, "cpu", EXM_MAIL_CPU_MIN, EXM_MAIL_CPU_MAX, row, error) &&
	       mail_range(sets, "ram", EXM_MAIL_RAM_MIN, EXM_MAIL_RAM_MAX, row, error) &&
	       mail_range(sets, "disk_size", EXM_MAIL_DISK_MIN, EXM_MAIL_DISK_MAX, row, error);
}

static gboolean
mail_disk_grows(const ExmRestRow *row, GPtrArray *sets, GError **error)
{
	const gchar *disk = exm_rest_set_text(sets, "disk_size");
	const gchar *old = exm_rest_row_get(row, "disk_size");

	if (disk == NULL || old == NULL ||
	    g_ascii_strtoll(disk, NULL, 10) >= g_ascii_strtoll(old, NULL, 10))
		return TRUE;
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_VALIDATION,
		    "disk_size shrink is not supported yet: %s GB is smaller than the current "
		    "%s GB; the data disk can only grow",
		    disk,
		    old);
	return FALSE;
}

static gboolean
mail_domain(GPtrArray *sets, GError **error)
{
	const gchar *domain = exm_rest_set_text(sets, "domain");
	g_autofree gchar *norm = NULL;
	g_autofree gchar *host = NULL;

	if (domain == NULL)
		return TRUE;
	norm = exm_mail_validate_normalize_domain(domain, error);
	if (norm == NULL)
		return FALSE;
	exm_rest_set_put(sets, &exm_plugin_instance_model, "domain", norm);
	/* issue 22: the node's one name follows the domain (docs/tls.md §1) */
	host = exm_mail_dns_primary_hostname(norm);
	exm_rest_set_put(sets, &exm_plugin_instance_model, "smtp_hostname", host);
	return TRUE;
}

/* An optional bounded integer (null: the default). */
static gboolean
mail_limit(GPtrArray *sets, const gchar *field, gint64 min, gint64 max, GError **error)
{
	const gchar *text = exm_rest_set_text(sets, field);

	return text == NULL ||
	       exm_mail_validate_limit(field, g_ascii_strtoll(text, NULL, 10), min, max, error);
}

static gboolean
mail_instance_limits(GPtrArray *sets, GError **error)
{
	return mail_limit(sets,
			  "default_messages_per_hour",
			  1,
			  EXM_MAIL_MESSAGES_PER_HOUR_MAX,
			  error) &&
	       mail_limit(sets,
			  "default_recipients_per_day",
			  1,
			  EXM_MAIL_RECIPIENTS_PER_DAY_MAX,
			  error) &&
	       mail_limit(sets,
			  "messages_per_hour_ceiling",
			  1,
			  EXM_MAIL_RECIPIENTS_PER_DAY_MAX,
			  error) &&
	       mail_limit(sets, "auth_fail_limit", 1, EXM_MAIL_AUTH_FAIL_LIMIT_MAX, error) &&
	       mail_limit(sets,
			  "auth_fail_window",
			  EXM_MAIL_AUTH_FAIL_WINDOW_MIN,
			  EXM_MAIL_AUTH_FAIL_WINDOW_MAX,
			  error) &&
	       mail_limit(sets,
			  "breaker_new_recipients_per_day",
			  1,
			  EXM_MAIL_BREAKER_NEW_RECIPIENTS_MAX,
			  error) &&
	       mail_limit(sets, "breaker_bounce_percent", 1, 100, error) &&
	       mail_limit(sets, "breaker_bounce_min", 1, EXM_MAIL_BREAKER_BOUNCE_MIN_MAX, error);
}

static gboolean
mail_instance_prepare(ExmRestCrud *r,
		      const ExmRestBody *body,
		      const ExmRestRow *row,
		      GPtrArray *sets,
		      GError **error)
{
	const gchar *name = exm_rest_set_text(sets, "name");

	if (row == NULL) {
		mail_name_desc_defaults(&exm_plugin_instance_model, sets, FALSE);
		exm_rest_set_put(sets, &exm_plugin_instance_model, "ipsv4", "[]");
	}
	if (!mail_chars(&exm_plugin_instance_model, sets, "name", 1, EXM_MAIL_NAME_MAX, row, error))
		return FALSE;
	if (exm_rest_set_find(sets, "name") != NULL && !exm_mail_validate_name(name, error))
		return FALSE;
	if (!mail_description(sets, error) || !mail_domain(sets, error) ||
	    !mail_sizes(sets, row, error) || !mail_instance_limits(sets, error) ||
	    !mail_acme(sets, error) || !mail_acme_instance_allowed(r, row, sets, error))
		return FALSE;
	return row == NULL || mail_disk_grows(row, sets, error);
}

/* Deleting an instance deletes its accounts in the same transaction. */
static gboolean
mail_instance_before_delete(ExmRestCrud *r, const ExmRestRow *row, GError **error)
{
	return exm_rest_store_delete_where(
		&r->store, &exm_plugin_account_model, "instance", r->match->id, error);
}

/* ------------------------------------------------------------------ accounts */

static const gchar *
mail_parent_id(ExmRestCrud *r)
{
	return exm_rest_row_get(r->parent, "uuid");
}

/* Account writes of one instance run one at a time: the instance row is the
 * lock, so concurrent creates and updates neither lose an update of the
 * instance's updated_at nor race on the per-instance username index. */
static gboolean
mail_account_lock(ExmRestCrud *r, GError **error)
{
	/* a create's walk loaded the instance FOR UPDATE already (.locks_parent) */
	if (r->parent_locked)
		return TRUE;
	return exm_rest_store_lock(&r->store, &exm_plugin_instance_model, mail_parent_id(r), error);
}

/* Every account write moves the instance's updated_at, strictly forward. */
static gboolean
mail_account_touch(ExmRestCrud *r, GError **error)
{
	return exm_rest_store_touch(
		&r->store, &exm_plugin_instance_model, mail_parent_id(r), r->now, error);
}

static gboolean
mail_account_parent(ExmRestCrud *r, const ExmRestBody *body, GPtrArray *sets, GError **error)
{
	const ExmRestValue *inst = exm_rest_body_get(body, "instance");
	const gchar *project = exm_rest_set_text(sets, "project_id");

	if (inst != NULL && g_strcmp0(inst->str, mail_parent_id(r)) != 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_VALIDATION,
			    "instance: must be the instance of the URL (%s%s%s)",
			    r->mount,
			    "instances/",
			    mail_parent_id(r));
		return FALSE;
	}
	if (g_strcmp0(project, exm_rest_row_get(r->parent, "project_id")) != 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_VALIDATION,
			    "project_id: must be the project of the instance (%s)",
			    exm_rest_row_get(r->parent, "project_id"));
		return FALSE;
	}
	return TRUE;
}

static gboolean
mail_username(GPtrArray *sets, GError **error)
{
	const gchar *username = exm_rest_set_text(sets, "username");
	g_autofree gchar *norm = NULL;

	if (username == NULL)
		return TRUE;
	norm = exm_mail_validate_normalize_username(username, error);
	if (norm == NULL)
		return FALSE;
	exm_rest_set_put(sets, &exm_plugin_account_model, "username", norm);
	return TRUE;
}

/* `password` → a yescrypt hash; on update the stored hash is kept when it
 * already verifies the same password, so re-sending it changes nothing. */
static gboolean
mail_hash_password(const ExmRestValue *password,
		   const ExmRestRow *row,
		   GPtrArray *sets,
		   GError **error)
{
	const gchar *old = row != NULL ? exm_rest_row_get(row, "password_hash") : NULL;
	g_autoptr(ExmSecret) hash = NULL;

	if (password->str == NULL || password->is_null) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "password: must be a non-empty string");
		return FALSE;
	}
	if (old != NULL && exm_mail_crypt_verify(password->str, old))
		return TRUE;
	/* A crypt failure converts to a 500 by its code (exm-mail-error.c). */
	hash = exm_mail_crypt_hash(password->str, EXM_MAIL_HASH_YESCRYPT, error);
	if (hash == NULL)
		return FALSE;
	exm_rest_set_put(sets, &exm_plugin_account_model, "password_hash", hash);
	return TRUE;
}

/* A password set by any write voids the EM path's seal of the old one
 * (exm-plugin-em.c stores the new seal after its own write). */
static gboolean
mail_drop_seal(ExmRestCrud *r, const ExmRestRow *row, GPtrArray *sets, GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	PGresult *res;

	if (row == NULL || exm_rest_set_find(sets, "password_hash") == NULL)
		return TRUE;
	g_ptr_array_add(params, (gpointer)exm_rest_row_get(row, "uuid"));
	res = exm_rest_store_exec(&r->store,
				  &exm_plugin_account_model,
				  "DELETE FROM mail_account_seals WHERE account = $1",
				  params,
				  error);
	if (res == NULL)
		return FALSE;
	PQclear(res);
	return TRUE;
}

static gboolean
mail_password(const ExmRestBody *body, const ExmRestRow *row, GPtrArray *sets, GError **error)
{
	const ExmRestValue *hash = exm_rest_body_get(body, "password_hash");
	const ExmRestValue *password = exm_rest_body_get(body, "password");

	if (hash != NULL && password != NULL) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "password, password_hash: send one of them, not both");
		return FALSE;
	}
	if (password != NULL)
		return mail_hash_password(password, row, sets, error);
	/* the grammar and the work-factor ceilings: exim verifies this hash per AUTH */
	if (hash != NULL)
		return exm_mail_validate_hash_cost(hash->str, error);
	if (row == NULL) {
		exm_rest_model_error_required(error, &exm_plugin_account_model, "password_hash");
		return FALSE;
	}
	return TRUE;
}

static gint
mail_strcmp(gconstpointer a, gconstpointer b, gpointer data)
{
	return strcmp(a, b);
}

static gboolean
mail_senders_append(gpointer key, gpointer value, gpointer data)
{
	GString *json = data;
	g_autoptr(JsonNode) s = json_node_new(JSON_NODE_VALUE);
	g_autofree gchar *text = NULL;

	json_node_set_string(s, key);
	text = json_to_string(s, FALSE);
	g_string_append_printf(json, "%s%s", json->len > 1 ? "," : "", text);
	return FALSE;
}

/* `senders`: each pattern inside the instance's domain, stored lower-cased,
 * sorted and without duplicates; at most EXM_MAIL_SENDERS_MAX. */
static gboolean
mail_senders(ExmRestCrud *r, GPtrArray *sets, GError **error)
{
	const gchar *text = exm_rest_set_text(sets, "senders");
	const gchar *domain = exm_rest_row_get(r->parent, "domain");
	g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GTree) norm = g_tree_new_full(mail_strcmp, NULL, g_free, NULL);
	g_autoptr(GString) json = g_string_new("[");

	if (text == NULL)
		return TRUE;
	exm_rest_row_parse_text_list(text, list);
	if (list->len > EXM_MAIL_SENDERS_MAX) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "senders: at most %d patterns are allowed, got %u",
			    EXM_MAIL_SENDERS_MAX,
			    list->len);
		return FALSE;
	}
	for (guint i = 0; i < list->len; i++) {
		gchar *p = exm_mail_validate_normalize_sender(list->pdata[i], domain, error);

		if (p == NULL)
			return FALSE;
		g_tree_replace(norm, p, p);
	}
	g_tree_foreach(norm, mail_senders_append, json);
	g_string_append_c(json, ']');
	exm_rest_set_put(sets, &exm_plugin_account_model, "senders", json->str);
	return TRUE;
}

static gboolean
mail_account_prepare(ExmRestCrud *r,
		     const ExmRestBody *body,
		     const ExmRestRow *row,
		     GPtrArray *sets,
		     GError **error)
{
	if (row == NULL) {
		mail_name_desc_defaults(&exm_plugin_account_model, sets, TRUE);
		if (!mail_account_parent(r, body, sets, error))
			return FALSE;
	}
	return mail_chars(
		       &exm_plugin_account_model, sets, "name", 0, EXM_MAIL_NAME_MAX, row, error) &&
	       mail_description(sets, error) && mail_username(sets, error) &&
	       mail_password(body, row, sets, error) &&
	       mail_limit(sets, "messages_per_hour", 1, EXM_MAIL_MESSAGES_PER_HOUR_MAX, error) &&
	       mail_limit(sets, "recipients_per_day", 1, EXM_MAIL_RECIPIENTS_PER_DAY_MAX, error) &&
	       mail_senders(r, sets, error) && mail_drop_seal(r, row, sets, error);
}

/* ------------------------------------------------------------------ rotation */

#define MAIL_ROTATE_OVERLAP_DEFAULT 86400
#define MAIL_ROTATE_OVERLAP_MAX	    (30 * 86400)

static const gchar *const mail_rotate_secrets[] = { "password", "password_hash", NULL };

static gboolean
mail_rotate_invalid(GError **error, const gchar *message)
{
	g_set_error_literal(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, message);
	return FALSE;
}

/* Only the arguments the action takes: a misspelt one is not ignored. */
static gboolean
mail_rotate_known(JsonObject *kwargs, GError **error)
{
	JsonObjectIter it;
	const gchar *name;
	JsonNode *value;

	json_object_iter_init(&it, kwargs);
	while (json_object_iter_next(&it, &name, &value)) {
		if (!g_strv_contains(mail_rotate_secrets, name) &&
		    g_strcmp0(name, "overlap_seconds") != 0) {
			g_set_error(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "rotate: unknown argument '%s'; send password or "
				    "password_hash, and overlap_seconds",
				    g_utf8_validate(name, -1, NULL) ? name : "<invalid utf-8>");
			return FALSE;
		}
	}
	return TRUE;
}

/* `overlap_seconds`: absent, a day; else an integer in [0, 30 days] (the
 * decimal text of one when it came from a query string or a form). */
static gboolean
mail_rotate_overlap(JsonObject *kwargs, gint64 *out, GError **error)
{
	JsonNode *n = json_object_get_member(kwargs, "overlap_seconds");
	const gchar *text = NULL;
	gchar *end = NULL;

	*out = MAIL_ROTATE_OVERLAP_DEFAULT;
	if (n == NULL)
		return TRUE;
	if (exm_json_node_is_int(n)) {
		*out = json_node_get_int(n);
	} else if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING) {
		text = json_node_get_string(n);
		*out = g_ascii_strtoll(text, &end, 10);
	}
	if ((text == NULL && !exm_json_node_is_int(n)) ||
	    (text != NULL && (*text == '\0' || *end != '\0')) || *out < 0 ||
	    *out > MAIL_ROTATE_OVERLAP_MAX)
		return mail_rotate_invalid(error,
					   "overlap_seconds: must be an integer from 0 to "
					   "2592000 (30 days)");
	return TRUE;
}

/* A string argument, %NULL when absent; a present non-string is a 400. */
static gboolean
mail_rotate_string(JsonObject *kwargs, const gchar *name, const gchar **out, GError **error)
{
	JsonNode *n = json_object_get_member(kwargs, name);

	*out = NULL;
	if (n == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING ||
	    *json_node_get_string(n) == '\0') {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "%s: must be a non-empty string",
			    name);
		return FALSE;
	}
	*out = json_node_get_string(n);
	return TRUE;
}

/* The new secret into @sets as `password_hash`: exactly one of `password`
 * (hashed here) and `password_hash`, and never the current secret, which a
 * rotation would otherwise keep as both. */
static gboolean
mail_rotate_secret(JsonObject *kwargs, const ExmRestRow *row, GPtrArray *sets, GError **error)
{
	const gchar *current = exm_rest_row_get(row, "password_hash");
	const gchar *password, *hash;
	ExmRestValue value = { 0 };

	if (!mail_rotate_string(kwargs, "password", &password, error) ||
	    !mail_rotate_string(kwargs, "password_hash", &hash, error))
		return FALSE;
	if ((password == NULL) == (hash == NULL))
		return mail_rotate_invalid(error,
					   "password, password_hash: send one of them, the new "
					   "secret");
	if (hash != NULL) {
		if (!exm_mail_validate_hash_cost(hash, error))
			return FALSE;
		if (g_strcmp0(hash, current) == 0)
			return mail_rotate_invalid(error,
						   "password_hash: is the current secret; a "
						   "rotation needs a new one");
		exm_rest_set_put(sets, &exm_plugin_account_model, "password_hash", hash);
		return TRUE;
	}
	value.str = (gchar *)password;
	if (!mail_hash_password(&value, row, sets, error))
		return FALSE;
	/* mail_hash_password() keeps the stored hash when it verifies this password */
	if (exm_rest_set_find(sets, "password_hash") == NULL)
		return mail_rotate_invalid(error,
					   "password: is the current secret; a rotation needs a "
					   "new one");
	return TRUE;
}

/* The replaced secret and its deadline; none at all for an overlap of 0 (a
 * second rotation inside a window ends the oldest secret at once). */
static void
mail_rotate_previous(ExmRestCrud *r, const ExmRestRow *row, gint64 overlap, GPtrArray *sets)
{
	g_autofree gchar *until = NULL;

	if (overlap == 0) {
		exm_rest_set_put(sets, &exm_plugin_account_model, "previous_password_hash", NULL);
		exm_rest_set_put(
			sets, &exm_plugin_account_model, "previous_password_valid_until", NULL);
		return;
	}
	until = g_strdup_printf("%" G_GINT64_FORMAT, r->now + overlap * G_USEC_PER_SEC);
	exm_rest_set_put(sets,
			 &exm_plugin_account_model,
			 "previous_password_hash",
			 exm_rest_row_get(row, "password_hash"));
	exm_rest_set_put(sets, &exm_plugin_account_model, "previous_password_valid_until", until);
}

static gboolean
mail_rotate_run(ExmRestCrud *r, const ExmRestKind *kind, JsonObject *kwargs, GError **error)
{
	g_autoptr(GPtrArray) sets = exm_rest_set_list_new();
	g_autoptr(ExmRestRow) row = NULL;
	gint64 overlap;

	if (!mail_rotate_known(kwargs, error) || !mail_rotate_overlap(kwargs, &overlap, error) ||
	    !kind->before_write(r, error))
		return FALSE;
	row = exm_rest_crud_load(r, kind, r->match->id, TRUE, error);
	if (row == NULL || !mail_rotate_secret(kwargs, row, sets, error))
		return FALSE;
	mail_rotate_previous(r, row, overlap, sets);
	return mail_drop_seal(r, row, sets, error) &&
	       exm_rest_crud_write_update(r, kind, sets, error);
}

/* A secret in the URL would reach access logs and proxies: upstream's rule
 * would take it from the query string, this action refuses it there. */
static gboolean
mail_rotate_not_in_url(ExmRestCrud *r, GError **error)
{
	for (gsize i = 0; i < r->n_query; i++) {
		if (g_strv_contains(mail_rotate_secrets, r->query[i].key)) {
			g_set_error(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "%s: send it in the body (JSON or a form), never in the URL",
				    r->query[i].key);
			return FALSE;
		}
	}
	return TRUE;
}

void
exm_plugin_mail_rotate(ExmRestCrud *r, const ExmRestKind *kind)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) kwargs = NULL;

	if (exm_rest_crud_enforce(r, kind->policy, "update", &error) &&
	    mail_rotate_not_in_url(r, &error))
		kwargs = exm_rest_crud_action_kwargs(r, mail_rotate_secrets, &error);
	if (kwargs == NULL || !mail_rotate_run(r, kind, kwargs, &error))
		exm_rest_response_set_error(r->resp, error);
	exm_json_wipe_members(kwargs, mail_rotate_secrets);
}

/* ------------------------------------------------------------------ kinds */

const ExmRestKind exm_plugin_mail_versions = {
	.model = &exm_plugin_version_model,
	.route = &exm_plugin_versions_route,
	.policy = EXM_PLUGIN_POLICY_VERSION,
	.prepare = mail_version_prepare,
	.after_write = mail_version_touch_instances,
};

const ExmRestKind exm_plugin_mail_instances = {
	.model = &exm_plugin_instance_model,
	.route = &exm_plugin_instances_route,
	.policy = EXM_PLUGIN_POLICY_INSTANCE,
	.scoped = TRUE,
	.prepare = mail_instance_prepare,
	.before_delete = mail_instance_before_delete,
};

/* What a create of an account reads of its instance: its uuid (the
 * account's `instance`, the Location, the touch), its project (the
 * account's must be the same) and its domain (the senders' patterns). */
static const gchar *const mail_account_create_reads[] = {
	"uuid",
	"project_id",
	"domain",
	NULL,
};

const ExmRestKind exm_plugin_mail_accounts = {
	.model = &exm_plugin_account_model,
	.route = &exm_plugin_accounts_route,
	.parent = &exm_plugin_mail_instances,
	.policy = EXM_PLUGIN_POLICY_ACCOUNT,
	.parent_field = "instance",
	.prepare = mail_account_prepare,
	.before_write = mail_account_lock,
	.locks_parent = TRUE,
	.after_write = mail_account_touch,
	.create_reads_parent = mail_account_create_reads,
};
