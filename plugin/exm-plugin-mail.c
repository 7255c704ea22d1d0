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
#include "exm-mail-crypt.h"
#include "exm-mail-error.h"
#include "exm-mail-validate.h"

#define EXM_PLUGIN_POLICY_VERSION  "exordos_mail.mail_version"
#define EXM_PLUGIN_POLICY_INSTANCE "exordos_mail.mail_instance"
#define EXM_PLUGIN_POLICY_ACCOUNT  "exordos_mail.account"

/* The string being written to @name, or %NULL when the request leaves it. */
static const gchar *
exm_plugin_mail_new_text(GPtrArray *sets, const gchar *name)
{
	ExmPluginSet *s = exm_plugin_store_sets_find(sets, name);

	return s != NULL ? s->text : NULL;
}

static gboolean
exm_plugin_mail_max_chars(const gchar *name, const gchar *text, glong max, GError **error)
{
	if (text == NULL || g_utf8_strlen(text, -1) <= max)
		return TRUE;
	g_set_error(error,
		    EXM_MAIL_ERROR,
		    EXM_MAIL_ERROR_INVALID,
		    "%s: at most %ld characters",
		    name,
		    max);
	return FALSE;
}

/* name/description defaults of ModelWithNameDesc: "" at create. */
static void
exm_plugin_mail_name_desc_defaults(const ExmRestModel *model, GPtrArray *sets, gboolean name)
{
	if (name && exm_plugin_store_sets_find(sets, "name") == NULL)
		exm_plugin_store_sets_put(sets, model, "name", "");
	if (exm_plugin_store_sets_find(sets, "description") == NULL)
		exm_plugin_store_sets_put(sets, model, "description", "");
}

static gboolean
exm_plugin_mail_description(GPtrArray *sets, GError **error)
{
	const gchar *d = exm_plugin_mail_new_text(sets, "description");

	return d == NULL || exm_mail_validate_description(d, error);
}

/* ------------------------------------------------------------------ versions */

static gboolean
exm_plugin_mail_version_prepare(ExmPluginRequest *r,
				const ExmRestBody *body,
				const ExmPluginRow *row,
				GPtrArray *sets,
				GError **error)
{
	if (row == NULL)
		exm_plugin_mail_name_desc_defaults(&exm_plugin_version_model, sets, TRUE);
	return exm_plugin_mail_max_chars(
		       "name", exm_plugin_mail_new_text(sets, "name"), EXM_MAIL_NAME_MAX, error) &&
	       exm_plugin_mail_description(sets, error) &&
	       exm_plugin_mail_max_chars(
		       "image", exm_plugin_mail_new_text(sets, "image"), EXM_MAIL_IMAGE_MAX, error);
}

/* ------------------------------------------------------------------ instances */

static gboolean
exm_plugin_mail_sizes(GPtrArray *sets, GError **error)
{
	const gchar *cpu = exm_plugin_mail_new_text(sets, "cpu");
	const gchar *ram = exm_plugin_mail_new_text(sets, "ram");
	const gchar *disk = exm_plugin_mail_new_text(sets, "disk_size");

	return (cpu == NULL || exm_mail_validate_cpu(g_ascii_strtoll(cpu, NULL, 10), error)) &&
	       (ram == NULL || exm_mail_validate_ram(g_ascii_strtoll(ram, NULL, 10), error)) &&
	       (disk == NULL ||
		exm_mail_validate_disk_size(g_ascii_strtoll(disk, NULL, 10), error));
}

static gboolean
exm_plugin_mail_disk_grows(const ExmPluginRow *row, GPtrArray *sets, GError **error)
{
	const gchar *disk = exm_plugin_mail_new_text(sets, "disk_size");
	const gchar *old = exm_plugin_store_row_get(row, "disk_size");

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
exm_plugin_mail_domain(GPtrArray *sets, GError **error)
{
	const gchar *domain = exm_plugin_mail_new_text(sets, "domain");
	g_autofree gchar *norm = NULL;

	if (domain == NULL)
		return TRUE;
	norm = exm_mail_normalize_domain(domain, error);
	if (norm == NULL)
		return FALSE;
	exm_plugin_store_sets_put(sets, &exm_plugin_instance_model, "domain", norm);
	return TRUE;
}

static gboolean
exm_plugin_mail_instance_prepare(ExmPluginRequest *r,
				 const ExmRestBody *body,
				 const ExmPluginRow *row,
				 GPtrArray *sets,
				 GError **error)
{
	const gchar *name = exm_plugin_mail_new_text(sets, "name");

	if (row == NULL) {
		exm_plugin_mail_name_desc_defaults(&exm_plugin_instance_model, sets, FALSE);
		exm_plugin_store_sets_put(sets, &exm_plugin_instance_model, "ipsv4", "[]");
	}
	if (exm_plugin_store_sets_find(sets, "name") != NULL &&
	    !exm_mail_validate_name(name, error))
		return FALSE;
	if (!exm_plugin_mail_description(sets, error) || !exm_plugin_mail_domain(sets, error) ||
	    !exm_plugin_mail_sizes(sets, error))
		return FALSE;
	return row == NULL || exm_plugin_mail_disk_grows(row, sets, error);
}

/* Deleting an instance deletes its accounts in the same transaction. */
static gboolean
exm_plugin_mail_instance_before_delete(ExmPluginRequest *r, const ExmPluginRow *row, GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, r->match->id);
	res = exm_plugin_store_exec(r,
				    &exm_plugin_account_model,
				    "DELETE FROM \"mail_accounts\" WHERE \"instance\" = $1::uuid",
				    params,
				    error);
	return res != NULL;
}

gboolean
exm_plugin_mail_load_parent(ExmPluginRequest *r, const gchar *id, GError **error)
{
	if (!exm_plugin_enforce(r, EXM_PLUGIN_POLICY_INSTANCE, "read", error))
		return FALSE;
	g_clear_pointer(&r->parent, exm_plugin_store_row_free);
	r->parent = exm_plugin_crud_load(r, &exm_plugin_mail_instances, id, FALSE, error);
	return r->parent != NULL;
}

/* ------------------------------------------------------------------ accounts */

static const gchar *
exm_plugin_mail_parent_id(ExmPluginRequest *r)
{
	return exm_plugin_store_row_get(r->parent, "uuid");
}

/* Account writes of one instance run one at a time: the instance row is the
 * lock, so concurrent creates and updates neither lose an update of the
 * instance's updated_at nor race on the per-instance username index. */
static gboolean
exm_plugin_mail_account_lock(ExmPluginRequest *r, GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, (gpointer)exm_plugin_mail_parent_id(r));
	res = exm_plugin_store_exec(
		r,
		&exm_plugin_instance_model,
		"SELECT 1 FROM \"mail_instances\" WHERE \"uuid\" = $1::uuid FOR UPDATE",
		params,
		error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) != 1) {
		exm_rest_set_not_found_error(
			error, &exm_plugin_instance_model, exm_plugin_mail_parent_id(r), NULL);
		return FALSE;
	}
	return TRUE;
}

/* Every account write moves the instance's updated_at, strictly forward. */
static gboolean
exm_plugin_mail_account_touch(ExmPluginRequest *r, GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, g_strdup_printf("%" G_GINT64_FORMAT, r->now));
	g_ptr_array_add(params, g_strdup(exm_plugin_mail_parent_id(r)));
	res = exm_plugin_store_exec(
		r,
		&exm_plugin_instance_model,
		"UPDATE \"mail_instances\" SET \"updated_at\" = GREATEST(TIMESTAMP 'epoch' + "
		"$1::bigint * INTERVAL '1 microsecond', \"updated_at\" + INTERVAL '1 "
		"microsecond') WHERE \"uuid\" = $2::uuid",
		params,
		error);
	return res != NULL;
}

static gboolean
exm_plugin_mail_account_parent(ExmPluginRequest *r,
			       const ExmRestBody *body,
			       GPtrArray *sets,
			       GError **error)
{
	const ExmRestValue *inst = exm_rest_body_get(body, "instance");
	const gchar *project = exm_plugin_mail_new_text(sets, "project_id");

	if (inst != NULL && g_strcmp0(inst->str, exm_plugin_mail_parent_id(r)) != 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_VALIDATION,
			    "instance: must be the instance of the URL (%s%s%s)",
			    r->mount,
			    "instances/",
			    exm_plugin_mail_parent_id(r));
		return FALSE;
	}
	if (g_strcmp0(project, exm_plugin_store_row_get(r->parent, "project_id")) != 0) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_VALIDATION,
			    "project_id: must be the project of the instance (%s)",
			    exm_plugin_store_row_get(r->parent, "project_id"));
		return FALSE;
	}
	return TRUE;
}

static gboolean
exm_plugin_mail_username(GPtrArray *sets, GError **error)
{
	const gchar *username = exm_plugin_mail_new_text(sets, "username");
	g_autofree gchar *norm = NULL;

	if (username == NULL)
		return TRUE;
	norm = exm_mail_normalize_username(username, error);
	if (norm == NULL)
		return FALSE;
	exm_plugin_store_sets_put(sets, &exm_plugin_account_model, "username", norm);
	return TRUE;
}

/* `password` → a yescrypt hash; on update the stored hash is kept when it
 * already verifies the same password, so re-sending it changes nothing. */
static gboolean
exm_plugin_mail_hash_password(const ExmRestValue *password,
			      const ExmPluginRow *row,
			      GPtrArray *sets,
			      GError **error)
{
	const gchar *old = row != NULL ? exm_plugin_store_row_get(row, "password_hash") : NULL;
	g_autoptr(ExmSecret) hash = NULL;

	if (password->str == NULL || password->is_null) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "password: must be a non-empty string");
		return FALSE;
	}
	if (old != NULL && exm_mail_verify_password(password->str, old))
		return TRUE;
	/* A crypt failure converts to a 500 by its code (exm-mail-error.c). */
	hash = exm_mail_hash_password(password->str, EXM_MAIL_HASH_YESCRYPT, error);
	if (hash == NULL)
		return FALSE;
	exm_plugin_store_sets_put(sets, &exm_plugin_account_model, "password_hash", hash);
	return TRUE;
}

static gboolean
exm_plugin_mail_password(const ExmRestBody *body,
			 const ExmPluginRow *row,
			 GPtrArray *sets,
			 GError **error)
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
		return exm_plugin_mail_hash_password(password, row, sets, error);
	if (hash != NULL)
		return exm_mail_validate_password_hash(hash->str, error);
	if (row == NULL) {
		exm_rest_set_required_error(error, &exm_plugin_account_model, "password_hash");
		return FALSE;
	}
	return TRUE;
}

static gboolean
exm_plugin_mail_account_prepare(ExmPluginRequest *r,
				const ExmRestBody *body,
				const ExmPluginRow *row,
				GPtrArray *sets,
				GError **error)
{
	if (row == NULL) {
		exm_plugin_mail_name_desc_defaults(&exm_plugin_account_model, sets, TRUE);
		if (!exm_plugin_mail_account_parent(r, body, sets, error))
			return FALSE;
	}
	return exm_plugin_mail_max_chars(
		       "name", exm_plugin_mail_new_text(sets, "name"), EXM_MAIL_NAME_MAX, error) &&
	       exm_plugin_mail_description(sets, error) && exm_plugin_mail_username(sets, error) &&
	       exm_plugin_mail_password(body, row, sets, error);
}

/* ------------------------------------------------------------------ kinds */

const ExmPluginKind exm_plugin_mail_versions = {
	.model = &exm_plugin_version_model,
	.tag = EXM_PLUGIN_ROUTE_VERSIONS,
	.policy = EXM_PLUGIN_POLICY_VERSION,
	.prepare = exm_plugin_mail_version_prepare,
};

const ExmPluginKind exm_plugin_mail_instances = {
	.model = &exm_plugin_instance_model,
	.tag = EXM_PLUGIN_ROUTE_INSTANCES,
	.policy = EXM_PLUGIN_POLICY_INSTANCE,
	.scoped = TRUE,
	.prepare = exm_plugin_mail_instance_prepare,
	.before_delete = exm_plugin_mail_instance_before_delete,
};

const ExmPluginKind exm_plugin_mail_accounts = {
	.model = &exm_plugin_account_model,
	.tag = EXM_PLUGIN_ROUTE_ACCOUNTS,
	.policy = EXM_PLUGIN_POLICY_ACCOUNT,
	.parent_field = "instance",
	.prepare = exm_plugin_mail_account_prepare,
	.before_write = exm_plugin_mail_account_lock,
	.after_write = exm_plugin_mail_account_touch,
};
