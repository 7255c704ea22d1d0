/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-usage-store.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "exm-atomic.h"
#include "exm-error.h"
#include "exm-json.h"

struct _ExmDpUsageStore {
	gchar *path;
	gboolean known;	    /* a position was loaded or saved */
	guint64 generation; /* the usage's, when it was */
	guint writes;
};

ExmDpUsageStore *
exm_dp_usage_store_new(const gchar *path)
{
	ExmDpUsageStore *store = g_new0(ExmDpUsageStore, 1);

	store->path = g_strdup(path);
	return store;
}

void
exm_dp_usage_store_free(ExmDpUsageStore *store)
{
	if (store == NULL)
		return;
	g_free(store->path);
	g_free(store);
}

guint
exm_dp_usage_store_get_writes(ExmDpUsageStore *store)
{
	return store->writes;
}

static void
add_message(gpointer id, gpointer account, gpointer data)
{
	/* exim's bounces belong to nobody: nothing to attribute */
	if (strchr(account, '@') != NULL)
		json_object_set_string_member(data, id, account);
}

static gchar *
state_text(ExmDpLogStats *log, ExmDpUsage *usage, guint64 inode, guint64 offset)
{
	g_autoptr(JsonObject) obj = json_object_new();
	g_autoptr(JsonNode) root = json_node_alloc();
	JsonObject *messages = json_object_new();

	json_object_set_int_member(obj, "version", EXM_DP_USAGE_STORE_VERSION);
	json_object_set_int_member(obj, "inode", (gint64)MIN(inode, (guint64)G_MAXINT64));
	json_object_set_int_member(obj, "offset", (gint64)MIN(offset, (guint64)G_MAXINT64));
	exm_dp_logstats_foreach_message(log, add_message, messages);
	json_object_set_object_member(obj, "messages", messages);
	json_object_set_member(obj, "usage", exm_dp_usage_save_json(usage));
	json_node_init_object(root, obj);
	return exm_json_to_string(root);
}

gboolean
exm_dp_usage_store_save(ExmDpUsageStore *store,
			ExmDpLogStats *log,
			ExmDpUsage *usage,
			gboolean *written,
			GError **error)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(EXM_DP_USAGE_STORE_MODE);
	g_autofree gchar *dir = g_path_get_dirname(store->path);
	g_autofree gchar *text = NULL;
	guint64 inode = 0;
	guint64 offset = 0;

	if (written != NULL)
		*written = FALSE;
	/* lines that counted nothing need no write: a restart reads them again,
	 * for nothing, from the position last saved */
	if (!exm_dp_logstats_get_position(log, &inode, &offset) ||
	    (store->known && exm_dp_usage_get_generation(usage) == store->generation))
		return TRUE;
	text = state_text(log, usage, inode, offset);
	if (strlen(text) > EXM_DP_USAGE_STORE_MAX) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_FAILED, "%s: state too large", store->path);
		return FALSE;
	}
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_FAILED, "%s: %s", dir, g_strerror(errno));
		return FALSE;
	}
	if (!exm_atomic_write(store->path, text, strlen(text), &opts, NULL, error))
		return FALSE;
	store->known = TRUE;
	store->generation = exm_dp_usage_get_generation(usage);
	store->writes++;
	if (written != NULL)
		*written = TRUE;
	return TRUE;
}

static gboolean
load_messages(ExmDpLogStats *log, ExmDpUsage *usage, JsonObject *messages, GError **error)
{
	g_autoptr(GList) ids = json_object_get_members(messages);

	if (g_list_length(ids) > EXM_DP_LOGSTATS_MAX_MESSAGES) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_VALIDATION, "too many messages");
		return FALSE;
	}
	/* all checked before any goes in: a refused state leaves @log as it was */
	for (GList *l = ids; l != NULL; l = l->next) {
		JsonNode *n = json_object_get_member(messages, l->data);
		const gchar *account = JSON_NODE_HOLDS_VALUE(n) ? json_node_get_string(n) : NULL;

		/* only accounts the usage knows: a message names no new one */
		if (account == NULL || !exm_dp_usage_has_account(usage, account) ||
		    !exm_dp_logstats_is_message_id(l->data)) {
			g_set_error(error, EXM_ERROR, EXM_ERROR_VALIDATION, "a bad message");
			return FALSE;
		}
	}
	for (GList *l = ids; l != NULL; l = l->next)
		exm_dp_logstats_add_message(
			log, l->data, json_object_get_string_member(messages, l->data));
	return TRUE;
}

/* Everything but the messages, which go into @log only once all is checked. */
static ExmDpUsage *
state_parse(const gchar *text,
	    gsize len,
	    gint64 now,
	    guint64 *inode,
	    guint64 *offset,
	    JsonObject **messages,
	    JsonNode **keep,
	    GError **error)
{
	g_autoptr(JsonNode) root = exm_json_parse_strict(text, len, error);
	JsonObject *obj =
		root != NULL && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
	JsonNode *usage = NULL;
	gint64 version = 0, ino = -1, off = -1;
	ExmDpUsage *out;

	if (obj == NULL) {
		if (root != NULL)
			g_set_error(error, EXM_ERROR, EXM_ERROR_VALIDATION, "not an object");
		return NULL;
	}
	if (!exm_json_get_int(obj, "version", &version, NULL, error) ||
	    !exm_json_get_int(obj, "inode", &ino, NULL, error) ||
	    !exm_json_get_int(obj, "offset", &off, NULL, error) ||
	    !exm_json_get_object(obj, "messages", messages, NULL, error) ||
	    !exm_json_get_node(obj, "usage", &usage, NULL, error))
		return NULL;
	if (version != EXM_DP_USAGE_STORE_VERSION || ino < 0 || off < 0 || *messages == NULL ||
	    usage == NULL) {
		g_set_error(error,
			    EXM_ERROR,
			    EXM_ERROR_VALIDATION,
			    "not version %d with inode, offset, messages and usage",
			    EXM_DP_USAGE_STORE_VERSION);
		return NULL;
	}
	out = exm_dp_usage_load_json(usage, now, error);
	if (out != NULL) {
		*inode = (guint64)ino;
		*offset = (guint64)off;
		*keep = g_steal_pointer(&root);
	}
	return out;
}

/* The size is checked before the file is read: a huge one costs no memory
 * (and one that grew in between is refused by the same bound). */
static gchar *
read_state(const gchar *path, gsize *len, GError **error)
{
	g_autofree gchar *text = NULL;
	struct stat st;

	if (stat(path, &st) == 0 && st.st_size > EXM_DP_USAGE_STORE_MAX) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_VALIDATION, "too large");
		return NULL;
	}
	if (!g_file_get_contents(path, &text, len, error))
		return NULL;
	if (*len > EXM_DP_USAGE_STORE_MAX) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_VALIDATION, "too large");
		return NULL;
	}
	return g_steal_pointer(&text);
}

ExmDpUsage *
exm_dp_usage_store_load(ExmDpUsageStore *store, ExmDpLogStats *log, gint64 now)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(ExmDpUsage) usage = NULL;
	g_autofree gchar *text = NULL;
	JsonObject *messages = NULL;
	guint64 inode = 0;
	guint64 offset = 0;
	gsize len = 0;

	text = read_state(store->path, &len, &error);
	if (text != NULL)
		usage = state_parse(text, len, now, &inode, &offset, &messages, &root, &error);
	if (usage != NULL && !load_messages(log, usage, messages, &error))
		g_clear_pointer(&usage, exm_dp_usage_free);
	if (usage == NULL) {
		if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning("usage state %s ignored: %s", store->path, error->message);
		return NULL;
	}
	exm_dp_logstats_resume(log, inode, offset);
	store->known = TRUE;
	store->generation = exm_dp_usage_get_generation(usage);
	return g_steal_pointer(&usage);
}
