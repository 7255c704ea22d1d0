/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * /etc/exim4/passwd: the accounts of a mail_instance_node, one line each.
 * Renderers re-check what they put on a line even though the models were
 * validated: a line break or ':' smuggled into a file would grant a login or
 * change the domain, so nothing unchecked is ever written.
 */
#include "exm-mail-passwd.h"

#include <string.h>

#include "exm-mail-cdb.h"
#include "exm-mail-crypt.h"
#include "exm-mail-error.h"
#include "exm-mail-validate.h"
#include "exm-secret.h"

/* A hash that cannot break the `address:hash` line format of lsearch. */
static gboolean
is_line_safe_hash(const gchar *hash)
{
	if (hash == NULL || *hash == '\0')
		return FALSE;
	for (const gchar *p = hash; *p != '\0'; p++) {
		if ((guchar)*p < 0x21 || (guchar)*p > 0x7e || *p == ':')
			return FALSE;
	}
	return TRUE;
}

static gint
compare_node_accounts(gconstpointer a, gconstpointer b)
{
	const ExmMailNodeAccount *x = *(const ExmMailNodeAccount *const *)a;
	const ExmMailNodeAccount *y = *(const ExmMailNodeAccount *const *)b;

	return g_strcmp0(x->username, y->username);
}

/* Appends one passwd line, none (with a warning) when the account cannot be
 * written safely; appended piece by piece, not formatted into a string of its
 * own for each of 100 000 accounts. */
static void
passwd_line(GString *out, const ExmMailNodeAccount *a, const gchar *domain)
{
	const gchar *hash = exm_mail_crypt_strip_scheme(a->password_hash);

	if (!exm_mail_validate_username_is_canonical(a->username) || !is_line_safe_hash(hash)) {
		g_warning("passwd: skipping an account whose username or hash cannot be "
			  "written safely");
		return;
	}
	g_string_append(out, a->username);
	g_string_append_c(out, '@');
	g_string_append(out, domain);
	g_string_append_c(out, ':');
	g_string_append(out, hash);
	g_string_append_c(out, '\n');
}

/* Whether @accounts are in the order of their usernames, as
 * exm_mail_node_add_account() keeps them (one pass instead of a sort). */
static gboolean
accounts_sorted(const GPtrArray *accounts)
{
	for (guint k = 1; k < accounts->len; k++) {
		if (compare_node_accounts(&accounts->pdata[k - 1], &accounts->pdata[k]) > 0)
			return FALSE;
	}
	return TRUE;
}

/**
 * exm_mail_passwd_render:
 * @node: the value
 *
 * See exm-mail-files.h.  Accounts that could not be written safely (an invalid
 * username, a hash with `:` or whitespace, an invalid domain) are left out with a
 * warning; exm_mail_node_add_account() never lets one in.
 *
 * Returns: (transfer full): the file content
 */
/* Each line of passwd, in order, appended to @out and handed to @line (when
 * set) at the end of each account; %FALSE when @line refused one. */
static gboolean
passwd_lines(const ExmMailNode *node,
	     GString *out,
	     gboolean (*line)(GString *out, gpointer data, GError **error),
	     gpointer data,
	     GError **error)
{
	g_autoptr(GPtrArray) sorted = NULL;
	g_autofree gchar *domain = exm_mail_validate_normalize_domain(node->domain, NULL);
	const GPtrArray *accounts = node->accounts;

	if (domain == NULL || g_strcmp0(domain, node->domain) != 0) {
		g_warning("passwd: the node has no valid lower-case domain; no line is written");
		return TRUE;
	}
	if (!accounts_sorted(accounts)) {
		/* a shallow copy: it must not free the accounts it borrows */
		sorted = g_ptr_array_copy(node->accounts, NULL, NULL);
		g_ptr_array_set_free_func(sorted, NULL);
		g_ptr_array_sort(sorted, compare_node_accounts);
		accounts = sorted;
	}
	for (guint k = 0; k < accounts->len; k++) {
		const ExmMailNodeAccount *a = g_ptr_array_index(accounts, k);

		if (a->active)
			passwd_line(out, a, domain);
		if (line != NULL && out->len > 0 && !line(out, data, error))
			return FALSE;
	}
	return TRUE;
}

gchar *
exm_mail_passwd_render(const ExmMailNode *node)
{
	g_autoptr(GString) out = g_string_new(NULL);

	g_return_val_if_fail(node != NULL, g_strdup(""));
	passwd_lines(node, out, NULL, NULL, NULL);
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* A piece of passwd handed on once it holds this much: the writer's
 * read chunk, so a compare reads the old file a chunk per piece. */
#define PASSWD_PIECE_SIZE 65536

typedef struct {
	ExmMailPasswdPieceFunc func;
	gpointer data;
} Pieces;

/* @out to the caller, then emptied and wiped (as cdb_line()). */
static gboolean
piece_flush(GString *out, Pieces *p, GError **error)
{
	gboolean ok = p->func(out->str, out->len, p->data, error);

	exm_secret_wipe(out->str, out->len);
	g_string_truncate(out, 0);
	return ok;
}

static gboolean
piece_line(GString *out, gpointer data, GError **error)
{
	return out->len < PASSWD_PIECE_SIZE || piece_flush(out, data, error);
}

/**
 * exm_mail_passwd_render_pieces:
 * @node: the value
 * @func: called with each piece, in order
 * @data: its data
 * @error: @func's error
 *
 * See exm-mail-passwd.h.
 *
 * Returns: %FALSE when @func refused a piece
 */
gboolean
exm_mail_passwd_render_pieces(const ExmMailNode *node,
			      ExmMailPasswdPieceFunc func,
			      gpointer data,
			      GError **error)
{
	g_autoptr(GString) out = g_string_sized_new(PASSWD_PIECE_SIZE + 1024);
	Pieces p = { func, data };

	g_return_val_if_fail(node != NULL && func != NULL, FALSE);
	if (!passwd_lines(node, out, piece_line, &p, error))
		return FALSE;
	return out->len == 0 || piece_flush(out, &p, error);
}

/* The line in @out (its newline left out) into the index; @out emptied and
 * wiped (a hash is no secret, but no copy of it is left about either). */
static gboolean
cdb_line(GString *out, gpointer data, GError **error)
{
	gboolean ok = exm_mail_cdb_lines_add(data, out->str, out->len - 1, error);

	exm_secret_wipe(out->str, out->len);
	g_string_truncate(out, 0);
	return ok;
}

gboolean
exm_mail_passwd_render_cdb_to(const ExmMailNode *node,
			      const ExmCdbSink *sink,
			      gpointer sink_data,
			      gsize *len,
			      GError **error)
{
	g_autoptr(GString) out = NULL;
	g_autoptr(ExmMailCdbLines) lines = NULL;

	*len = 0;
	g_return_val_if_fail(node != NULL && sink != NULL, FALSE);
	out = g_string_new(NULL);
	lines = exm_mail_cdb_lines_new_streaming(sink, sink_data);
	exm_mail_cdb_lines_reserve(lines, node->accounts->len, 0);
	return passwd_lines(node, out, cdb_line, lines, error) &&
	       exm_mail_cdb_lines_end(lines, len, error);
}

/**
 * exm_mail_passwd_entry_free:
 * @e: (nullable): an entry
 *
 * Frees @e and its strings.
 */
void
exm_mail_passwd_entry_free(ExmMailPasswdEntry *e)
{
	if (e == NULL)
		return;
	g_free(e->address);
	g_free(e->local);
	g_free(e->hash);
	g_free(e);
}

/* `address:hash` with '@' in the address, else %NULL (the line is skipped). */
static ExmMailPasswdEntry *
passwd_parse_line(const gchar *line)
{
	const gchar *colon = strchr(line, ':');
	g_autofree gchar *address = NULL;
	ExmMailPasswdEntry *e;
	const gchar *at;

	if (colon == NULL)
		return NULL;
	address = g_ascii_strdown(line, colon - line);
	at = strchr(address, '@');
	if (at == NULL)
		return NULL;
	e = g_new0(ExmMailPasswdEntry, 1);
	e->local = g_strndup(address, (gsize)(at - address));
	e->address = g_steal_pointer(&address);
	e->hash = g_strdup(colon + 1);
	return e;
}

/**
 * exm_mail_passwd_parse:
 * @content: file content
 * @error: %EXM_MAIL_ERROR_PARSE on invalid UTF-8
 *
 * Like upstream restore_from_dp: each line is trimmed; blank and `#` lines, lines
 * without `:` and keys without `@` are skipped.  `\r\n` line ends are accepted.
 *
 * Returns: (transfer full) (element-type ExmMailPasswdEntry): entries in file order
 */
GPtrArray *
exm_mail_passwd_parse(const gchar *content, GError **error)
{
	g_autoptr(GPtrArray) entries =
		g_ptr_array_new_with_free_func((GDestroyNotify)exm_mail_passwd_entry_free);
	g_auto(GStrv) lines = NULL;

	if (content == NULL)
		return g_steal_pointer(&entries);
	if (!g_utf8_validate(content, -1, NULL)) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_PARSE,
				    "passwd: the file is not valid UTF-8");
		return NULL;
	}
	lines = g_strsplit(content, "\n", -1);
	for (guint k = 0; lines[k] != NULL; k++) {
		gchar *line = g_strstrip(lines[k]);
		ExmMailPasswdEntry *e;

		if (*line == '\0' || *line == '#')
			continue;
		e = passwd_parse_line(line);
		if (e != NULL)
			g_ptr_array_add(entries, e);
	}
	return g_steal_pointer(&entries);
}
