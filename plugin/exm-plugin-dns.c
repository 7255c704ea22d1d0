/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * `GET /v1/types/mail/instances/<uuid>/actions/dns_records`: the SPF, DKIM,
 * DMARC, MX and PTR records to publish for an instance (the seed README's DNS
 * guidance), as JSON records plus zone-file text, from its domain, `ipsv4` and
 * DKIM key.  IAM `exordos_mail.mail_instance.read`, project-scoped like a GET.
 */
#include "exm-plugin-builder.h"

#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-mail-files.h"

static gboolean
exm_plugin_dns_answer(ExmPluginRequest *r, const gchar *uuid, GError **error)
{
	const gchar *params[] = { uuid };
	g_autoptr(PGresult) res = PQexecParams(r->db,
					       "SELECT domain, COALESCE(array_to_json(ipsv4), "
					       "'[]')::text, dkim_selector, dkim_public_key FROM "
					       "mail_instances WHERE uuid = $1",
					       1,
					       NULL,
					       params,
					       NULL,
					       NULL,
					       0);
	g_autoptr(GPtrArray) ips = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(JsonNode) records = NULL;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		g_set_error_literal(
			error, EXM_ERROR, EXM_ERROR_FAILED, "loading the instance failed");
		return FALSE;
	}
	exm_plugin_store_parse_text_list(PQgetvalue(res, 0, 1), ips);
	g_ptr_array_add(ips, NULL);
	records = exm_mail_dns_records(PQgetvalue(res, 0, 0),
				       (const gchar *const *)ips->pdata,
				       PQgetvalue(res, 0, 2),
				       PQgetvalue(res, 0, 3));
	exm_rest_response_set_json(r->resp, 200, records);
	return TRUE;
}

static gboolean
exm_plugin_dns_serve(ExmPluginRequest *r, const ExmPluginKind *kind, GError **error)
{
	g_autoptr(ExmPluginRow) row = NULL;

	/* the walk loaded the instance already (read policy, project scope); load
	 * it again only if a future route skips that */
	if (!exm_plugin_enforce(r, kind->policy, "read", error))
		return FALSE;
	if (r->parent == NULL) {
		row = exm_plugin_crud_load(r, kind, r->match->id, FALSE, error);
		if (row == NULL)
			return FALSE;
	}
	return exm_plugin_dns_answer(r, r->match->id, error);
}

void
exm_plugin_dns_records(ExmPluginRequest *r, const ExmPluginKind *kind)
{
	g_autoptr(GError) error = NULL;

	if (!exm_plugin_dns_serve(r, kind, &error))
		exm_rest_response_set_error(r->resp, error);
}
