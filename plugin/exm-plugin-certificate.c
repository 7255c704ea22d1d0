/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A tenant's own certificate (docs/tls.md §3): the instance's invoke actions
 * and the builder's read of the stored pair.  The key arrives in the body
 * only (never the URL), is checked by exm_mail_cert_check() against the
 * instance's smtp_hostname, stored, and every buffer of ours that held it is
 * wiped; the answers carry the certificate's public facts only.
 */
#include "exm-plugin-certificate.h"

#include <string.h>

#include "exm-json.h"
#include "exm-mail-cert.h"
#include "exm-mail-dns.h"
#include "exm-mail-error.h"
#include "exm-plugin-private.h"
#include "exm-secret.h"
#include "exm-time.h"

static const gchar *const cert_secrets[] = { "key", NULL };
static const gchar *const cert_arguments[] = { "chain", "key", NULL };

/* ------------------------------------------------------------------ SQL */

static const gchar cert_same_sql[] =
	"SELECT (chain = $2 AND key = $3)::text FROM mail_instance_certificates WHERE "
	"instance = $1::uuid";

static const gchar cert_upsert_sql[] =
	"INSERT INTO mail_instance_certificates (instance, chain, key, fingerprint, not_after, "
	"updated_at) VALUES ($1::uuid, $2, $3, $4, TIMESTAMP 'epoch' + $5::bigint * INTERVAL "
	"'1 second', TIMESTAMP 'epoch' + $6::bigint * INTERVAL '1 microsecond') ON CONFLICT "
	"(instance) DO UPDATE SET chain = EXCLUDED.chain, key = EXCLUDED.key, fingerprint = "
	"EXCLUDED.fingerprint, not_after = EXCLUDED.not_after, updated_at = EXCLUDED.updated_at";

static const gchar cert_delete_sql[] =
	"DELETE FROM mail_instance_certificates WHERE instance = $1::uuid";

/* the builder's read: the only statement that selects the key */
static const gchar cert_load_sql[] =
	"SELECT chain, key FROM mail_instance_certificates WHERE instance = $1::uuid";

/* Parameters are wiped when freed: the key is one of them. */
static GPtrArray *
cert_params(const gchar *instance)
{
	GPtrArray *params = g_ptr_array_new_with_free_func((GDestroyNotify)exm_secret_free);

	g_ptr_array_add(params, g_strdup(instance));
	return params;
}

static PGresult *
cert_exec(const ExmRestStore *store, const gchar *sql, GPtrArray *params, GError **error)
{
	return exm_rest_store_exec(store, &exm_plugin_instance_model, sql, params, error);
}

/* ------------------------------------------------------------------ arguments */

static gboolean
cert_invalid(GError **error, const gchar *message)
{
	g_set_error_literal(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, message);
	return FALSE;
}

/* Only the arguments the action takes (none for the removal); a misspelt one
 * is not ignored.  The names are echoed, never the values. */
static gboolean
cert_known(const gchar *action, JsonObject *kwargs, const gchar *const *known, GError **error)
{
	g_autoptr(GList) names = json_object_get_members(kwargs);

	for (GList *l = names; l != NULL; l = l->next) {
		if (g_strv_contains(known, l->data))
			continue;
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "%s: unknown argument '%s'; %s",
			    action,
			    g_utf8_validate(l->data, -1, NULL) ? (const gchar *)l->data
							       : "<invalid utf-8>",
			    known[0] != NULL ? "send chain and key" : "the action takes none");
		return FALSE;
	}
	return TRUE;
}

/* A required non-empty string argument. */
static const gchar *
cert_string(JsonObject *kwargs, const gchar *name, GError **error)
{
	JsonNode *n = json_object_get_member(kwargs, name);

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) ||
	    json_node_get_value_type(n) != G_TYPE_STRING || *json_node_get_string(n) == '\0') {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "%s: is required, a non-empty string of PEM",
			    name);
		return NULL;
	}
	return json_node_get_string(n);
}

/* A secret in the URL would reach access logs and proxies. */
static gboolean
cert_not_in_url(ExmRestCrud *r, GError **error)
{
	for (gsize i = 0; i < r->n_query; i++) {
		if (g_strv_contains(cert_arguments, r->query[i].key)) {
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

/* ------------------------------------------------------------------ answers */

/* The certificate's public facts, never the key. */
static JsonNode *
cert_answer(const gchar *hostname, const ExmMailCertInfo *info, const gchar *fingerprint)
{
	g_autoptr(JsonObject) o = json_object_new();
	g_autofree gchar *not_after = exm_time_format(info->not_after * G_USEC_PER_SEC);

	json_object_set_string_member(o, "smtp_hostname", hostname);
	json_object_set_string_member(o, "subject", info->subject);
	json_object_set_string_member(o, "issuer", info->issuer);
	json_object_set_string_member(o, "not_after", not_after);
	json_object_set_string_member(o, "key_type", info->key_type);
	json_object_set_string_member(o, "fingerprint_sha256", fingerprint);
	return json_node_init_object(json_node_alloc(), o);
}

/* ------------------------------------------------------------------ store */

/* Whether the stored pair is exactly @chain and @key (an unchanged
 * resubmission writes nothing, so the node value does not move). */
static gboolean
cert_same(ExmRestCrud *r, const gchar *chain, const gchar *key, gboolean *same, GError **error)
{
	g_autoptr(GPtrArray) params = cert_params(r->match->id);
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, g_strdup(chain));
	g_ptr_array_add(params, g_strdup(key));
	res = cert_exec(&r->store, cert_same_sql, params, error);
	if (res == NULL)
		return FALSE;
	*same = PQntuples(res) == 1 && g_str_equal(PQgetvalue(res, 0, 0), "true");
	return TRUE;
}

/* The row, then the instance's updated_at, which makes the builder run. */
static gboolean
cert_write(ExmRestCrud *r,
	   const gchar *chain,
	   const gchar *key,
	   const ExmMailCertInfo *info,
	   const gchar *fingerprint,
	   GError **error)
{
	g_autoptr(GPtrArray) params = cert_params(r->match->id);
	g_autoptr(PGresult) res = NULL;

	g_ptr_array_add(params, g_strdup(chain));
	g_ptr_array_add(params, g_strdup(key));
	g_ptr_array_add(params, g_strdup(fingerprint));
	g_ptr_array_add(params, g_strdup_printf("%" G_GINT64_FORMAT, info->not_after));
	g_ptr_array_add(params, g_strdup_printf("%" G_GINT64_FORMAT, r->now));
	res = cert_exec(&r->store, cert_upsert_sql, params, error);
	return res != NULL &&
	       exm_rest_store_touch(
		       &r->store, &exm_plugin_instance_model, r->match->id, r->now, error);
}

/* ------------------------------------------------------------------ actions */

/* The instance, locked and visible to the caller (404 otherwise), and the
 * name its certificate must cover. */
static gchar *
cert_instance(ExmRestCrud *r, const ExmRestKind *kind, GError **error)
{
	g_autoptr(ExmRestRow) row = NULL;
	const gchar *host;

	if (!exm_rest_store_lock(&r->store, kind->model, r->match->id, error))
		return NULL;
	row = exm_rest_crud_load(r, kind, r->match->id, TRUE, error);
	if (row == NULL)
		return NULL;
	host = exm_rest_row_get(row, "smtp_hostname");
	if (host != NULL && *host != '\0')
		return g_strdup(host);
	return exm_mail_dns_primary_hostname(exm_rest_row_get(row, "domain"));
}

static gboolean
cert_put(ExmRestCrud *r, const ExmRestKind *kind, JsonObject *kwargs, GError **error)
{
	ExmMailCertInfo info = { 0 };
	g_autofree gchar *host = NULL;
	g_autofree gchar *fingerprint = NULL;
	const gchar *chain, *key;
	gboolean same = FALSE;
	gboolean ok;

	if (!cert_known(EXM_PLUGIN_CERTIFICATE, kwargs, cert_arguments, error) ||
	    (chain = cert_string(kwargs, "chain", error)) == NULL ||
	    (key = cert_string(kwargs, "key", error)) == NULL)
		return FALSE;
	host = cert_instance(r, kind, error);
	if (host == NULL ||
	    !exm_mail_cert_check(
		    chain, key, strlen(key), host, r->now / G_USEC_PER_SEC, &info, error))
		return FALSE;
	fingerprint = exm_mail_cert_fingerprint(chain, strlen(chain));
	if (fingerprint == NULL) {
		exm_mail_cert_info_clear(&info);
		return cert_invalid(error, "certificate: no PEM certificate found");
	}
	ok = cert_same(r, chain, key, &same, error) &&
	     (same || cert_write(r, chain, key, &info, fingerprint, error));
	if (ok) {
		g_autoptr(JsonNode) answer = cert_answer(host, &info, fingerprint);

		exm_rest_response_set_json(r->resp, 200, answer);
	}
	exm_mail_cert_info_clear(&info);
	return ok;
}

/* Back to the node's own certificate: idempotent, 204 either way; only a
 * deleted row moves the instance. */
static gboolean
cert_remove(ExmRestCrud *r, const ExmRestKind *kind, JsonObject *kwargs, GError **error)
{
	static const gchar *const none[] = { NULL };
	g_autoptr(GPtrArray) params = cert_params(r->match->id);
	g_autoptr(PGresult) res = NULL;
	g_autofree gchar *host = NULL;

	if (!cert_known(EXM_PLUGIN_CERTIFICATE_REMOVE, kwargs, none, error))
		return FALSE;
	host = cert_instance(r, kind, error);
	if (host == NULL)
		return FALSE;
	res = cert_exec(&r->store, cert_delete_sql, params, error);
	if (res == NULL)
		return FALSE;
	if (g_strcmp0(PQcmdTuples(res), "0") != 0 &&
	    !exm_rest_store_touch(
		    &r->store, &exm_plugin_instance_model, r->match->id, r->now, error))
		return FALSE;
	exm_rest_response_set_json(r->resp, 204, NULL);
	return TRUE;
}

void
exm_plugin_certificate_action(ExmRestCrud *r, const ExmRestKind *kind)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) kwargs = NULL;
	gboolean put = g_strcmp0(r->match->action, EXM_PLUGIN_CERTIFICATE) == 0;

	if (exm_rest_crud_enforce(r, kind->policy, "update", &error) && cert_not_in_url(r, &error))
		kwargs = exm_rest_crud_action_kwargs(r, cert_secrets, &error);
	if (kwargs == NULL ||
	    !(put ? cert_put(r, kind, kwargs, &error) : cert_remove(r, kind, kwargs, &error)))
		exm_rest_response_set_error(r->resp, error);
	exm_json_wipe_members(kwargs, cert_secrets);
}

/* ------------------------------------------------------------------ builder */

gboolean
exm_plugin_certificate_load(PGconn *db, ExmPluginBuilderInput *in, gchar **out_error)
{
	ExmRestStore store = { db, NULL, NULL };
	g_autoptr(GPtrArray) params = cert_params(in->instance->uuid);
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) res = cert_exec(&store, cert_load_sql, params, &error);

	g_clear_pointer(&in->tls_custom_chain, g_free);
	g_clear_pointer(&in->tls_custom_key, exm_secret_free);
	if (res == NULL) {
		*out_error = g_strdup_printf("loading the certificate: %s", error->message);
		return FALSE;
	}
	if (PQntuples(res) == 0)
		return TRUE;
	in->tls_custom_chain = g_strdup(PQgetvalue(res, 0, 0));
	in->tls_custom_key = g_strdup(PQgetvalue(res, 0, 1));
	/* libpq's copy of the key: wiped before PQclear frees it */
	exm_secret_wipe(PQgetvalue(res, 0, 1), (gsize)PQgetlength(res, 0, 1));
	return TRUE;
}
