/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-capture.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exm-dp-logstats.h"
#include "exm-dp-usage.h"
#include "exm-mail-dkim-verify.h"
#include "exm-mail-validate.h"
#include "exm-time.h"

/* One captured file, read once. */
typedef struct {
	gchar *path;
	gchar *name; /* the file name: the table's key */
	gint64 time; /* its mtime, seconds */
	gint64 size;
	gchar *id; /* exim's id of the captured copy (X-Exordos-Capture-Id) */
	gchar *account;
	gchar *from;
	gchar *subject;
	gchar *message_id;
	GPtrArray *to;
	ExmMailDkimResult dkim;
	gchar *dkim_detail;
	gchar *raw_b64;	  /* only while among the newest EXM_DP_CAPTURE_RAW_MESSAGES */
	gboolean checked; /* the DKIM result is for the current key */
} Entry;

struct _ExmDpCapture {
	gchar *dir;
	GHashTable *entries; /* name → Entry */
	gchar *domain;
	gchar *key_b64;
};

static void
entry_free(gpointer p)
{
	Entry *e = p;

	g_free(e->path);
	g_free(e->name);
	g_free(e->id);
	g_free(e->account);
	g_free(e->from);
	g_free(e->subject);
	g_free(e->message_id);
	g_clear_pointer(&e->to, g_ptr_array_unref);
	g_free(e->dkim_detail);
	g_free(e->raw_b64);
	g_free(e);
}

ExmDpCapture *
exm_dp_capture_new(const gchar *dir)
{
	ExmDpCapture *c = g_new0(ExmDpCapture, 1);

	c->dir = g_strdup(dir);
	c->entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, entry_free);
	return c;
}

void
exm_dp_capture_free(ExmDpCapture *capture)
{
	if (capture == NULL)
		return;
	g_free(capture->dir);
	g_hash_table_unref(capture->entries);
	g_free(capture->domain);
	g_free(capture->key_b64);
	g_free(capture);
}

/* The `p=` of a DKIM record, whitespace removed; %NULL without one. */
static gchar *
record_key(const gchar *record)
{
	g_auto(GStrv) tags = g_strsplit(record != NULL ? record : "", ";", -1);

	for (guint i = 0; tags[i] != NULL; i++) {
		g_autofree gchar *tag = g_strstrip(g_strdup(tags[i]));

		if (g_str_has_prefix(tag, "p=") && tag[2] != '\0')
			return g_strdup(tag + 2);
	}
	return NULL;
}

void
exm_dp_capture_set_key(ExmDpCapture *capture, const gchar *domain, const gchar *record)
{
	g_autofree gchar *key = record_key(record);
	GHashTableIter it;
	gpointer value;

	if (g_strcmp0(domain, capture->domain) == 0 && g_strcmp0(key, capture->key_b64) == 0)
		return;
	g_free(capture->domain);
	capture->domain = g_strdup(domain);
	g_free(capture->key_b64);
	capture->key_b64 = g_steal_pointer(&key);
	g_hash_table_iter_init(&it, capture->entries);
	while (g_hash_table_iter_next(&it, NULL, &value))
		((Entry *)value)->checked = FALSE;
}

/* --- reading a file ------------------------------------------------------- */

/* At most @max bytes of @path, without following a link; %NULL on failure. */
static gchar *
read_bounded(const gchar *path, gsize max, gsize *len)
{
	gint fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	g_autofree gchar *buf = NULL;
	gsize got = 0;
	gssize n = 1;

	if (fd < 0)
		return NULL;
	buf = g_malloc(max + 1);
	while (got < max && (n = read(fd, buf + got, max - got)) > 0)
		got += (gsize)n;
	close(fd);
	if (n < 0)
		return NULL;
	buf[got] = '\0';
	*len = got;
	return g_steal_pointer(&buf);
}

/* The unfolded value of the first header field @name, %NULL without one. */
static gchar *
header_value(const gchar *text, const gchar *name)
{
	gsize nlen = strlen(name);

	for (const gchar *p = text; *p != '\0' && *p != '\n' && *p != '\r';) {
		const gchar *end = p;
		GString *v;

		if (g_ascii_strncasecmp(p, name, nlen) != 0 || p[nlen] != ':') {
			while ((end = strchr(end, '\n')) != NULL &&
			       (end[1] == ' ' || end[1] == '\t'))
				end++;
			if (end == NULL)
				return NULL;
			p = end + 1;
			continue;
		}
		v = g_string_new(NULL);
		for (p += nlen + 1; *p != '\0'; p++) {
			if (*p == '\n' && p[1] != ' ' && p[1] != '\t')
				break;
			if (*p != '\r' && *p != '\n')
				g_string_append_c(v, *p);
		}
		return g_strstrip(g_string_free(v, FALSE));
	}
	return NULL;
}

static gchar *
header_text(const gchar *text, const gchar *name)
{
	g_autofree gchar *v = header_value(text, name);

	return v != NULL ? exm_dp_usage_clean_text(v, strlen(v)) : g_strdup("");
}

/* `To:` as at most EXM_DP_CAPTURE_TO_MAX cleaned entries. */
static GPtrArray *
recipients(const gchar *text)
{
	g_autofree gchar *v = header_value(text, "To");
	g_auto(GStrv) parts = g_strsplit(v != NULL ? v : "", ",", -1);
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; parts[i] != NULL && out->len < EXM_DP_CAPTURE_TO_MAX; i++) {
		g_strstrip(parts[i]);
		if (parts[i][0] != '\0')
			g_ptr_array_add(out, exm_dp_usage_clean_text(parts[i], strlen(parts[i])));
	}
	return out;
}

/* The account of the sandbox header: a lower-case address, else %NULL. */
static gchar *
sandbox_account(const gchar *text)
{
	g_autofree gchar *v = header_value(text, "X-Exordos-Sandbox");
	const gchar *at = v != NULL ? strrchr(v, '@') : NULL;
	g_autofree gchar *local = at != NULL ? g_strndup(v, (gsize)(at - v)) : NULL;
	g_autofree gchar *user =
		local != NULL ? exm_mail_validate_normalize_username(local, NULL) : NULL;
	g_autofree gchar *domain =
		at != NULL ? exm_mail_validate_normalize_domain(at + 1, NULL) : NULL;

	if (user == NULL || domain == NULL || !g_str_equal(user, local) ||
	    !g_str_equal(domain, at + 1))
		return NULL;
	return g_steal_pointer(&v);
}

static void
entry_check(ExmDpCapture *c, Entry *e, const gchar *text, gsize len)
{
	g_clear_pointer(&e->dkim_detail, g_free);
	if (len >= EXM_DP_CAPTURE_VERIFY_MAX) {
		e->dkim = EXM_MAIL_DKIM_NONE;
		e->dkim_detail = g_strdup("not checked: larger than 4 MiB");
	} else {
		g_autofree gchar *detail = NULL;

		e->dkim = exm_mail_dkim_verify_message(text,
						       len,
						       c->domain != NULL ? c->domain : "",
						       EXM_MAIL_DEFAULT_SELECTOR,
						       c->key_b64,
						       &detail);
		/* it names the domain: cut to the report's bound like any text */
		e->dkim_detail =
			detail != NULL ? exm_dp_usage_clean_text(detail, strlen(detail)) : NULL;
	}
	e->checked = TRUE;
}

/* A new file: its summary and DKIM result; %NULL when it is no capture of
 * ours (no account or id), which is pruned like the others. */
static Entry *
entry_read(ExmDpCapture *c, const gchar *path, const gchar *name, const struct stat *st)
{
	Entry *e = g_new0(Entry, 1);
	gsize len = 0;
	g_autofree gchar *text = read_bounded(path, EXM_DP_CAPTURE_VERIFY_MAX, &len);
	g_autofree gchar *id = text != NULL ? header_value(text, "X-Exordos-Capture-Id") : NULL;

	e->path = g_strdup(path);
	e->name = g_strdup(name);
	e->time = (gint64)st->st_mtime;
	e->size = (gint64)st->st_size;
	if (text == NULL || id == NULL || !exm_dp_logstats_is_message_id(id) ||
	    (e->account = sandbox_account(text)) == NULL)
		return e; /* listed for pruning only */
	e->id = g_steal_pointer(&id);
	e->from = header_text(text, "From");
	e->subject = header_text(text, "Subject");
	e->message_id = header_text(text, "Message-ID");
	e->to = recipients(text);
	entry_check(c, e, text, len);
	return e;
}

/* --- the directory -------------------------------------------------------- */

/* Adds the files of @sub (new/ or cur/) not known yet; marks every file seen. */
static void
scan(ExmDpCapture *c, const gchar *sub, GHashTable *seen)
{
	g_autofree gchar *dir = g_build_filename(c->dir, sub, NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);
		g_autofree gchar *key = g_strconcat(sub, "/", name, NULL);
		struct stat st;
		Entry *e;

		if (name[0] == '.' || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		g_hash_table_add(seen, g_strdup(key));
		if (g_hash_table_contains(c->entries, key))
			continue;
		e = entry_read(c, path, key, &st);
		g_hash_table_insert(c->entries, e->name, e);
	}
}

static gint
compare_entries(gconstpointer a, gconstpointer b)
{
	const Entry *x = *(const Entry *const *)a, *y = *(const Entry *const *)b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Every entry, oldest first. */
static GPtrArray *
sorted(ExmDpCapture *c)
{
	GPtrArray *all = g_ptr_array_new();
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, c->entries);
	while (g_hash_table_iter_next(&it, NULL, &value))
		g_ptr_array_add(all, value);
	g_ptr_array_sort(all, compare_entries);
	return all;
}

/* Too old, beyond the newest EXM_DP_CAPTURE_MAX_MESSAGES, or no capture of
 * ours (no account or id: not written by the sandbox's transport): deleted. */
static void
prune(ExmDpCapture *c, gint64 now)
{
	g_autoptr(GPtrArray) all = sorted(c);
	guint kept = 0;

	for (guint i = all->len; i > 0; i--) {
		Entry *e = g_ptr_array_index(all, i - 1);

		if (e->id != NULL && e->time >= now - EXM_DP_CAPTURE_MAX_AGE &&
		    kept < EXM_DP_CAPTURE_MAX_MESSAGES) {
			kept++;
			continue;
		}
		if (unlink(e->path) != 0 && errno != ENOENT) {
			g_warning(
				"captured message %s not deleted: %s", e->path, g_strerror(errno));
			continue;
		}
		g_hash_table_remove(c->entries, e->name);
	}
}

/* The newest small messages carry their text; the others drop it.  A key
 * change checks DKIM again, from the file. */
static void
refresh(ExmDpCapture *c)
{
	g_autoptr(GPtrArray) all = sorted(c);
	guint with_raw = 0;

	for (guint i = all->len; i > 0; i--) {
		Entry *e = g_ptr_array_index(all, i - 1);
		gboolean want = e->id != NULL && with_raw < EXM_DP_CAPTURE_RAW_MESSAGES &&
				e->size <= EXM_DP_CAPTURE_RAW_MAX;
		g_autofree gchar *text = NULL;
		gsize len = 0;

		if (e->id == NULL)
			continue;
		with_raw += want ? 1 : 0;
		if (!want)
			g_clear_pointer(&e->raw_b64, g_free);
		if ((want && e->raw_b64 == NULL) || !e->checked)
			text = read_bounded(e->path, EXM_DP_CAPTURE_VERIFY_MAX, &len);
		if (text == NULL)
			continue;
		if (!e->checked)
			entry_check(c, e, text, len);
		if (want && e->raw_b64 == NULL && len == (gsize)e->size)
			e->raw_b64 = g_base64_encode((const guchar *)text, len);
	}
}

void
exm_dp_capture_poll(ExmDpCapture *capture, gint64 now)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTableIter it;
	gpointer key;

	scan(capture, "new", seen);
	scan(capture, "cur", seen);
	g_hash_table_iter_init(&it, capture->entries);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		if (!g_hash_table_contains(seen, key))
			g_hash_table_iter_remove(&it);
	}
	prune(capture, now);
	refresh(capture);
}

/* --- the report ----------------------------------------------------------- */

static void
add_string(JsonBuilder *b, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, value);
}

static void
entry_json(const Entry *e, JsonBuilder *b)
{
	g_autofree gchar *time = exm_time_format(e->time * G_USEC_PER_SEC);

	json_builder_begin_object(b);
	add_string(b, "id", e->id);
	add_string(b, "account", e->account);
	add_string(b, "time", time);
	json_builder_set_member_name(b, "size");
	json_builder_add_int_value(b, e->size);
	add_string(b, "from", e->from);
	json_builder_set_member_name(b, "to");
	json_builder_begin_array(b);
	for (guint i = 0; i < e->to->len; i++)
		json_builder_add_string_value(b, g_ptr_array_index(e->to, i));
	json_builder_end_array(b);
	add_string(b, "subject", e->subject);
	add_string(b, "message_id", e->message_id);
	add_string(b, "dkim", exm_mail_dkim_verify_result_to_string(e->dkim));
	add_string(b, "dkim_detail", e->dkim_detail != NULL ? e->dkim_detail : "");
	if (e->raw_b64 != NULL)
		add_string(b, "raw", e->raw_b64);
	json_builder_end_object(b);
}

JsonNode *
exm_dp_capture_to_json(ExmDpCapture *capture)
{
	g_autoptr(GPtrArray) all = sorted(capture);
	g_autoptr(JsonBuilder) b = json_builder_new();
	guint n = 0;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "messages");
	json_builder_begin_array(b);
	for (guint i = 0; i < all->len; i++) {
		const Entry *e = g_ptr_array_index(all, i);

		if (e->id == NULL)
			continue;
		entry_json(e, b);
		n++;
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	return n > 0 ? json_builder_get_root(b) : NULL;
}
