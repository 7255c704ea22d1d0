/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The config target of the backend interface (exh-backend.h) and its §10
 * JSON form.
 */
#include "exh-backend.h"

#include <string.h>

#include "exh-error.h"
#include "exm-json.h"

#define EXH_MAX_PATH 255

ExhConfigTarget *
exh_config_target_new(void)
{
	ExhConfigTarget *target = g_new0(ExhConfigTarget, 1);

	target->mode = 0600;
	target->owner = g_strdup("root");
	target->group = g_strdup("root");
	return target;
}

void
exh_config_target_free(ExhConfigTarget *target)
{
	if (target == NULL)
		return;
	g_free(target->uuid);
	g_free(target->node);
	g_free(target->path);
	g_free(target->content);
	g_free(target->owner);
	g_free(target->group);
	g_free(target->on_change);
	g_free(target->name);
	g_free(target->project_id);
	g_free(target);
}

/* `"0640"`-style octal strings of at most 4 chars (§10). */
static gboolean
parse_mode(const gchar *text, guint *out, GError **error)
{
	guint64 mode = 0;

	if (text == NULL || *text == '\0' || strlen(text) > 4 ||
	    !g_ascii_string_to_unsigned(text, 8, 0, 07777, &mode, NULL)) {
		g_set_error(error, EXH_ERROR, EXH_ERROR_CONFIG, "mode: not an octal mode");
		return FALSE;
	}
	*out = (guint)mode;
	return TRUE;
}

static gboolean
config_path_ok(const gchar *path)
{
	g_auto(GStrv) parts = NULL;

	if (path == NULL || path[0] != '/' || strlen(path) > EXH_MAX_PATH ||
	    strchr(path, '\n') != NULL)
		return FALSE;
	parts = g_strsplit(path, "/", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		if (g_str_equal(parts[i], "..") || g_str_equal(parts[i], "."))
			return FALSE;
	}
	return TRUE;
}

static gboolean
config_kinds_from_json(JsonObject *value, ExhConfigTarget *target, GError **error)
{
	JsonObject *sub = NULL;
	const gchar *kind = NULL, *text = NULL;

	if (!exm_json_get_object(value, "target", &sub, NULL, error) || sub == NULL ||
	    !exm_json_get_string(sub, "kind", FALSE, &kind, NULL, error) ||
	    g_strcmp0(kind, "node") != 0 ||
	    !exh_infra_json_uuid(sub, "node", &target->node, error)) {
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_CONFIG, "target: not a node");
		return FALSE;
	}
	if (!exm_json_get_object(value, "body", &sub, NULL, error) || sub == NULL ||
	    !exm_json_get_string(sub, "kind", FALSE, &kind, NULL, error) ||
	    g_strcmp0(kind, "text") != 0 ||
	    !exm_json_get_string(sub, "content", FALSE, &text, NULL, error) || text == NULL) {
		g_clear_error(error);
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_CONFIG, "body: not a text body");
		return FALSE;
	}
	target->content = g_strdup(text);
	sub = NULL;
	if (!exm_json_get_object(value, "on_change", &sub, NULL, error))
		return FALSE;
	if (sub == NULL)
		return TRUE;
	if (!exm_json_get_string(sub, "kind", FALSE, &kind, NULL, error))
		return FALSE;
	if (g_strcmp0(kind, "no_action") == 0)
		return TRUE;
	if (g_strcmp0(kind, "shell") != 0 ||
	    !exm_json_get_string(sub, "command", FALSE, &text, NULL, error) || text == NULL) {
		g_clear_error(error);
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_CONFIG, "on_change: unsupported");
		return FALSE;
	}
	target->on_change = g_strdup(text);
	return TRUE;
}

ExhConfigTarget *
exh_config_target_from_json(JsonObject *value, GError **error)
{
	g_autoptr(ExhConfigTarget) target = exh_config_target_new();
	const gchar *mode = "0600", *owner = "root", *group = "root", *path = NULL;
	const gchar *name = NULL, *project = NULL;

	if (!exh_infra_json_uuid(value, "uuid", &target->uuid, error) ||
	    !exm_json_get_string(value, "path", FALSE, &path, NULL, error) ||
	    !exm_json_get_string(value, "mode", FALSE, &mode, NULL, error) ||
	    !exm_json_get_string(value, "owner", FALSE, &owner, NULL, error) ||
	    !exm_json_get_string(value, "group", FALSE, &group, NULL, error) ||
	    !exm_json_get_string(value, "name", TRUE, &name, NULL, error) ||
	    !exm_json_get_string(value, "project_id", TRUE, &project, NULL, error) ||
	    !parse_mode(mode, &target->mode, error) ||
	    !config_kinds_from_json(value, target, error)) {
		g_prefix_error(error, "config: ");
		return NULL;
	}
	target->path = g_strdup(path);
	target->name = g_strdup(name);
	target->project_id = g_strdup(project);
	if (!config_path_ok(target->path)) {
		g_set_error_literal(error, EXH_ERROR, EXH_ERROR_CONFIG, "config: bad path");
		return NULL;
	}
	g_free(target->owner);
	target->owner = g_strdup(owner);
	g_free(target->group);
	target->group = g_strdup(group);
	return g_steal_pointer(&target);
}
