/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The served certificate on the instance (docs/tls.md §4): the node's report
 * checked, copied onto the instance by the paas builder when it changed, and
 * the warnings of verify_dns's readiness answer.
 */
#include "exm-plugin-tls.h"

#include <string.h>

#include "exm-cleanup.h"
#include "exm-json.h"
#include "exm-plugin-private.h"
#include "exm-time.h"

const gchar *const exm_plugin_tls_sources[] = { "self_signed", "acme", "custom", NULL };

void
exm_plugin_tls_status_clear(ExmPluginTlsStatus *tls)
{
	g_clear_pointer(&tls->source, g_free);
	g_clear_pointer(&tls->issuer, g_free);
	g_clear_pointer(&tls->not_after, g_free);
	g_clear_pointer(&tls->error, g_free);
}

/* ------------------------------------------------------------------ checks */

/* 1 to @max bytes of UTF-8 with no control character (a line break in an
 * issuer would forge lines wherever it is shown). */
static gboolean
text_ok(const gchar *s, gsize max)
{
	gsize len = strlen(s);

	if (len == 0 || len > max || !g_utf8_validate(s, (gssize)len, NULL))
		return FALSE;
	for (const gchar *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (g_unichar_iscntrl(c) || c == 0x2028 || c == 0x2029)
			return FALSE;
	}
	return TRUE;
}

/* Member @name: absent (or null) is fine, a string must pass text_ok(). */
static gboolean
optional_text(JsonObject *o, const gchar *name, gsize max, const gchar **out)
{
	*out = NULL;
	if (!exm_json_get_string(o, name, TRUE, out, NULL, NULL))
		return FALSE;
	return *out == NULL || text_ok(*out, max);
}

gboolean
exm_plugin_tls_parse(JsonObject *tls, ExmPluginTlsStatus *out)
{
	const gchar *source = NULL;
	const gchar *issuer = NULL;
	const gchar *subject = NULL;
	const gchar *not_after = NULL;
	const gchar *error = NULL;
	gint64 t = 0;

	memset(out, 0, sizeof(*out));
	if (tls == NULL || !exm_json_get_string(tls, "source", FALSE, &source, NULL, NULL) ||
	    source == NULL || !g_strv_contains(exm_plugin_tls_sources, source) ||
	    !optional_text(tls, "issuer", EXM_PLUGIN_TLS_NAME_MAX, &issuer) ||
	    !optional_text(tls, "subject", EXM_PLUGIN_TLS_NAME_MAX, &subject) ||
	    !optional_text(tls, "error", EXM_PLUGIN_TLS_ERROR_MAX, &error) ||
	    !exm_json_get_string(tls, "not_after", TRUE, &not_after, NULL, NULL))
		return FALSE;
	if (not_after != NULL && !exm_time_parse(not_after, &t))
		return FALSE;
	/* a certificate is described by both, or the error says why not */
	if ((issuer == NULL) != (not_after == NULL) || (issuer == NULL && error == NULL))
		return FALSE;
	out->source = g_strdup(source);
	out->issuer = g_strdup(issuer);
	out->not_after = not_after != NULL ? g_strdup_printf("%" G_GINT64_FORMAT, t) : NULL;
	out->error = g_strdup(error);
	return TRUE;
}

/* ------------------------------------------------------------------ builder */

static gboolean
tls_equal(const ExmPluginTlsStatus *a, const ExmPluginTlsStatus *b)
{
	return g_strcmp0(a->source, b->source) == 0 && g_strcmp0(a->issuer, b->issuer) == 0 &&
	       g_strcmp0(a->not_after, b->not_after) == 0 && g_strcmp0(a->error, b->error) == 0;
}

/* The report as the patch carries it: the columns' values, times as text. */
static JsonNode *
tls_patch_member(const ExmPluginTlsStatus *report)
{
	g_autoptr(JsonObject) o = json_object_new();
	g_autofree gchar *when = NULL;

	json_object_set_string_member(o, "source", report->source);
	if (report->not_after != NULL)
		when = exm_time_format(g_ascii_strtoll(report->not_after, NULL, 10));
	json_object_set_string_member(o, "issuer", report->issuer);
	json_object_set_string_member(o, "not_after", when);
	json_object_set_string_member(o, "error", report->error);
	return json_node_init_object(json_node_alloc(), o);
}

gchar *
exm_plugin_tls_patch(const ExmPluginBuilderInput *in,
		     const ExmPluginBuilderSeen *seen,
		     gchar *patch)
{
	JsonObject *actual =
		seen->node_actual != NULL ? json_node_get_object(seen->node_actual) : NULL;
	JsonObject *tls = NULL;
	ExmPluginTlsStatus report = { 0 };
	gboolean same;

	/* an agent from before issue 22 reports none; a bad report is not taken */
	if (actual == NULL ||
	    !exm_json_get_object(actual, EXM_PLUGIN_TLS_PATCH, &tls, NULL, NULL) || tls == NULL ||
	    !exm_plugin_tls_parse(tls, &report))
		return patch;
	same = tls_equal(&report, &in->tls);
	if (!same)
		patch = exm_plugin_builder_patch_add(
			patch, EXM_PLUGIN_TLS_PATCH, tls_patch_member(&report));
	exm_plugin_tls_status_clear(&report);
	return patch;
}

/* Only when a column differs: two builders may apply the same report. */
static const gchar tls_store_sql[] =
	"UPDATE mail_instances SET tls_source = $2, tls_issuer = $3, tls_not_after = "
	"TIMESTAMP 'epoch' + $4::bigint * INTERVAL '1 microsecond', tls_error = $5 WHERE uuid "
	"= $1::uuid AND (tls_source, tls_issuer, tls_not_after, tls_error) IS DISTINCT FROM "
	"($2, $3, TIMESTAMP 'epoch' + $4::bigint * INTERVAL '1 microsecond', $5)";

gboolean
exm_plugin_tls_store(PGconn *db,
		     const ExmPluginBuilderInput *in,
		     JsonObject *tls,
		     gchar **out_error)
{
	ExmRestStore store = { db, NULL, NULL };
	ExmPluginTlsStatus report = { 0 };
	g_autoptr(GPtrArray) params = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) res = NULL;

	if (!exm_plugin_tls_parse(tls, &report)) {
		*out_error = g_strdup("malformed tls report");
		return FALSE;
	}
	g_ptr_array_add(params, in->instance->uuid);
	g_ptr_array_add(params, report.source);
	g_ptr_array_add(params, report.issuer);
	g_ptr_array_add(params, report.not_after);
	g_ptr_array_add(params, report.error);
	res = exm_rest_store_exec(
		&store, &exm_plugin_instance_model, tls_store_sql, params, &error);
	exm_plugin_tls_status_clear(&report);
	if (res != NULL)
		return TRUE;
	*out_error = g_strdup_printf("storing the tls status: %s", error->message);
	return FALSE;
}

/* ------------------------------------------------------------------ readiness */

static void
warn(JsonArray *warnings, const gchar *code, const gchar *message)
{
	JsonObject *w = json_object_new();

	json_object_set_string_member(w, "code", code);
	json_object_set_string_member(w, "message", message);
	json_array_add_object_element(warnings, w);
}

void
exm_plugin_tls_warnings(const ExmRestRow *row, gint64 now, JsonArray *warnings)
{
	const gchar *source = exm_rest_row_get(row, "tls_source");
	const gchar *raw = exm_rest_row_get(row, "tls_not_after");
	const gchar *error = exm_rest_row_get(row, "tls_error");
	gint64 left;
	g_autofree gchar *when = NULL;
	g_autofree gchar *message = NULL;

	if (error != NULL) {
		message = g_strdup_printf("the node reports a certificate error: %s", error);
		warn(warnings, "tls_error", message);
		g_clear_pointer(&message, g_free);
	}
	if (raw == NULL)
		return;
	left = g_ascii_strtoll(raw, NULL, 10) - now;
	when = exm_time_format(g_ascii_strtoll(raw, NULL, 10));
	if (left <= 0)
		message = g_strdup_printf("the certificate the node serves (%s) expired at %s; "
					  "clients that verify it refuse to connect",
					  source != NULL ? source : "unknown",
					  when);
	else if (left < (gint64)EXM_PLUGIN_TLS_WARN_DAYS * 86400 * G_USEC_PER_SEC)
		message = g_strdup_printf("the certificate the node serves (%s) expires at %s, "
					  "in less than %d days",
					  source != NULL ? source : "unknown",
					  when,
					  EXM_PLUGIN_TLS_WARN_DAYS);
	if (message != NULL)
		warn(warnings, left <= 0 ? "tls_expired" : "tls_expiring", message);
}
