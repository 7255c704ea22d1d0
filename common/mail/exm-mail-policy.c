/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * /etc/exim4/policy: an lsearch file of `key=value` words that exim's ACLs
 * and authenticators read with ${extract}.  Like passwd, nothing unchecked is
 * ever written.
 */
#include "exm-mail-policy.h"

#include <string.h>

#include "exm-mail-crypt.h"
#include "exm-mail-validate.h"

/* @value when within [@min, @max], else @fallback (with a warning unless 0). */
static gint64
bounded(gint64 value, gint64 min, gint64 max, gint64 fallback)
{
	if (value >= min && value <= max)
		return value;
	if (value != 0)
		g_warning("policy: a value out of its bounds is replaced by the default");
	return fallback;
}

static void
render_instance(GString *out, const ExmMailLimits *l)
{
	g_string_append_printf(out,
			       ".instance: mph=%" G_GINT64_FORMAT " rpd=%" G_GINT64_FORMAT
			       " ceiling=%" G_GINT64_FORMAT " authfail=%" G_GINT64_FORMAT
			       " authwindow=%" G_GINT64_FORMAT "\n",
			       bounded(l->messages_per_hour,
				       1,
				       EXM_MAIL_MESSAGES_PER_HOUR_MAX,
				       EXM_MAIL_DEFAULT_MESSAGES_PER_HOUR),
			       bounded(l->recipients_per_day,
				       1,
				       EXM_MAIL_RECIPIENTS_PER_DAY_MAX,
				       EXM_MAIL_DEFAULT_RECIPIENTS_PER_DAY),
			       bounded(l->messages_per_hour_ceiling,
				       1,
				       EXM_MAIL_RECIPIENTS_PER_DAY_MAX,
				       EXM_MAIL_DEFAULT_CEILING),
			       bounded(l->auth_fail_limit,
				       1,
				       EXM_MAIL_AUTH_FAIL_LIMIT_MAX,
				       EXM_MAIL_DEFAULT_AUTH_FAIL_LIMIT),
			       bounded(l->auth_fail_window,
				       EXM_MAIL_AUTH_FAIL_WINDOW_MIN,
				       EXM_MAIL_AUTH_FAIL_WINDOW_MAX,
				       EXM_MAIL_DEFAULT_AUTH_FAIL_WINDOW));
}

/* ` senders=a:b`: the patterns that pass again, possibly none (then nothing
 * matches and every sender is refused: a bad list never widens). */
static void
render_senders(GString *line, const gchar *const *senders, const gchar *domain)
{
	gboolean first = TRUE;

	g_string_append(line, " senders=");
	for (guint i = 0; senders[i] != NULL; i++) {
		g_autofree gchar *p = exm_mail_validate_normalize_sender(senders[i], domain, NULL);

		if (p == NULL || !g_str_equal(p, senders[i])) {
			g_warning("policy: a sender pattern that cannot be written safely is "
				  "left out");
			continue;
		}
		g_string_append_printf(line, "%s%s", first ? "" : ":", p);
		first = FALSE;
	}
}

/* A hash that stays one `key=value` word for exim's ${extract}: printable,
 * no space, quote, backslash or `:`.  An `=` inside a value is data (exim
 * takes an unquoted value up to the next space), and SHA-crypt hashes carry
 * one in `rounds=N`. */
static gboolean
is_word_safe(const gchar *text)
{
	if (text == NULL || *text == '\0')
		return FALSE;
	for (const gchar *p = text; *p != '\0'; p++) {
		if ((guchar)*p < 0x21 || (guchar)*p > 0x7e || strchr("\"\\:", *p) != NULL)
			return FALSE;
	}
	return TRUE;
}

/* ` prev=<hash> prevuntil=<s>` and ` expires=<s>` (docs/abuse-controls.md
 * §5); a previous secret that cannot be written safely is left out, so it
 * never logs in rather than breaking the line. */
static void
render_secrets(GString *line, const ExmMailNodeAccount *a)
{
	const gchar *prev =
		a->previous_hash != NULL ? exm_mail_crypt_strip_scheme(a->previous_hash) : NULL;
	gint64 until = bounded(a->previous_until, 1, EXM_MAIL_EPOCH_MAX, 0);
	gint64 expires = bounded(a->expires_at, 1, EXM_MAIL_EPOCH_MAX, 0);

	if (prev != NULL && until != 0 && is_word_safe(prev))
		g_string_append_printf(line, " prev=%s prevuntil=%" G_GINT64_FORMAT, prev, until);
	else if (prev != NULL)
		g_warning("policy: a previous secret that cannot be written safely is left out");
	/* an expiry that cannot be written ends the account now rather than never */
	if (a->expires_at != 0)
		g_string_append_printf(
			line, " expires=%" G_GINT64_FORMAT, expires != 0 ? expires : 1);
}

static gboolean
has_policy(const ExmMailNodeAccount *a, gint64 mph, gint64 rpd)
{
	return mph != 0 || rpd != 0 || a->senders != NULL || a->previous_hash != NULL ||
	       a->expires_at != 0 || a->sandbox;
}

static void
render_account(GString *out, const ExmMailNodeAccount *a, const gchar *domain, GHashTable *held)
{
	g_autofree gchar *user = NULL;
	g_autoptr(GString) line = NULL;
	gint64 mph = bounded(a->messages_per_hour, 1, EXM_MAIL_MESSAGES_PER_HOUR_MAX, 0);
	gint64 rpd = bounded(a->recipients_per_day, 1, EXM_MAIL_RECIPIENTS_PER_DAY_MAX, 0);
	gboolean is_held = FALSE;

	if (!a->active)
		return;
	/* most accounts have no line: nothing is formatted for them (100 000
	 * addresses and checked usernames per render otherwise) */
	if (held != NULL && g_hash_table_size(held) > 0) {
		g_autofree gchar *address = g_strdup_printf("%s@%s", a->username, domain);

		/* the key is the node's own account, never the caller's text */
		is_held = g_hash_table_contains(held, address);
	}
	if (!has_policy(a, mph, rpd) && !is_held)
		return;
	user = exm_mail_validate_normalize_username(a->username, NULL);
	if (user == NULL || !g_str_equal(user, a->username)) {
		g_warning("policy: skipping an account whose username cannot be written safely");
		return;
	}
	line = g_string_new(NULL);
	g_string_printf(line, "%s@%s:", user, domain);
	if (is_held)
		g_string_append(line, " held=1");
	if (mph != 0)
		g_string_append_printf(line, " mph=%" G_GINT64_FORMAT, mph);
	if (rpd != 0)
		g_string_append_printf(line, " rpd=%" G_GINT64_FORMAT, rpd);
	if (a->senders != NULL)
		render_senders(line, (const gchar *const *)a->senders, domain);
	render_secrets(line, a);
	if (a->sandbox)
		g_string_append(line, " sandbox=1");
	g_string_append_printf(out, "%s\n", line->str);
}

/**
 * exm_mail_policy_render:
 * @node: the value
 *
 * See exm-mail-policy.h.
 *
 * Returns: (transfer full): the file content
 */
gchar *
exm_mail_policy_render(const ExmMailNode *node)
{
	return exm_mail_policy_render_held(node, NULL);
}

gchar *
exm_mail_policy_render_held(const ExmMailNode *node, GHashTable *held)
{
	g_autoptr(GString) out = g_string_new("# exordos_mail abuse controls, written by the mail "
					      "agent (docs/abuse-controls.md)\n");
	g_autofree gchar *domain = NULL;

	g_return_val_if_fail(node != NULL, g_strdup(""));
	domain = exm_mail_validate_normalize_domain(node->domain, NULL);
	if (domain == NULL || g_strcmp0(domain, node->domain) != 0) {
		g_warning("policy: the node has no valid lower-case domain; no line is written");
		return g_strdup("");
	}
	render_instance(out, &node->limits);
	/* node->accounts is sorted by username */
	for (guint k = 0; k < node->accounts->len; k++)
		render_account(out, g_ptr_array_index(node->accounts, k), domain, held);
	return g_string_free(g_steal_pointer(&out), FALSE);
}
