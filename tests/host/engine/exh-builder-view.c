/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The view build() gets: the derivatives of one instance with their actuals.
 */
#include "exh-builder-private.h"

#include "exm-cleanup.h"

/* Every builder kind of a plugin: these are instance targets, never derivatives. */
static gchar *
instance_kinds_array(const ExhBuilderPlugin *p)
{
	g_autoptr(GPtrArray) kinds = g_ptr_array_new();

	for (guint i = 0; p->desc->builders->builders[i] != NULL; i++)
		g_ptr_array_add(kinds, (gpointer)p->desc->builders->builders[i]->kind);
	g_ptr_array_add(kinds, NULL);
	return exh_builder_sql_kinds((const gchar *const *)kinds->pdata);
}

void
exh_builder_view_clear(ExhBuilderView *v)
{
	g_clear_pointer(&v->res, PQclear);
	g_free(v->targets);
	g_free(v->actuals);
	g_free(v->pairs);
	g_free(v->list);
}

static const gchar *
col(PGresult *res, gint row, gint column)
{
	return PQgetisnull(res, row, column) ? NULL : PQgetvalue(res, row, column);
}

gboolean
exh_builder_view_load(ExhBuilderTick *t,
		      const ExhBuilderPlugin *p,
		      const gchar *uuid,
		      ExhBuilderView *v,
		      GError **error)
{
	g_autofree gchar *instance_kinds = instance_kinds_array(p);
	const gchar *params[] = { uuid, instance_kinds };

	v->res = exh_builder_sql_exec(
		t,
		"SELECT t.kind, t.uuid, t.value::text, t.status, t.hash, t.full_hash, "
		"t.agent, t.res_uuid, a.value::text, a.status, a.hash, a.full_hash, "
		"a.res_uuid FROM ua_target_resources t LEFT JOIN ua_actual_resources a ON "
		"a.res_uuid = t.res_uuid WHERE t.master = $1 AND t.kind <> ALL($2::text[]) "
		"ORDER BY t.kind, t.uuid",
		2,
		params,
		error);
	if (v->res == NULL)
		return FALSE;
	v->n = PQntuples(v->res);
	v->targets = g_new0(ExordosPaasResource, v->n);
	v->actuals = g_new0(ExordosPaasResource, v->n);
	v->pairs = g_new0(ExordosPaasResourcePair, v->n);
	v->list = g_new0(const ExordosPaasResourcePair *, v->n + 1);
	for (gint i = 0; i < v->n; i++) {
		v->targets[i] = (ExordosPaasResource){ col(v->res, i, 0), col(v->res, i, 1),
						       col(v->res, i, 2), col(v->res, i, 3),
						       col(v->res, i, 4), col(v->res, i, 5),
						       col(v->res, i, 6), { NULL } };
		v->pairs[i].target = &v->targets[i];
		if (col(v->res, i, 12) != NULL) {
			v->actuals[i] = (ExordosPaasResource){ col(v->res, i, 0),
							       col(v->res, i, 1),
							       col(v->res, i, 8),
							       col(v->res, i, 9),
							       col(v->res, i, 10),
							       col(v->res, i, 11),
							       NULL,
							       { NULL } };
			v->pairs[i].actual = &v->actuals[i];
		}
		v->list[i] = &v->pairs[i];
	}
	return TRUE;
}

gint
exh_builder_view_find(const ExhBuilderView *v, const gchar *kind, const gchar *uuid)
{
	for (gint i = 0; i < v->n; i++) {
		if (g_str_equal(v->targets[i].kind, kind) && g_str_equal(v->targets[i].uuid, uuid))
			return i;
	}
	return -1;
}
