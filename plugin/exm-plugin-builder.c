/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The mail builders' shared half: loading the inputs from the mail tables,
 * reading the engine's view, the instance patch (status, ipsv4, DKIM) and
 * writing it.  The build functions proper are in exm-plugin-builder-infra.c
 * and exm-plugin-builder-paas.c.
 */
#include "exm-plugin-builder.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-rest.h"
#include "exm-secret.h"
#include "exm-json.h"
#include "exm-mail-validate.h"
#include "exm-uuid.h"
#include "exm-plugin-breaker.h"
#include "exm-plugin-capture.h"
#include "exm-plugin-certificate.h"
#include "exm-plugin-tls.h"
#include "exm-plugin-usage.h"

#define DKIM_MAX 4096

void
exm_plugin_builder_input_free(gpointer input)
{
	ExmPluginBuilderInput *in = input;

	if (in == NULL)
		return;
	exm_mail_instance_free(in->instance);
	g_free(in->image);
	g_free(in->infra_project);
	exm_mail_node_free(in->accounts);
	g_free(in->usage_hash);
	g_free(in->breaker_hash);
	g_free(in->capture_hash);
	exm_plugin_tls_status_clear(&in->tls);
	g_free(in->acme_directory_url);
	g_free(in->acme_contact);
	g_free(in->tls_custom_chain);
	exm_secret_free(in->tls_custom_key);
	g_free(in);
}

/* ------------------------------------------------------------------ load */

static gboolean
builder_fail(gchar **out_error, const gchar *what, const GError *error)
{
	if (out_error != NULL)
		*out_error =
			g_strdup_printf("%s: %s", what, error != NULL ? error->message : "failed");
	return FALSE;
}

/* Field @name of @row ("" for NULL). */
static const gchar *
builder_col(const ExmRestRow *row, const gchar *name)
{
	const gchar *text = exm_rest_row_get(row, name);

	return text != NULL ? text : "";
}

/* An integer column, 0 for NULL. */
static gint64
builder_int(const ExmRestRow *row, const gchar *name)
{
	return g_ascii_strtoll(builder_col(row, name), NULL, 10);
}

static void
builder_limits(const ExmRestRow *row, ExmMailLimits *l)
{
	l->messages_per_hour = builder_int(row, "default_messages_per_hour");
	l->recipients_per_day = builder_int(row, "default_recipients_per_day");
	l->messages_per_hour_ceiling = builder_int(row, "messages_per_hour_ceiling");
	l->auth_fail_limit = builder_int(row, "auth_fail_limit");
	l->auth_fail_window = builder_int(row, "auth_fail_window");
	l->breaker_new_recipients_per_day = builder_int(row, "breaker_new_recipients_per_day");
	l->breaker_bounce_percent = builder_int(row, "breaker_bounce_percent");
	l->breaker_bounce_min = builder_int(row, "breaker_bounce_min");
}

/* The account's limits and senders (NULL columns: the defaults). */
static gboolean
builder_account_policy(ExmMailNode *node, const ExmRestRow *row, GError **error)
{
	const gchar *senders = exm_rest_row_get(row, "senders");
	g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);

	if (senders != NULL)
		exm_rest_row_parse_text_list(senders, list);
	g_ptr_array_add(list, NULL);
	return exm_mail_node_set_account_policy(node,
						builder_col(row, "username"),
						builder_int(row, "messages_per_hour"),
						builder_int(row, "recipients_per_day"),
						senders != NULL ? (const gchar *const *)list->pdata
								: NULL,
						error);
}

/* A timestamp column (µs since the epoch as text) in whole seconds, rounded
 * up so a deadline is never earlier on the node; 0 for NULL. */
static gint64
builder_epoch(const ExmRestRow *row, const gchar *name)
{
	gint64 us = builder_int(row, name);

	return us <= 0 ? 0 : (us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
}

/* The replaced secret while its window is open (once it closed it is left
 * out: exim would refuse it anyway), and the expiry. */
static gboolean
builder_account_secrets(ExmMailNode *node, const ExmRestRow *row, GError **error)
{
	const gchar *previous = exm_rest_row_get(row, "previous_password_hash");
	gint64 until = builder_epoch(row, "previous_password_valid_until");

	if (previous == NULL || until <= g_get_real_time() / G_USEC_PER_SEC) {
		previous = NULL;
		until = 0;
	}
	return exm_mail_node_set_account_secrets(node,
						 builder_col(row, "username"),
						 previous,
						 until,
						 builder_epoch(row, "expires_at"),
						 error);
}

/* The tenant's pending release/discard until the node reports its token done
 * (exm-plugin-breaker.c clears it then). */
static gboolean
builder_account_breaker(ExmMailNode *node, const ExmRestRow *row, GError **error)
{
	const gchar *op = builder_col(row, "breaker_op");
	ExmMailBreakerOp value = EXM_MAIL_BREAKER_NONE;

	if (g_str_equal(op, "release"))
		value = EXM_MAIL_BREAKER_RELEASE;
	else if (g_str_equal(op, "discard"))
		value = EXM_MAIL_BREAKER_DISCARD;
	return exm_mail_node_set_account_breaker(
		node,
		builder_col(row, "username"),
		value,
		value != EXM_MAIL_BREAKER_NONE ? exm_rest_row_get(row, "breaker_token") : NULL,
		error);
}

static ExmMailInstance *
builder_row(const ExmRestRow *row)
{
	ExmMailInstance *i = exm_mail_instance_new();
	const gchar *ipsv4 = exm_rest_row_get(row, "ipsv4");

	i->uuid = g_strdup(builder_col(row, "uuid"));
	i->name = g_strdup(builder_col(row, "name"));
	i->project_id = g_strdup(builder_col(row, "project_id"));
	i->domain = g_strdup(builder_col(row, "domain"));
	if (!exm_mail_status_from_string(builder_col(row, "status"), &i->status, NULL))
		i->status = EXM_MAIL_STATUS_NEW;
	exm_rest_row_parse_text_list(ipsv4 != NULL ? ipsv4 : "[]", i->ipsv4);
	i->cpu = g_ascii_strtoll(builder_col(row, "cpu"), NULL, 10);
	i->ram = g_ascii_strtoll(builder_col(row, "ram"), NULL, 10);
	i->disk_size = g_ascii_strtoll(builder_col(row, "disk_size"), NULL, 10);
	i->version = g_strdup(builder_col(row, "version"));
	g_free(i->dkim_public_key);
	g_free(i->dkim_selector);
	i->dkim_public_key = g_strdup(builder_col(row, "dkim_public_key"));
	i->dkim_selector = g_strdup(builder_col(row, "dkim_selector"));
	builder_limits(row, &i->limits);
	return i;
}

/* One row by uuid through the toolkit's store (%NULL row when it is gone). */
static gboolean
builder_load_row(const ExmRestStore *store,
		 const ExmRestModel *model,
		 const gchar *uuid,
		 gboolean for_update,
		 ExmRestRow **out,
		 GError **error)
{
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *sql = exm_rest_sql_load(model,
						  exm_rest_sql_columns(model, FALSE),
						  uuid,
						  NULL,
						  NULL,
						  NULL,
						  for_update,
						  params);

	return exm_rest_store_one(store, model, sql, params, out, error);
}

/* The instance's accounts by username, hashes included. */
static gboolean
builder_load_accounts(const ExmRestStore *store, ExmPluginBuilderInput *in, gchar **out_error)
{
	static const ExmRestParam sort[] = { { "sort_key", "username" } };
	const ExmRestModel *model = &exm_plugin_account_model;
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestListQuery) q = exm_rest_list_query_parse(model, sort, 1, "", &error);
	g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
	const gchar *columns = exm_rest_sql_columns(model, TRUE);
	g_autofree gchar *sql = NULL;
	g_autoptr(PGresult) res = NULL;

	if (q == NULL)
		return builder_fail(out_error, "loading accounts", error);
	exm_rest_list_query_add_filter(q, model, "instance", in->instance->uuid);
	sql = exm_rest_sql_list(q, model, columns, params);
	res = exm_rest_store_exec(store, model, sql, params, &error);
	if (res == NULL)
		return builder_fail(out_error, "loading accounts", error);
	in->accounts = exm_mail_node_new();
	for (gint k = 0; k < PQntuples(res); k++) {
		g_autoptr(ExmRestRow) row = exm_rest_row_new(model, res, k);

		if (!exm_mail_node_add_account(in->accounts,
					       builder_col(row, "username"),
					       builder_col(row, "password_hash"),
					       g_str_equal(builder_col(row, "active"), "true"),
					       &error) ||
		    !builder_account_policy(in->accounts, row, &error) ||
		    !builder_account_secrets(in->accounts, row, &error) ||
		    !builder_account_breaker(in->accounts, row, &error) ||
		    !exm_mail_node_set_account_sandbox(
			    in->accounts,
			    builder_col(row, "username"),
			    g_str_equal(builder_col(row, "sandbox"), "true"),
			    &error))
			return builder_fail(out_error, "account", error);
	}
	return TRUE;
}

/* Column @name of the instance, else of its version (%NULL: neither). */
static gchar *
builder_inherited(const ExmRestRow *row, const ExmRestRow *version, const gchar *name)
{
	const gchar *own = exm_rest_row_get(row, name);

	if (own == NULL && version != NULL)
		own = exm_rest_row_get(version, name);
	return g_strdup(own);
}

/* The directory in effect (docs/tls.md §6): the instance's own while its
 * version allows it, else the version's.  A version whose list changed
 * after the instance named its own refuses nothing of the instance, so it
 * is applied here, where the node's value is made. */
static gchar *
builder_acme_directory(const ExmRestRow *row, const ExmRestRow *version)
{
	const gchar *own = exm_rest_row_get(row, "acme_directory_url");

	if (own != NULL && !exm_plugin_mail_acme_allowed(own, version))
		own = NULL;
	if (own == NULL && version != NULL)
		own = exm_rest_row_get(version, "acme_directory_url");
	return g_strdup(own);
}

/* Locks and reads the instance (NULL input when it is gone), its version's
 * image and, for the node payload only, its accounts. */
static gboolean
builder_load_input(gpointer ctx,
		   PGconn *db,
		   const gchar *uuid,
		   gboolean accounts,
		   gpointer *out_input,
		   gchar **out_error)
{
	ExmRestStore store = { db, NULL, NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmRestRow) row = NULL;
	g_autoptr(ExmRestRow) version = NULL;
	ExmPluginBuilderInput *in;

	*out_input = NULL;
	if (!builder_load_row(&store, &exm_plugin_instance_model, uuid, TRUE, &row, &error))
		return builder_fail(out_error, "loading the instance", error);
	if (row == NULL)
		return TRUE;
	if (!builder_load_row(&store,
			      &exm_plugin_version_model,
			      exm_rest_row_get(row, "version"),
			      FALSE,
			      &version,
			      &error))
		return builder_fail(out_error, "loading the instance", error);
	in = g_new0(ExmPluginBuilderInput, 1);
	in->instance = builder_row(row);
	in->tls.source = g_strdup(exm_rest_row_get(row, "tls_source"));
	in->tls.issuer = g_strdup(exm_rest_row_get(row, "tls_issuer"));
	in->tls.not_after = g_strdup(exm_rest_row_get(row, "tls_not_after"));
	in->tls.error = g_strdup(exm_rest_row_get(row, "tls_error"));
	in->image = g_strdup(version != NULL ? builder_col(version, "image") : "");
	in->acme_directory_url = builder_acme_directory(row, version);
	in->acme_contact = builder_inherited(row, version, "acme_contact");
	if (ctx != NULL)
		in->infra_project = g_strdup(((const ExmPlugin *)ctx)->infra_project);
	if (accounts && (!builder_load_accounts(&store, in, out_error) ||
			 !exm_plugin_usage_load(db, in, out_error) ||
			 !exm_plugin_breaker_load(db, in, out_error) ||
			 !exm_plugin_capture_load(db, in, out_error) ||
			 !exm_plugin_certificate_load(db, in, out_error))) {
		exm_plugin_builder_input_free(in);
		return FALSE;
	}
	*out_input = in;
	return TRUE;
}

/* The infra targets need no account: 100 000 of them are a payload's worth. */
static gboolean
builder_load_iaas(gpointer ctx,
		  PGconn *db,
		  const gchar *uuid,
		  gpointer *out_input,
		  gchar **out_error)
{
	return builder_load_input(ctx, db, uuid, FALSE, out_input, out_error);
}

static gboolean
builder_load_paas(gpointer ctx,
		  PGconn *db,
		  const gchar *uuid,
		  gpointer *out_input,
		  gchar **out_error)
{
	return builder_load_input(ctx, db, uuid, TRUE, out_input, out_error);
}

/* ------------------------------------------------------------------ apply */

/* The patch's members as the columns to write. */
static gboolean
builder_patch_sets(const gchar *patch, GPtrArray *sets)
{
	const ExmRestModel *model = &exm_plugin_instance_model;
	g_autoptr(JsonObject) obj = exm_json_parse_object(patch, strlen(patch), NULL);
	const gchar *status = NULL;
	const gchar *key = NULL;
	const gchar *selector = NULL;
	JsonArray *list = NULL;
	g_autofree gchar *ips = NULL;

	if (obj == NULL || !exm_json_get_string(obj, "status", FALSE, &status, NULL, NULL) ||
	    !exm_json_get_string(obj, "dkim_public_key", FALSE, &key, NULL, NULL) ||
	    !exm_json_get_string(obj, "dkim_selector", FALSE, &selector, NULL, NULL) ||
	    !exm_json_get_array(obj, "ipsv4", &list, NULL, NULL) || status == NULL || key == NULL ||
	    selector == NULL || list == NULL)
		return FALSE;
	ips = exm_json_to_string(json_object_get_member(obj, "ipsv4"));
	exm_rest_set_put(sets, model, "status", status);
	exm_rest_set_put(sets, model, "ipsv4", ips);
	exm_rest_set_put(sets, model, "dkim_public_key", key);
	exm_rest_set_put(sets, model, "dkim_selector", selector);
	return TRUE;
}

/* The instance's own members of the patch, when it has them (a patch may
 * carry only a usage, tls or breaker report, which must not bump the instance). */
static gboolean
builder_apply_instance(const ExmPluginBuilderInput *in,
		       PGconn *db,
		       const gchar *patch,
		       gchar **out_error)
{
	ExmRestStore store = { db, NULL, NULL };
	g_autoptr(GPtrArray) sets = exm_rest_set_list_new();
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autofree gchar *now = g_strdup_printf("%" G_GINT64_FORMAT, g_get_real_time());
	g_autofree gchar *sql = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) res = NULL;

	if (!builder_patch_sets(patch, sets)) {
		*out_error = g_strdup("malformed instance patch");
		return FALSE;
	}
	sql = exm_rest_sql_update(
		&exm_plugin_instance_model, sets, now, in->instance->uuid, params);
	res = exm_rest_store_exec(&store, &exm_plugin_instance_model, sql, params, &error);
	if (res == NULL)
		return builder_fail(out_error, "patching the instance", error);
	return TRUE;
}

/* The patch is our own output, but it went through the host: check it again. */
static gboolean
builder_apply(gpointer ctx, PGconn *db, gconstpointer input, const gchar *patch, gchar **out_error)
{
	const ExmPluginBuilderInput *in = input;
	g_autoptr(JsonObject) obj = exm_json_parse_object(patch, strlen(patch), NULL);
	JsonObject *usage = NULL;
	JsonObject *tls = NULL;
	JsonObject *breaker = NULL;

	if (obj == NULL || !exm_json_get_object(obj, EXM_PLUGIN_USAGE_PATCH, &usage, NULL, NULL) ||
	    !exm_json_get_object(obj, EXM_PLUGIN_TLS_PATCH, &tls, NULL, NULL) ||
	    !exm_json_get_object(obj, EXM_PLUGIN_BREAKER_PATCH, &breaker, NULL, NULL)) {
		*out_error = g_strdup("malformed instance patch");
		return FALSE;
	}
	if (json_object_has_member(obj, "status") &&
	    !builder_apply_instance(in, db, patch, out_error))
		return FALSE;
	if (tls != NULL && !exm_plugin_tls_store(db, in, tls, out_error))
		return FALSE;
	if (breaker != NULL && !exm_plugin_breaker_store(db, in, breaker, out_error))
		return FALSE;
	if (!exm_plugin_capture_apply(db, in, obj, out_error))
		return FALSE;
	return usage == NULL || exm_plugin_usage_store(db, in, usage, out_error);
}

/* ------------------------------------------------------------------ the view */

static JsonNode *
builder_parse(const gchar *text)
{
	JsonNode *node = text != NULL ? exm_json_parse_strict(text, strlen(text), NULL) : NULL;

	if (node != NULL && !JSON_NODE_HOLDS_OBJECT(node))
		g_clear_pointer(&node, json_node_unref);
	return node;
}

static gint
builder_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* Node uuids of the actual set (sorted) and their valid addresses. */
static void
builder_seen_nodes(ExmPluginBuilderSeen *seen)
{
	JsonObject *nodes = NULL;
	g_autoptr(GList) keys = NULL;

	if (seen->ns_actual == NULL ||
	    !exm_json_get_object(
		    json_node_get_object(seen->ns_actual), "nodes", &nodes, NULL, NULL) ||
	    nodes == NULL)
		return;
	keys = json_object_get_members(nodes);
	for (GList *l = keys; l != NULL; l = l->next) {
		if (exm_uuid_is_valid(l->data))
			g_ptr_array_add(seen->nodes, g_ascii_strdown(l->data, -1));
	}
	g_ptr_array_sort(seen->nodes, builder_cmp);
	for (guint k = 0; k < seen->nodes->len; k++) {
		JsonObject *node = NULL;
		const gchar *ip = NULL;

		if (!exm_json_get_object(nodes, seen->nodes->pdata[k], &node, NULL, NULL) ||
		    node == NULL || !exm_json_get_string(node, "ipv4", TRUE, &ip, NULL, NULL))
			continue;
		if (ip != NULL && exm_mail_validate_ipv4(ip, NULL))
			g_ptr_array_add(seen->ips, g_strdup(ip));
	}
}

ExmPluginBuilderSeen *
exm_plugin_builder_seen_new(const ExordosPaasBuildView *view)
{
	ExmPluginBuilderSeen *seen = g_new0(ExmPluginBuilderSeen, 1);

	seen->nodes = g_ptr_array_new_with_free_func(g_free);
	seen->ips = g_ptr_array_new_with_free_func(g_free);
	for (guint k = 0; view->pairs != NULL && view->pairs[k] != NULL; k++) {
		const ExordosPaasResource *t = view->pairs[k]->target;
		const ExordosPaasResource *a = view->pairs[k]->actual;

		if (t == NULL)
			continue;
		if (g_str_equal(t->kind, EXM_PLUGIN_KIND_NODE_SET) &&
		    g_strcmp0(t->uuid, view->instance_uuid) == 0) {
			seen->ns_target = builder_parse(t->value);
			seen->ns_actual = a != NULL ? builder_parse(a->value) : NULL;
			seen->ns_status = a != NULL ? a->status : NULL;
		} else if (g_str_equal(t->kind, EXM_PLUGIN_KIND_NODE) &&
			   seen->node_target_hash == NULL) {
			seen->node_target_hash = t->hash;
			seen->node_actual = a != NULL ? builder_parse(a->value) : NULL;
			seen->node_status = a != NULL ? a->status : NULL;
			seen->node_hash = a != NULL ? a->hash : NULL;
		}
	}
	builder_seen_nodes(seen);
	return seen;
}

void
exm_plugin_builder_seen_free(ExmPluginBuilderSeen *seen)
{
	if (seen == NULL)
		return;
	g_clear_pointer(&seen->ns_target, json_node_unref);
	g_clear_pointer(&seen->ns_actual, json_node_unref);
	g_clear_pointer(&seen->node_actual, json_node_unref);
	g_ptr_array_unref(seen->nodes);
	g_ptr_array_unref(seen->ips);
	g_free(seen);
}

/* ------------------------------------------------------------------ the patch */

/* DKIM TXT data from the DP: printable ASCII, nothing that could break a
 * zone-file string, bounded. */
static gboolean
builder_dkim_ok(const gchar *key)
{
	gsize len = strlen(key);

	if (len == 0 || len > DKIM_MAX)
		return FALSE;
	for (gsize k = 0; k < len; k++) {
		if (key[k] < 0x20 || key[k] > 0x7e || key[k] == '"' || key[k] == '\\')
			return FALSE;
	}
	return TRUE;
}

/* The DKIM pair the node reports, when it is valid and non-empty. */
static void
builder_dkim(const ExmPluginBuilderInput *in,
	     const ExmPluginBuilderSeen *seen,
	     const gchar **key,
	     const gchar **selector)
{
	JsonObject *obj =
		seen->node_actual != NULL ? json_node_get_object(seen->node_actual) : NULL;
	const gchar *k = NULL;
	const gchar *s = NULL;

	*key = in->instance->dkim_public_key;
	*selector = in->instance->dkim_selector;
	if (obj == NULL || !exm_json_get_string(obj, "dkim_public_key", FALSE, &k, NULL, NULL) ||
	    !exm_json_get_string(obj, "dkim_selector", FALSE, &s, NULL, NULL) || k == NULL ||
	    s == NULL || !builder_dkim_ok(k) || !exm_mail_validate_selector(s, NULL))
		return;
	*key = k;
	*selector = s;
}

/* docs/architecture.md §2 step 6. */
static ExmMailStatus
builder_status(const ExmPluginBuilderInput *in,
	       const ExmPluginBuilderSeen *seen,
	       gboolean infra_requested,
	       const gchar *node_hash,
	       const gchar *dkim)
{
	const gchar *want = node_hash != NULL ? node_hash : seen->node_target_hash;

	if (g_strcmp0(seen->ns_status, "ERROR") == 0 || g_strcmp0(seen->node_status, "ERROR") == 0)
		return EXM_MAIL_STATUS_ERROR;
	if (g_strcmp0(seen->ns_status, "ACTIVE") == 0 && want != NULL &&
	    g_strcmp0(seen->node_hash, want) == 0 && g_strcmp0(seen->node_status, "ACTIVE") == 0 &&
	    *dkim != '\0')
		return EXM_MAIL_STATUS_ACTIVE;
	if (infra_requested)
		return EXM_MAIL_STATUS_IN_PROGRESS;
	return in->instance->status;
}

static gboolean
builder_same_ips(const GPtrArray *a, const GPtrArray *b)
{
	if (a->len != b->len)
		return FALSE;
	for (guint k = 0; k < a->len; k++) {
		if (!g_str_equal(a->pdata[k], b->pdata[k]))
			return FALSE;
	}
	return TRUE;
}

gchar *
exm_plugin_builder_desired(const ExmPluginBuilderInput *in,
			   const ExmPluginBuilderSeen *seen,
			   gboolean infra_requested,
			   const gchar *node_hash,
			   const gchar **out_status)
{
	const GPtrArray *ips = seen->ns_actual != NULL ? seen->ips : in->instance->ipsv4;
	const gchar *key = NULL;
	const gchar *selector = NULL;
	ExmMailStatus status;
	g_autoptr(JsonBuilder) b = NULL;
	g_autoptr(JsonNode) root = NULL;

	builder_dkim(in, seen, &key, &selector);
	status = builder_status(in, seen, infra_requested, node_hash, key);
	*out_status = exm_mail_status_to_string(status);
	if (status == in->instance->status && builder_same_ips(ips, in->instance->ipsv4) &&
	    g_str_equal(key, in->instance->dkim_public_key) &&
	    g_str_equal(selector, in->instance->dkim_selector))
		return NULL;
	b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "status");
	json_builder_add_string_value(b, *out_status);
	json_builder_set_member_name(b, "ipsv4");
	json_builder_begin_array(b);
	for (guint k = 0; k < ips->len; k++)
		json_builder_add_string_value(b, ips->pdata[k]);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "dkim_public_key");
	json_builder_add_string_value(b, key);
	json_builder_set_member_name(b, "dkim_selector");
	json_builder_add_string_value(b, selector);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	return exm_json_to_string(root);
}

gchar *
exm_plugin_builder_patch_add(gchar *patch, const gchar *name, JsonNode *value)
{
	g_autoptr(JsonObject) obj = patch != NULL
					    ? exm_json_parse_object(patch, strlen(patch), NULL)
					    : json_object_new();
	g_autoptr(JsonNode) root = NULL;

	g_free(patch);
	if (obj == NULL) {
		json_node_unref(value);
		return NULL;
	}
	json_object_set_member(obj, name, value);
	root = json_node_init_object(json_node_alloc(), obj);
	return exm_json_to_string(root);
}

/* Target fields of upstream's infra (uuid, name, cpu, ram, disk_size, version,
 * project_id) and paas (uuid, name) MailInstance (docs/mail.md §1.4). */
gchar *
exm_plugin_builder_instance_value(const ExmPluginBuilderInput *in, gboolean iaas)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "uuid");
	json_builder_add_string_value(b, in->instance->uuid);
	json_builder_set_member_name(b, "name");
	json_builder_add_string_value(b, in->instance->name);
	if (iaas) {
		json_builder_set_member_name(b, "cpu");
		json_builder_add_int_value(b, in->instance->cpu);
		json_builder_set_member_name(b, "ram");
		json_builder_add_int_value(b, in->instance->ram);
		json_builder_set_member_name(b, "disk_size");
		json_builder_add_int_value(b, in->instance->disk_size);
		json_builder_set_member_name(b, "version");
		json_builder_add_string_value(b, in->instance->version);
		json_builder_set_member_name(b, "project_id");
		json_builder_add_string_value(b, in->instance->project_id);
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	return exm_json_canonical(root);
}

/* ------------------------------------------------------------------ descriptors */

static const gchar *const exm_plugin_builder_iaas_kinds[] = {
	EXM_PLUGIN_KIND_NODE_SET,
	EXM_PLUGIN_KIND_CONFIG,
	NULL,
};
static const gchar *const exm_plugin_builder_paas_kinds[] = {
	EXM_PLUGIN_KIND_NODE,
	NULL,
};

static const ExordosPaasBuilder exm_plugin_builder_iaas = {
	.struct_size = sizeof(ExordosPaasBuilder),
	.kind = EXM_PLUGIN_KIND_IAAS,
	.table = "mail_instances",
	.derivative_kinds = exm_plugin_builder_iaas_kinds,
	.master_kind = NULL,
	.load = builder_load_iaas,
	.input_free = exm_plugin_builder_input_free,
	.build = exm_plugin_builder_infra_build,
	.apply = builder_apply,
};

static const ExordosPaasBuilder exm_plugin_builder_paas = {
	.struct_size = sizeof(ExordosPaasBuilder),
	.kind = EXM_PLUGIN_KIND_PAAS,
	.table = "mail_instances",
	.derivative_kinds = exm_plugin_builder_paas_kinds,
	.master_kind = EXM_PLUGIN_KIND_NODE_SET,
	.load = builder_load_paas,
	.input_free = exm_plugin_builder_input_free,
	.build = exm_plugin_builder_paas_build,
	.apply = builder_apply,
};

static const ExordosPaasBuilder *const exm_plugin_builder_list[] = {
	&exm_plugin_builder_iaas,
	&exm_plugin_builder_paas,
	NULL,
};

const ExordosPaasBuilders exm_plugin_builders = {
	.struct_size = sizeof(ExordosPaasBuilders),
	.builders = exm_plugin_builder_list,
};
