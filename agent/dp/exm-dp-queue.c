/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-queue.h"

#include <string.h>

#include "exm-dp-logstats.h"

static const gchar *const op_flags[] = {
	[EXM_DP_QUEUE_FREEZE] = "-Mf",
	[EXM_DP_QUEUE_THAW] = "-Mt",
	[EXM_DP_QUEUE_DELIVER] = "-M",
	[EXM_DP_QUEUE_REMOVE] = "-Mrm",
};

/* exim's `XXXXXX-XXXXXX-XX` (before 4.97) or `XXXXXX-XXXXXXXXXXX-XXXX`: the
 * dashes at their places, so no id can pass as an option. */
static gboolean
id_ok(const gchar *id)
{
	gsize len = strlen(id);

	return exm_dp_logstats_is_message_id(id) && id[6] == '-' &&
	       ((len == 16 && id[13] == '-') || (len == 23 && id[18] == '-'));
}

/* A delivery runs in the background: without G_SPAWN_DO_NOT_REAP_CHILD GLib
 * forks twice, so the finished exim is nobody's zombie. */
static gboolean
run_batch(GPtrArray *argv, ExmDpQueueOp op, GError **error)
{
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;

	g_ptr_array_add(argv, NULL);
	if (op == EXM_DP_QUEUE_DELIVER)
		return g_spawn_async(NULL,
				     (gchar **)argv->pdata,
				     NULL,
				     G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
				     NULL,
				     NULL,
				     NULL,
				     error);
	if (!g_spawn_sync(NULL,
			  (gchar **)argv->pdata,
			  NULL,
			  G_SPAWN_DEFAULT,
			  NULL,
			  NULL,
			  &out,
			  &err,
			  &status,
			  error))
		return FALSE;
	/* a message delivered since the log was read is gone: exim says so */
	if (!g_spawn_check_wait_status(status, NULL))
		g_message("exim %s: %s %s", op_flags[op], g_strstrip(out), g_strstrip(err));
	return TRUE;
}

gboolean
exm_dp_queue_run(const gchar *exim,
		 const gchar *conf,
		 ExmDpQueueOp op,
		 GPtrArray *ids,
		 GError **error)
{
	guint i = 0;

	while (i < ids->len) {
		g_autoptr(GPtrArray) argv = g_ptr_array_new();

		g_ptr_array_add(argv, (gpointer)exim);
		g_ptr_array_add(argv, (gpointer) "-C");
		g_ptr_array_add(argv, (gpointer)conf);
		g_ptr_array_add(argv, (gpointer)op_flags[op]);
		for (; i < ids->len && argv->len < 4 + EXM_DP_QUEUE_BATCH; i++) {
			if (id_ok(ids->pdata[i]))
				g_ptr_array_add(argv, ids->pdata[i]);
		}
		if (argv->len > 4 && !run_batch(argv, op, error)) {
			g_prefix_error(error, "exim %s: ", op_flags[op]);
			return FALSE;
		}
	}
	return TRUE;
}
