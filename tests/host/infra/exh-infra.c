/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The infra backend interface (exh-backend.h): the status names, a uuid
 * member of a §10 JSON value, and the dispatch through the vtable.
 */
#include "exh-backend.h"

#include "exh-error.h"
#include "exm-json.h"
#include "exm-uuid.h"

const gchar *
exh_infra_status_to_string(ExhInfraStatus status)
{
	switch (status) {
	case EXH_INFRA_STATUS_NEW:
		return "NEW";
	case EXH_INFRA_STATUS_IN_PROGRESS:
		return "IN_PROGRESS";
	case EXH_INFRA_STATUS_ACTIVE:
		return "ACTIVE";
	case EXH_INFRA_STATUS_ERROR:
		return "ERROR";
	}
	return "ERROR";
}

gboolean
exh_infra_json_uuid(JsonObject *obj, const gchar *name, gchar **out, GError **error)
{
	const gchar *value = NULL;

	if (!exm_json_get_string(obj, name, FALSE, &value, NULL, error))
		return FALSE;
	if (value == NULL || !exm_uuid_is_valid(value)) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "%s: not a uuid", name);
		return FALSE;
	}
	*out = g_strdup(value);
	return TRUE;
}

void
exh_infra_backend_init(ExhInfraBackend *backend, const ExhInfraBackendVTable *vtable)
{
	backend->vtable = vtable;
	g_mutex_init(&backend->notify_lock);
}

const gchar *
exh_infra_backend_get_name(ExhInfraBackend *backend)
{
	return backend->vtable->name;
}

/* The hook is captured at emission: the dispatch never reads the backend. */
typedef struct {
	ExhInfraBackend *backend;
	ExhInfraBackendNotify notify;
	gpointer user_data;
	gchar *node_set;
} Emit;

static gboolean
emit_dispatch(gpointer data)
{
	Emit *emit = data;

	emit->notify(emit->backend, emit->node_set, emit->user_data);
	return G_SOURCE_REMOVE;
}

static void
emit_free(gpointer data)
{
	Emit *emit = data;

	g_free(emit->node_set);
	g_free(emit);
}

void
exh_infra_backend_emit_changed(ExhInfraBackend *backend, const gchar *node_set)
{
	GMainContext *context = NULL;
	Emit *emit = g_new0(Emit, 1);

	g_mutex_lock(&backend->notify_lock);
	if (backend->notify != NULL)
		context = g_main_context_ref(backend->notify_context);
	emit->notify = backend->notify;
	emit->user_data = backend->notify_data;
	g_mutex_unlock(&backend->notify_lock);
	if (context == NULL) {
		g_free(emit);
		return;
	}
	emit->backend = backend;
	emit->node_set = g_strdup(node_set);
	g_main_context_invoke_full(context, G_PRIORITY_DEFAULT, emit_dispatch, emit, emit_free);
	g_main_context_unref(context);
	// cppcheck-suppress memleak ; g_main_context_invoke_full() owns emit, emit_free() frees it
}

void
exh_infra_backend_set_notify(ExhInfraBackend *backend,
			     GMainContext *context,
			     ExhInfraBackendNotify notify,
			     gpointer user_data,
			     GDestroyNotify destroy)
{
	GDestroyNotify old_destroy;
	gpointer old_data;
	GMainContext *old_context;

	g_mutex_lock(&backend->notify_lock);
	old_destroy = backend->notify_destroy;
	old_data = backend->notify_data;
	old_context = backend->notify_context;
	backend->notify = notify;
	backend->notify_data = user_data;
	backend->notify_destroy = destroy;
	backend->notify_context =
		notify != NULL
			? g_main_context_ref(context != NULL ? context : g_main_context_default())
			: NULL;
	g_mutex_unlock(&backend->notify_lock);
	if (old_destroy != NULL)
		old_destroy(old_data);
	if (old_context != NULL)
		g_main_context_unref(old_context);
}

gboolean
exh_infra_backend_apply_node_set(ExhInfraBackend *backend,
				 const ExhNodeSetTarget *target,
				 GError **error)
{
	return backend->vtable->apply_node_set(backend, target, error);
}

gboolean
exh_infra_backend_delete_node_set(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	return backend->vtable->delete_node_set(backend, uuid, error);
}

ExhNodeSetActual *
exh_infra_backend_get_node_set(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	return backend->vtable->get_node_set(backend, uuid, error);
}

gboolean
exh_infra_backend_apply_config(ExhInfraBackend *backend,
			       const ExhConfigTarget *target,
			       GError **error)
{
	return backend->vtable->apply_config(backend, target, error);
}

gboolean
exh_infra_backend_delete_config(ExhInfraBackend *backend, const gchar *uuid, GError **error)
{
	return backend->vtable->delete_config(backend, uuid, error);
}

gboolean
exh_infra_backend_get_config_status(ExhInfraBackend *backend,
				    const gchar *uuid,
				    ExhInfraStatus *out_status,
				    GError **error)
{
	return backend->vtable->get_config_status(backend, uuid, out_status, error);
}

void
exh_infra_backend_shutdown(ExhInfraBackend *backend)
{
	backend->vtable->shutdown(backend);
}

void
exh_infra_backend_free(ExhInfraBackend *backend)
{
	if (backend == NULL)
		return;
	backend->vtable->shutdown(backend);
	exh_infra_backend_set_notify(backend, NULL, NULL, NULL, NULL);
	g_mutex_clear(&backend->notify_lock);
	backend->vtable->free(backend);
}
