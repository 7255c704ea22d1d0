/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Model declarations (see exm-rest-model.h).
 */
#include "exm-rest-model.h"

#include <string.h>

#include "exm-error.h"
#include "exm-uuid.h"

const ExmRestField *
exm_rest_model_field(const ExmRestModel *model, const gchar *name)
{
	for (const ExmRestField *f = model->fields; f->name != NULL; f++) {
		if (g_strcmp0(f->name, name) == 0)
			return f;
	}
	return NULL;
}

ExmRestAccess
exm_rest_model_field_access(const ExmRestField *field, ExmRestMethod method)
{
	switch (method) {
	case EXM_REST_CREATE:
		return field->create;
	case EXM_REST_UPDATE:
		return field->update;
	default:
		return field->read;
	}
}

void
exm_rest_model_error_read_only(GError **error, const ExmRestModel *model, const gchar *field)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_READ_ONLY,
		    "Property '%s' of model <class '%s'> is read only.",
		    field,
		    model->class_path);
}

void
exm_rest_model_error_required(GError **error, const ExmRestModel *model, const gchar *field)
{
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_PROPERTY_REQUIRED,
		    "Value for property '%s' for model <class '%s'> is required! Property "
		    "should not be None value.",
		    field,
		    model->class_path);
}

void
exm_rest_model_error_not_found(GError **error,
			       const ExmRestModel *model,
			       const gchar *id,
			       const gchar *project_id)
{
	g_autofree gchar *scope =
		project_id != NULL ? g_strdup_printf("'project_id': UUID('%s'), ", project_id)
				   : g_strdup("");

	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_NOT_FOUND,
		    "Can't found record in storage for model (<class '%s'>) and filters "
		    "({%s'uuid': <EQ (UUID('%s'))>}).",
		    model->class_path,
		    scope,
		    id);
}

/* `<mount><related><uuid>` → the uuid; anything else is a 404 LocatorNotFound. */
gchar *
exm_rest_model_parse_relationship(const gchar *uri,
				  const gchar *mount_prefix,
				  const gchar *related,
				  GError **error)
{
	gsize plen = strlen(mount_prefix);
	gsize rlen = strlen(related);
	const gchar *tail = uri + plen + rlen;
	gchar *id = NULL;

	if (strncmp(uri, mount_prefix, plen) == 0 && strncmp(uri + plen, related, rlen) == 0 &&
	    strchr(tail, '/') == NULL)
		id = exm_uuid_parse_lenient(tail, "uuid", NULL);
	if (id == NULL)
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_LOCATOR_NOT_FOUND,
			    "Locator is not found for URI %s. Thus resource could not be found.",
			    uri);
	return id;
}

static gboolean
fields_has(GPtrArray *fields, const gchar *name)
{
	for (guint i = 0; i < fields->len; i++) {
		if (g_strcmp0(g_ptr_array_index(fields, i), name) == 0)
			return TRUE;
	}
	return FALSE;
}

void
exm_rest_model_pack(JsonObject *object,
		    const ExmRestModel *model,
		    ExmRestMethod method,
		    GPtrArray *fields)
{
	g_autoptr(GList) members = json_object_get_members(object);

	for (GList *l = members; l != NULL; l = l->next) {
		const gchar *name = l->data;
		const ExmRestField *f = exm_rest_model_field(model, name);
		JsonNode *n = json_object_get_member(object, name);
		gboolean drop =
			f == NULL || exm_rest_model_field_access(f, method) == EXM_REST_HIDDEN ||
			JSON_NODE_HOLDS_NULL(n) || (fields != NULL && !fields_has(fields, name));
		if (drop)
			json_object_remove_member(object, name);
	}
}
