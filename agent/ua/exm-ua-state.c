/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-state.h"

#include "exm-atomic.h"
#include "exm-json.h"
#include "exm-secret.h"
#include "exm-ua-error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* @len bytes of the file open at @fd from @at into @buf; an error names
 * @what when the file holds fewer. */
static gboolean
pread_exact(int fd, gpointer buf, gsize len, gsize at, const gchar *what, GError **error)
{
	gsize got = 0;

	while (got < len) {
		gssize n = pread(fd, (gchar *)buf + got, len - got, (off_t)(at + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_set_error(error,
				    EXM_UA_ERROR,
				    EXM_UA_ERROR_FAILED,
				    "cannot read %s: %s",
				    what,
				    n < 0 ? g_strerror(errno) : "the file is shorter than it was");
			return FALSE;
		}
		got += (gsize)n;
	}
	return TRUE;
}

/* The whole of the file open at @fd, @len bytes (what fstat() said). */
static gchar *
read_whole(int fd, gsize len, const gchar *path, GError **error)
{
	gchar *text = g_malloc(len + 1);

	if (!pread_exact(fd, text, len, 0, path, error)) {
		exm_secret_wipe(text, len);
		g_free(text);
		return NULL;
	}
	text[len] = '\0';
	return text;
}

/* Where the state file @path, opened at *@fd, holds the text of the hollow
 * @targets: where they were recorded when the file is the one they were
 * recorded in, else found by reading it whole (a file written by another).
 * On failure *@fd is closed (-1). */
static gboolean
saved_span_open(const gchar *path,
		const ExmUaPayload *targets,
		int *fd,
		gsize *offset,
		gsize *length,
		GError **error)
{
	g_autoptr(ExmStamp) before = file_stamp(path);
	g_autoptr(GError) local = NULL;
	g_autofree gchar *file = NULL;
	struct stat st;
	gsize len = 0;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0 || fstat(*fd, &st) != 0)
		g_set_error(&local,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_FAILED,
			    "%s: %s",
			    path,
			    g_strerror(errno));
	else if (st.st_size > EXM_UA_STATE_MAX)
		g_set_error_literal(&local, EXM_UA_ERROR, EXM_UA_ERROR_FAILED, "too large");
	else
		len = (gsize)st.st_size;
	if (local == NULL && saved_holds(targets, path, before, len)) {
		*offset = targets->saved.offset;
		*length = targets->saved.length;
		return TRUE;
	}
	if (local == NULL && (file = read_whole(*fd, len, path, &local)) != NULL &&
	    saved_targets_span(file, len, targets, offset, length, &local)) {
		exm_secret_wipe(file, len);
		return TRUE;
	}
	if (file != NULL)
		exm_secret_wipe(file, len);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	g_set_error(error,
		    EXM_UA_ERROR,
		    EXM_UA_ERROR_FAILED,
		    "cannot keep the saved targets: %s",
		    local->message);
	return FALSE;
}

/* What the state's writer gives to the stream, its last byte held back
 * until the next piece comes: the root object's closing brace, which makes
 * way for the targets' member (state_write_keeping()). */
typedef struct {
	ExmAtomicStream *stream;
	gsize written;
	gchar last;
	gboolean held;
} StateOut;

static gboolean
state_out(StateOut *o, gconstpointer data, gsize len, GError **error)
{
	if (!exm_atomic_stream_append(o->stream, data, len, error))
		return FALSE;
	o->written += len;
	return TRUE;
}

static gboolean
state_out_holding(gconstpointer piece, gsize len, gpointer data, GError **error)
{
	StateOut *o = data;
	const gchar *p = piece;

	if (len == 0)
		return TRUE;
	if ((o->held && !state_out(o, &o->last, 1, error)) || !state_out(o, p, len - 1, error))
		return FALSE;
	o->last = p[len - 1];
	o->held = TRUE;
	return TRUE;
}

/* @length bytes of the file open at @fd from @offset, to @o. */
static gboolean
state_out_span(StateOut *o, int fd, gsize offset, gsize length, GError **error)
{
	gchar buf[65536];
	gboolean ok = TRUE;

	for (gsize done = 0, n; ok && done < length; done += n) {
		n = MIN(sizeof(buf), length - done);
		ok = pread_exact(fd, buf, n, offset + done, "the saved targets", error) &&
		     state_out(o, buf, n, error);
	}
	/* the targets hold password hashes */
	exm_secret_wipe(buf, sizeof(buf));
	return ok;
}

/* The state with hollow @targets, to @stream as it is made: @root (the
 * collected payload) with the targets' text copied in from the file open
 * at @fd, not written again from a tree of their values (docs/scale.md §3).
 * Byte for byte what a save with their values writes: the same writer wrote
 * that text, the member last.  The targets' text is *@span_len bytes at
 * *@span_at in it. */
static gboolean
state_write_keeping(ExmAtomicStream *stream,
		    JsonNode *root,
		    int fd,
		    gsize offset,
		    gsize length,
		    gsize *span_at,
		    GError **error)
{
	StateOut o = { stream, 0, 0, FALSE };
	static const gchar member[] = "\"" EXM_UA_STATE_TARGETS "\":";

	if (!exm_json_to_pieces(root, state_out_holding, &o, error) ||
	    (o.written > 1 && !state_out(&o, ",", 1, error)) ||
	    !state_out(&o, member, sizeof(member) - 1, error))
		return FALSE;
	*span_at = o.written;
	return state_out_span(&o, fd, offset, length, error) && state_out(&o, "}", 1, error);
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
	g_autoptr(GError) local = NULL;
	g_autoptr(ExmAtomicStream) stream = NULL;
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0600);
	gboolean hollow = targets != NULL && targets->hollow;
	gsize span_at = 0, offset = 0, length = 0;
	int fd = -1;
	gboolean ok;

	if (hollow && !saved_span_open(path, targets, &fd, &offset, &length, error))
		return FALSE;
	if (!hollow && targets != NULL)
		json_object_set_member(json_node_get_object(root),
				       EXM_UA_STATE_TARGETS,
				       exm_ua_payload_to_json_pruned(targets, TRUE));
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_FAILED,
			    "cannot create %s: %s",
			    dir,
			    g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return FALSE;
	}
	/* written as it is made: the state's text (30 MB at 100 000
	 * accounts) is never held whole (docs/scale.md §3) */
	stream = exm_atomic_stream_new(path, &opts);
	ok = hollow ? state_write_keeping(stream, root, fd, offset, length, &span_at, &local)
		    : exm_json_to_pieces(root, exm_atomic_stream_piece, stream, &local);
	ok = ok && exm_atomic_stream_finish(stream, changed, &local);
	if (fd >= 0)
		close(fd);
	if (!ok) {
		g_set_error(error,
			    EXM_UA_ERROR,
			    EXM_UA_ERROR_FAILED,
			    "cannot save the payload: %s",
			    local->message);
		return FALSE;
	}
	/* the next save of these hollow targets copies their text from here */
	if (hollow)
		saved_record(targets, path, NULL, span_at, length);
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
