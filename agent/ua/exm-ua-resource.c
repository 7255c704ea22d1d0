/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-resource.h"

#include "exm-json.h"
#include "exm-proto.h"
#include "exm-ua-error.h"
#include "exm-uuid.h"

#include <string.h>

/* The Status API column widths (§3.1). */
#define EXM_UA_HASH_MAX	  256
#define EXM_UA_STATUS_MAX 32

static void
resource_clear(gpointer data)
{
	ExmUaResource *r = data;

	g_free(r->uuid);
	g_free(r->kind);
	g_clear_pointer(&r->value, json_object_unref);
	g_free(r->hash);
	g_free(r->full_hash);
	g_free(r->status);
	g_strfreev(r->keys);
}

/**
 * exm_ua_resource_ref:
 * @r: a resource
 *
 * Returns: (transfer full): @r
 */
ExmUaResource *
exm_ua_resource_ref(ExmUaResource *r)
{
	return g_rc_box_acquire(r);
}

/**
 * exm_ua_resource_unref:
 * @r: (nullable): a resource
 */
void
exm_ua_resource_unref(ExmUaResource *r)
{
	if (r != NULL)
		g_rc_box_release_full(r, resource_clear);
}

static gboolean
get_short_string(JsonObject *obj,
		 const gchar *name,
		 gsize max,
		 const gchar *fallback,
		 gchar **out,
		 GError **error)
{
	const gchar *s = fallback;

	if (!exm_json_get_string(obj, name, FALSE, &s, NULL, error))
		return FALSE;
	if (s == NULL || strlen(s) > max) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_PROTOCOL,
			    "%s: missing or longer than %" G_GSIZE_FORMAT,
			    name,
			    max);
		return FALSE;
	}
	*out = g_strdup(s);
	return TRUE;
}

/* uuid of a value: a string that is a uuid (normalised to lower case). */
static gchar *
value_uuid(JsonObject *value, GError **error)
{
	const gchar *uuid = NULL;
	gchar *parsed;

	if (!exm_json_get_string(value, "uuid", FALSE, &uuid, NULL, error))
		return NULL;
	parsed = uuid != NULL ? exm_uuid_parse(uuid, NULL) : NULL;
	if (parsed == NULL)
		g_set_error(
			error, EXM_UA_ERROR, EXM_UA_ERROR_PROTOCOL, "uuid: missing or not a uuid");
	return parsed;
}

static gint
name_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(a, b);
}

/* The member names of @obj, sorted: the keys a projection on @obj keeps. */
static GStrv
sorted_names(JsonObject *obj)
{
	g_autoptr(GList) names = g_list_sort(json_object_get_members(obj), name_cmp);
	g_autoptr(GStrvBuilder) b = g_strv_builder_new();

	for (GList *l = names; l != NULL; l = l->next)
		g_strv_builder_add(b, l->data);
	return g_strv_builder_end(b);
}

ExmUaResource *
exm_ua_resource_new_listed(const gchar *kind, JsonObject *value, GError **error)
{
	g_autoptr(ExmUaResource) r = g_rc_box_new0(ExmUaResource);
	g_autoptr(GError) local = NULL;

	r->kind = g_strdup(kind);
	r->value = json_object_ref(value);
	r->uuid = value_uuid(value, &local);
	if (r->uuid == NULL ||
	    !get_short_string(value, "status", EXM_UA_STATUS_MAX, "ACTIVE", &r->status, &local)) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_DRIVER,
			    "driver reported a bad %s value: %s",
			    kind,
			    local->message);
		return NULL;
	}
	return g_steal_pointer(&r);
}

void
exm_ua_resource_hash_listed(ExmUaResource *r)
{
	if (r->full_hash != NULL)
		return;
	/* without a target the projection is the whole value: hashed once */
	r->full_hash = exm_proto_hash_value(r->value);
	r->hash = g_strdup(r->full_hash);
}

/**
 * exm_ua_resource_new_actual:
 * @kind: kind
 * @value: the value a driver reported (must carry a uuid `uuid`)
 * @target: (nullable): the target value of the same identity
 * @error: %EXM_UA_ERROR_DRIVER when @value has no valid `uuid` or `status`
 *
 * Returns: (transfer full): the actual resource with its hashes and status
 */
ExmUaResource *
exm_ua_resource_new_actual(const gchar *kind, JsonObject *value, JsonObject *target, GError **error)
{
	ExmUaResource *r = exm_ua_resource_new_listed(kind, value, error);

	if (r == NULL)
		return NULL;
	r->hash = exm_proto_hash_projection(value, target);
	/* without a target the projection is the whole value: hashed once */
	r->full_hash = target != NULL ? exm_proto_hash_value(value) : g_strdup(r->hash);
	r->keys = target != NULL ? sorted_names(target) : NULL;
	return r;
}

gboolean
exm_ua_resource_keys_match(const ExmUaResource *r, JsonObject *target)
{
	g_auto(GStrv) names = NULL;

	if (r->keys == NULL)
		return FALSE;
	names = sorted_names(target);
	return g_strv_equal((const gchar *const *)r->keys, (const gchar *const *)names);
}

/* restalchemy renders a datetime `YYYY-MM-DD HH:MM:SS.ffffff` in payloads and
 * `…THH:MM:SS.ffffffZ` in REST bodies (§3), both UTC; 0 for anything else. */
static gint64
parse_timestamp(JsonObject *obj, const gchar *name)
{
	JsonNode *node = json_object_get_member(obj, name);
	g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
	g_autoptr(GDateTime) dt = NULL;

	if (node == NULL || json_node_get_value_type(node) != G_TYPE_STRING)
		return 0;
	dt = g_date_time_new_from_iso8601(json_node_get_string(node), utc);
	if (dt == NULL)
		return 0;
	return g_date_time_to_unix(dt) * G_USEC_PER_SEC + g_date_time_get_microsecond(dt);
}

/**
 * exm_ua_resource_from_json:
 * @kind: the kind the resource is listed under
 * @obj: a resource as a payload carries it
 * @error: %EXM_UA_ERROR_PROTOCOL when a member is missing or of the wrong type
 *
 * Returns: (transfer full): the resource
 */
ExmUaResource *
exm_ua_resource_from_json(const gchar *kind, JsonObject *obj, GError **error)
{
	g_autoptr(ExmUaResource) r = g_rc_box_new0(ExmUaResource);
	JsonObject *value = NULL;
	const gchar *uuid = NULL;

	r->kind = g_strdup(kind);
	if (!exm_json_get_string(obj, "uuid", FALSE, &uuid, NULL, error) ||
	    !exm_json_get_object(obj, "value", &value, NULL, error) ||
	    !get_short_string(obj, "hash", EXM_UA_HASH_MAX, "", &r->hash, error) ||
	    !get_short_string(obj, "full_hash", EXM_UA_HASH_MAX, "", &r->full_hash, error) ||
	    !get_short_string(obj, "status", EXM_UA_STATUS_MAX, "ACTIVE", &r->status, error))
		return NULL;
	r->uuid = uuid != NULL ? exm_uuid_parse(uuid, NULL) : NULL;
	if (r->uuid == NULL || value == NULL) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_PROTOCOL,
			    "resource without a uuid or a value");
		return NULL;
	}
	r->value = json_object_ref(value);
	r->updated_at = parse_timestamp(obj, "updated_at");
	return g_steal_pointer(&r);
}

/**
 * exm_ua_resource_mark:
 * @r: a resource
 *
 * What the replay check needs of @r (identity, hashes, status and
 * `updated_at`), with an empty value: an offloaded agent keeps these
 * instead of the whole payload (docs/scale.md §2); and the keys its `hash`
 * was projected on, with which a change is told from the marks of what the
 * node holds (exm_ua_reconcile_kind_settled()).  A mark is hollow: a
 * reconcile handed marks as targets never applies them.
 *
 * Returns: (transfer full): the mark
 */
ExmUaResource *
exm_ua_resource_mark(const ExmUaResource *r)
{
	ExmUaResource *m = g_rc_box_new0(ExmUaResource);

	m->uuid = g_strdup(r->uuid);
	m->kind = g_strdup(r->kind);
	m->value = json_object_new();
	m->hash = g_strdup(r->hash);
	m->full_hash = g_strdup(r->full_hash);
	m->status = g_strdup(r->status);
	m->updated_at = r->updated_at;
	m->keys = g_strdupv(r->keys);
	/* its value is empty: never to be applied */
	m->hollow = TRUE;
	return m;
}

/**
 * exm_ua_resource_hollow_out:
 * @r: a resource only its holder reads
 *
 * Drops @r's value for an empty one, as a mark's (exm_ua_resource_mark()):
 * for a listed value that is no longer read, so it is not held through a
 * write of the same size.
 */
void
exm_ua_resource_hollow_out(ExmUaResource *r)
{
	json_object_unref(r->value);
	r->value = json_object_new();
	r->hollow = TRUE;
}

/**
 * exm_ua_resource_to_json:
 * @r: a resource
 *
 * Returns: (transfer full): `{uuid, kind, res_uuid, value, hash, full_hash, status}`,
 *   and `updated_at` when the resource carries one
 */
JsonNode *
exm_ua_resource_to_json(const ExmUaResource *r)
{
	return exm_ua_resource_to_json_full(r, TRUE);
}

JsonNode *
exm_ua_resource_to_json_full(const ExmUaResource *r, gboolean with_value)
{
	g_autoptr(JsonObject) o = json_object_new();
	g_autofree gchar *res_uuid = exm_proto_uuid_resource(r->uuid, r->kind);

	json_object_set_string_member(o, "uuid", r->uuid);
	json_object_set_string_member(o, "kind", r->kind);
	json_object_set_string_member(o, "res_uuid", res_uuid);
	json_object_set_object_member(
		o, "value", with_value ? json_object_ref(r->value) : json_object_new());
	json_object_set_string_member(o, "hash", r->hash);
	json_object_set_string_member(o, "full_hash", r->full_hash);
	json_object_set_string_member(o, "status", r->status);
	if (r->updated_at != 0) {
		g_autoptr(GDateTime) sec =
			g_date_time_new_from_unix_utc(r->updated_at / G_USEC_PER_SEC);
		g_autoptr(GDateTime) dt = g_date_time_add(sec, r->updated_at % G_USEC_PER_SEC);
		g_autofree gchar *text = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S.%f");
		json_object_set_string_member(o, "updated_at", text);
	}
	return json_node_init_object(json_node_alloc(), o);
}

/**
 * exm_ua_resource_cmp_uuid:
 * @a: pointer to an #ExmUaResource pointer
 * @b: another
 *
 * Returns: the order of their uuids (a #GCompareFunc for g_ptr_array_sort())
 */
gint
exm_ua_resource_cmp_uuid(gconstpointer a, gconstpointer b)
{
	const ExmUaResource *ra = *(ExmUaResource *const *)a;
	const ExmUaResource *rb = *(ExmUaResource *const *)b;

	return strcmp(ra->uuid, rb->uuid);
}

/**
 * exm_ua_resource_sorted_by_uuid:
 * @resources: (nullable): #ExmUaResource array
 *
 * Returns: (transfer container): the same resources (borrowed), sorted by uuid
 */
GPtrArray *
exm_ua_resource_sorted_by_uuid(GPtrArray *resources)
{
	GPtrArray *sorted = g_ptr_array_sized_new(resources != NULL ? resources->len : 0);

	for (guint i = 0; resources != NULL && i < resources->len; i++)
		g_ptr_array_add(sorted, resources->pdata[i]);
	g_ptr_array_sort(sorted, exm_ua_resource_cmp_uuid);
	return sorted;
}

/**
 * exm_ua_resource_index:
 * @resources: (nullable): #ExmUaResource array
 *
 * Returns: (transfer container): uuid → resource of @resources (borrowed)
 */
GHashTable *
exm_ua_resource_index(GPtrArray *resources)
{
	GHashTable *index = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint i = 0; resources != NULL && i < resources->len; i++) {
		ExmUaResource *r = resources->pdata[i];
		g_hash_table_insert(index, r->uuid, r);
	}
	return index;
}
