/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * `GET /v1/types/mail/instances/<uuid>/actions/dns_records`: the SPF, DKIM,
 * DMARC, MX and PTR records to publish for an instance (the seed README's DNS
 * guidance), as JSON records plus zone-file text, from its domain, `ipsv4` and
 * DKIM key.  IAM `exordos_mail.mail_instance.read`, project-scoped like a GET.
 */
#include "exm-plugin-private.h"

#include "exm-cleanup.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-mail-files.h"

static const gchar *
dns_text(const ExmRestRow *row, const gchar *name)
{
	const gchar *text = exm_rest_row_get(row, name);

	return text != NULL ? text : "";
}

/* The records from the instance row (domain, ipsv4, DKIM), as the toolkit
 * loaded it. */
static void
dns_answer(ExmRestCrud *r, const ExmRestRow *row)
{
	const gchar *ipsv4 = exm_rest_row_get(row, "ipsv4");
	g_autoptr(GPtrArray) ips = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(JsonNode) records = NULL;

	exm_rest_row_parse_text_list(ipsv4 != NULL ? ipsv4 : "[]", ips);
	g_ptr_array_add(ips, NULL);
	records = exm_mail_dns_records(dns_text(row, "domain"),
				       (const gchar *const *)ips->pdata,
				       dns_text(row, "dkim_selector"),
				       dns_text(row, "dkim_public_key"));
	exm_rest_response_set_json(r->resp, 200, records);
}

static gboolean
dns_serve(ExmRestCrud *r, const ExmRestKind *kind, GError **error)
{
	g_autoptr(ExmRestRow) row = NULL;

	/* the walk loaded the instance already (read policy, project scope); load
	 * it again only if a future route skips that */
	if (!exm_rest_crud_enforce(r, kind->policy, "read", error))
		return FALSE;
	if (r->parent == NULL) {
		row = exm_rest_crud_load(r, kind, r->match->id, FALSE, error);
		if (row == NULL)
			return FALSE;
	}
	dns_answer(r, r->parent != NULL ? r->parent : row);
	return TRUE;
}

void
exm_plugin_dns_records(ExmRestCrud *r, const ExmRestKind *kind)
{
	g_autoptr(GError) error = NULL;

	if (!dns_serve(r, kind, &error))
		exm_rest_response_set_error(r->resp, error);
}
