/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-state.h"

#include "exm-atomic.h"
#include "exm-json.h"
#include "exm-ua-error.h"

#include <errno.h>
#include <string.h>

#define EXM_UA_STATE_TARGETS "targets"
/* A state file is a few payloads; anything this big is not ours. */
#define EXM_UA_STATE_MAX (64 * 1024 * 1024)
/* EXM_UA_PAYLOAD_RAW_ACCOUNTS inside the saved targets */
#define EXM_UA_STATE_RAW_ACCOUNTS "=targets/capabilities/*/resources/*/value/accounts"

/* The facts' values of both payloads are never read (exm_ua_payload_unused()),
 * nor, while the targets are saved beside it, the collected payload's: an
 * iteration applies the targets and lists the node.  With them, a state of
 * 100 000 accounts built four trees of its accounts, not one.  The state is
 * saved without them (`{}`); an older agent's file still holds them. */
static const gchar *const state_unused[] = {
	"capabilities/*/resources/*/value",
	"facts/*/resources/*/value",
	"targets/facts/*/resources/*/value",
	EXM_UA_STATE_RAW_ACCOUNTS,
	NULL,
};

/* Without saved targets the collected payload stands in for them (a light
 * answer before the first full one): only its facts' values go unread. */
static const gchar *const state_unused_untargeted[] = {
	"facts/*/resources/*/value",
	EXM_UA_PAYLOAD_RAW_ACCOUNTS,
	NULL,
};

/* Read hollow (exm_ua_state_load_hollow()): the objects inside the targets'
 * values are left empty too. */
static const gchar *const state_hollow[] = {
	"capabilities/*/resources/*/value",
	"facts/*/resources/*/value",
	"targets/facts/*/resources/*/value",
	"targets/capabilities/*/resources/*/value/*",
	NULL,
};

static void
payload_set_hollow(ExmUaPayload *payload)
{
	GHashTableIter iter;
	gpointer basket;

	payload->hollow = TRUE;
	g_hash_table_iter_init(&iter, payload->capabilities);
	while (g_hash_table_iter_next(&iter, NULL, &basket)) {
		GPtrArray *b = basket;

		for (guint i = 0; i < b->len; i++)
			((ExmUaResource *)b->pdata[i])->hollow = TRUE;
	}
}

static gboolean state_unpack(JsonNode *root,
			     gboolean hollow,
			     ExmUaPayload **collected,
			     ExmUaPayload **targets,
			     GError **error);

/* The stamp of the state file @path alone. */
static ExmStamp *
file_stamp(const gchar *path)
{
	const gchar *paths[] = { path, NULL };

	return exm_stamp_take(paths);
}

/* Records in @targets that @path holds their text at @offset: the file as
 * @before stamped it before its text was read (and still does), or as it is
 * now when @before is %NULL (the agent's own write, just made).  Nothing is
 * recorded when the file changed meanwhile. */
static void
saved_record(ExmUaPayload *targets,
	     const gchar *path,
	     const ExmStamp *before,
	     gsize offset,
	     gsize length)
{
	ExmStamp *now = file_stamp(path);

	g_clear_pointer(&targets->saved.file, exm_stamp_free);
	if (before != NULL && !exm_stamp_equal(before, now)) {
		exm_stamp_free(now);
		return;
	}
	targets->saved.file = now;
	targets->saved.offset = offset;
	targets->saved.length = length;
}

/* Whether @file (@len bytes, read from @path between the stamps @before and
 * now) is the file @targets were recorded in: then their text is where the
 * record says, and checking it again would parse the whole file. */
static gboolean
saved_holds(const ExmUaPayload *targets, const gchar *path, const ExmStamp *before, gsize len)
{
	g_autoptr(ExmStamp) now = NULL;

	if (targets->saved.file == NULL || !exm_stamp_equal(before, targets->saved.file))
		return FALSE;
	now = file_stamp(path);
	return exm_stamp_equal(now, targets->saved.file) &&
	       targets->saved.offset + targets->saved.length <= len;
}

/* Where the saved targets' text is in @file, when they are @targets (their
 * hash and version). */
static gboolean
saved_targets_span(const gchar *file,
		   gsize len,
		   const ExmUaPayload *targets,
		   gsize *offset,
		   gsize *length,
		   GError **error)
{
	g_autoptr(ExmUaPayload) collected = NULL;
	g_autoptr(ExmUaPayload) saved = NULL;
	g_autoptr(JsonNode) root = NULL;

	if (!exm_json_member_span(file, len, EXM_UA_STATE_TARGETS, offset, length, error))
		return FALSE;
	/* the file's text is copied from afterwards: parsed, not taken */
	root = exm_json_parse_pruned(file, len, state_hollow, error);
	if (root == NULL || !state_unpack(root, TRUE, &collected, &saved, error))
		return FALSE;
	if (saved == NULL || !exm_ua_payload_same(saved, targets)) {
		g_set_error_literal(error,
				    EXM_UA_ERROR,
				    EXM_UA_ERROR_FAILED,
				    "the saved targets are not the ones held");
		return FALSE;
	}
	return TRUE;
}

/* The state's text with hollow @targets: @root (the collected payload) with
 * the targets' text the file holds copied in, not written again from a tree
 * of their values (docs/scale.md §3).  Byte for byte what a save with
 * their values writes: the same writer wrote that text, the member last.  The
 * targets' text is *@span_len bytes at *@span_at in the result. */
static gchar *
state_text_keeping(const gchar *path,
		   JsonNode *root,
		   const ExmUaPayload *targets,
		   gsize *span_at,
		   gsize *span_len,
		   GError **error)
{
	g_autofree gchar *file = NULL;
	g_autofree gchar *head = NULL;
	g_autoptr(GError) local = NULL;
	g_autoptr(ExmStamp) before = file_stamp(path);
	GString *text;
	gsize len = 0, offset = 0, length = 0;

	if (g_file_get_contents(path, &file, &len, &local) && len > EXM_UA_STATE_MAX)
		g_set_error_literal(&local, EXM_UA_ERROR, EXM_UA_ERROR_FAILED, "too large");
	if (local == NULL && saved_holds(targets, path, before, len)) {
		offset = targets->saved.offset;
		length = targets->saved.length;
	} else if (local != NULL ||
		   !saved_targets_span(file, len, targets, &offset, &length, &local)) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_FAILED,
			    "cannot keep the saved targets: %s",
			    local->message);
		return NULL;
	}
	head = exm_json_to_string(root);
	text = g_string_sized_new(strlen(head) + length + sizeof(EXM_UA_STATE_TARGETS) + 4);
	/* the root is an object: its closing brace makes way for the member */
	g_string_append_len(text, head, (gssize)strlen(head) - 1);
	if (text->len > 1)
		g_string_append_c(text, ',');
	g_string_append(text, "\"" EXM_UA_STATE_TARGETS "\":");
	*span_at = text->len;
	*span_len = length;
	g_string_append_len(text, file + offset, (gssize)length);
	g_string_append_c(text, '}');
	return g_string_free(text, FALSE);
}

/**
 * exm_ua_state_save:
 * @path: the payload file
 * @collected: the collected payload
 * @targets: (nullable): the last full payload of the CP
 * @changed: (out) (optional): %TRUE when the file was rewritten
 * @error: %EXM_UA_ERROR_FAILED on I/O errors
 *
 * Writes atomically with mode 0600, and only when the content changed.
 */
gboolean
exm_ua_state_save(const gchar *path,
		  const ExmUaPayload *collected,
		  ExmUaPayload *targets,
		  gboolean *changed,
		  GError **error)
{
	/* no value state_parse() leaves unread is written (state_unused) */
	g_autoptr(JsonNode) root = exm_ua_payload_to_json_pruned(collected, targets == NULL);
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *text = NULL;
	g_autoptr(GError) local = NULL;
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0600);
	gboolean hollow = targets != NULL && targets->hollow;
	gsize span_at = 0, span_len = 0;

	if (hollow) {
		text = state_text_keeping(path, root, targets, &span_at, &span_len, error);
		if (text == NULL)
			return FALSE;
	} else {
		if (targets != NULL)
			json_object_set_member(json_node_get_object(root),
					       EXM_UA_STATE_TARGETS,
					       exm_ua_payload_to_json_pruned(targets, TRUE));
		text = exm_json_to_string(root);
	}
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_FAILED,
			    "cannot create %s: %s",
			    dir,
			    g_strerror(errno));
		return FALSE;
	}
	if (!exm_atomic_write(path, text, strlen(text), &opts, changed, &local)) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_FAILED,
			    "cannot save the payload: %s",
			    local->message);
		return FALSE;
	}
	/* the next save of these hollow targets copies their text from here */
	if (hollow)
		saved_record(targets, path, NULL, span_at, span_len);
	return TRUE;
}

/* The payloads of a state file's tree @root, read hollow or not. */
static gboolean
state_unpack(JsonNode *root,
	     gboolean hollow,
	     ExmUaPayload **collected,
	     ExmUaPayload **targets,
	     GError **error)
{
	JsonNode *tnode;

	*collected = exm_ua_payload_from_json(root, error);
	if (*collected == NULL)
		return FALSE;
	tnode = json_object_get_member(json_node_get_object(root), EXM_UA_STATE_TARGETS);
	if (tnode != NULL) {
		*targets = exm_ua_payload_from_json(tnode, error);
		if (*targets == NULL) {
			g_clear_pointer(collected, exm_ua_payload_free);
			return FALSE;
		}
		if (hollow)
			payload_set_hollow(*targets);
	}
	return TRUE;
}

/* Parses @text (taken: the tree is built where it lies, without a copy of
 * 14 MB beside it at 100 000 accounts), whose root holds the targets when
 * @has_targets. */
static gboolean
state_parse(gchar *text,
	    gsize len,
	    gboolean has_targets,
	    gboolean hollow,
	    ExmUaPayload **collected,
	    ExmUaPayload **targets,
	    GError **error)
{
	const gchar *const *unused = !has_targets ? state_unused_untargeted
				     : hollow	  ? state_hollow
						  : state_unused;
	g_autoptr(JsonNode) root = exm_json_parse_pruned_take(text, len, unused, error);

	return root != NULL && state_unpack(root, hollow, collected, targets, error);
}

/* A missing, unreadable or corrupt file yields an empty state (logged).
 * Hollow targets remember where their text is in the file (@before stamped
 * it before the read), found before the text is parsed away. */
static void
state_load(const gchar *path, gboolean hollow, ExmUaPayload **collected, ExmUaPayload **targets)
{
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmUaPayload) read_targets = NULL;
	g_autoptr(ExmStamp) before = hollow && targets != NULL ? file_stamp(path) : NULL;
	gsize len = 0, offset = 0, length = 0;
	gboolean has_targets;

	*collected = NULL;
	if (targets != NULL)
		*targets = NULL;
	if (!g_file_get_contents(path, &text, &len, &error)) {
		if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning("ignoring the saved payload: %s", error->message);
	} else if (len > EXM_UA_STATE_MAX) {
		g_warning("ignoring the saved payload %s: too large", path);
	} else {
		has_targets = exm_json_member_span(
			text, len, EXM_UA_STATE_TARGETS, &offset, &length, NULL);
		if (!state_parse(g_steal_pointer(&text),
				 len,
				 has_targets,
				 hollow,
				 collected,
				 &read_targets,
				 &error))
			g_warning("ignoring the saved payload %s: %s", path, error->message);
		else if (before != NULL && read_targets != NULL)
			saved_record(read_targets, path, before, offset, length);
	}
	if (targets != NULL)
		*targets = g_steal_pointer(&read_targets);
	if (*collected == NULL)
		*collected = exm_ua_payload_new();
}

void
exm_ua_state_load(const gchar *path, ExmUaPayload **collected, ExmUaPayload **targets)
{
	state_load(path, FALSE, collected, targets);
}

void
exm_ua_state_load_hollow(const gchar *path, ExmUaPayload **collected, ExmUaPayload **targets)
{
	state_load(path, TRUE, collected, targets);
}
