/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sink build() hands its results to: the derivatives it wants, the
 * instance target, a patch, or "not ready".
 */
#include "exh-builder-private.h"

#include <string.h>

#include "exm-json.h"
#include "exm-proto.h"
#include "exm-uuid.h"

static void
want_free(ExhBuilderWant *w)
{
	g_free(w->kind);
	g_free(w->uuid);
	g_free(w->res_uuid);
	g_free(w->value);
	g_free(w->hash);
	g_free(w->agent);
	g_free(w->node);
	g_free(w->status);
	g_free(w);
}

void
exh_builder_sink_clear(ExhBuilderSink *s)
{
	g_clear_pointer(&s->wants, g_ptr_array_unref);
	g_free(s->value);
	g_free(s->status);
	g_free(s->patch);
	g_free(s->not_ready);
	g_free(s->bad);
}

static void
sink_bad(ExhBuilderSink *s, const gchar *what)
{
	if (s->bad == NULL)
		s->bad = g_strdup(what);
}

gchar *
exh_builder_sink_canonical(const gchar *text, gchar **out_hash)
{
	g_autoptr(JsonNode) node = NULL;

	if (text == NULL)
		return NULL;
	node = exm_json_parse_strict(text, strlen(text), NULL);
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		return NULL;
	if (out_hash != NULL)
		*out_hash = exm_json_hash(node);
	return exm_json_canonical(node);
}

static gboolean
status_is_valid(const gchar *status)
{
	return status != NULL && *status != '\0' && strlen(status) <= 32;
}

static void
sink_add_target(gpointer data,
		const gchar *kind,
		const gchar *uuid,
		const gchar *value,
		const gchar *agent,
		const gchar *status)
{
	ExhBuilderSink *s = data;
	ExhBuilderWant *w;

	if (kind == NULL || !g_strv_contains(s->builder->derivative_kinds, kind)) {
		sink_bad(s, "a target of a kind the builder does not own");
		return;
	}
	w = g_new0(ExhBuilderWant, 1);
	w->kind = g_strdup(kind);
	w->uuid = uuid != NULL ? exm_uuid_parse(uuid, NULL) : NULL;
	w->agent = agent != NULL ? exm_uuid_parse(agent, NULL) : NULL;
	w->value = exh_builder_sink_canonical(value, &w->hash);
	w->status = g_strdup(status != NULL ? status : "NEW");
	if (w->uuid == NULL || w->value == NULL || (agent != NULL && w->agent == NULL) ||
	    !status_is_valid(w->status)) {
		sink_bad(s, "a target with a bad uuid, agent, status or value");
		want_free(w);
		return;
	}
	w->res_uuid = exm_proto_uuid_resource(w->uuid, kind);
	g_ptr_array_add(s->wants, w);
}

static void
sink_set_instance(gpointer data, const gchar *value, const gchar *status)
{
	ExhBuilderSink *s = data;

	g_free(s->value);
	g_free(s->status);
	s->value = exh_builder_sink_canonical(value, NULL);
	s->status = status_is_valid(status) ? g_strdup(status) : NULL;
	if (s->value == NULL || s->status == NULL)
		sink_bad(s, "an instance target with a bad value or status");
}

static void
sink_set_patch(gpointer data, const gchar *patch)
{
	ExhBuilderSink *s = data;

	g_free(s->patch);
	s->patch = g_strdup(patch);
	if (patch == NULL)
		sink_bad(s, "a NULL patch");
}

void
exh_builder_sink_set_not_ready(gpointer data, const gchar *reason)
{
	ExhBuilderSink *s = data;

	g_free(s->not_ready);
	s->not_ready = g_strdup(reason != NULL ? reason : "not ready");
}

void
exh_builder_sink_init(ExhBuilderSink *s, const ExordosPaasBuilder *b, ExordosPaasBuildSink *abi)
{
	*s = (ExhBuilderSink){ .builder = b,
			       .wants = g_ptr_array_new_with_free_func((GDestroyNotify)want_free) };
	*abi = (ExordosPaasBuildSink){ sizeof(*abi),	s,
				       sink_add_target, sink_set_instance,
				       sink_set_patch,	exh_builder_sink_set_not_ready,
				       { NULL } };
}
