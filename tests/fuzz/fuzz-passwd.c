/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: exm_mail_passwd_parse, which reads back /etc/exim4/passwd from
 * a data plane (upstream restore_from_dp), and its round trip with
 * exm_mail_passwd_render.
 *
 * Properties: a refusal is EXM_MAIL_ERROR_PARSE for invalid UTF-8 only; every
 * entry is one line's `address:hash` with `@` in the lower-case address and
 * @local its part before the first `@`; the entries that make a valid node
 * (same valid domain, valid username and hash) render to exactly one line per
 * active account which parses back to the same addresses and stripped hashes.
 */
#include <string.h>

#include "exm-mail.h"
#include "fuzz-common.h"

static void
check_entry(const ExmMailPasswdEntry *e)
{
	const gchar *at = strchr(e->address, '@');
	g_autofree gchar *lower = g_ascii_strdown(e->address, -1);

	EXM_FUZZ_CHECK(at != NULL, "entry without @: %s", e->address);
	EXM_FUZZ_CHECK(strncmp(e->local, e->address, (gsize)(at - e->address)) == 0 &&
			       e->local[at - e->address] == '\0',
		       "local part %s of %s",
		       e->local,
		       e->address);
	EXM_FUZZ_CHECK(g_str_equal(lower, e->address), "address not lower-case: %s", e->address);
	EXM_FUZZ_CHECK(strpbrk(e->address, ":\n") == NULL && strchr(e->hash, '\n') == NULL,
		       "an entry spans lines or fields: %s:%s",
		       e->address,
		       e->hash);
}

/* The node the valid entries of @entries make, with every second one inactive. */
static ExmMailNode *
node_of_entries(GPtrArray *entries)
{
	g_autoptr(ExmMailNode) node = exm_mail_node_new();

	for (guint k = 0; k < entries->len; k++) {
		const ExmMailPasswdEntry *e = g_ptr_array_index(entries, k);
		const gchar *domain = strchr(e->address, '@') + 1;

		if (node->domain == NULL) {
			g_autofree gchar *norm = exm_mail_validate_normalize_domain(domain, NULL);

			if (norm == NULL || !g_str_equal(norm, domain))
				continue;
			node->domain = g_steal_pointer(&norm);
		}
		if (g_str_equal(domain, node->domain))
			exm_mail_node_add_account(node, e->local, e->hash, k % 2 == 0, NULL);
	}
	return node->domain != NULL ? g_steal_pointer(&node) : NULL;
}

static void
check_round_trip(const ExmMailNode *node)
{
	g_autofree gchar *text = exm_mail_passwd_render(node);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) back = exm_mail_passwd_parse(text, &error);
	guint n = 0;

	EXM_FUZZ_CHECK(back != NULL, "rendered file refused: %s", error->message);
	for (guint k = 0; k < node->accounts->len; k++) {
		const ExmMailNodeAccount *a = g_ptr_array_index(node->accounts, k);
		g_autofree gchar *address = NULL;
		const ExmMailPasswdEntry *e;

		if (!a->active)
			continue;
		EXM_FUZZ_CHECK(n < back->len, "too few lines: %s", text);
		e = g_ptr_array_index(back, n++);
		address = g_strdup_printf("%s@%s", a->username, node->domain);
		EXM_FUZZ_CHECK(g_str_equal(e->address, address) &&
				       g_str_equal(e->local, a->username),
			       "line %u is %s, not %s",
			       n,
			       e->address,
			       address);
		EXM_FUZZ_CHECK(g_str_equal(e->hash, exm_mail_crypt_strip_scheme(a->password_hash)),
			       "hash of %s changed: %s",
			       address,
			       e->hash);
	}
	EXM_FUZZ_CHECK(n == back->len, "%u entries for %u active accounts: %s", back->len, n, text);
	EXM_FUZZ_CHECK(exm_fuzz_count_char(text, '\n') == n, "not one line per account: %s", text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree gchar *content = exm_fuzz_strndup(data, size);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(ExmMailNode) node = NULL;

	exm_fuzz_begin(data, size);
	entries = exm_mail_passwd_parse(content, &error);
	if (entries == NULL) {
		EXM_FUZZ_CHECK(g_error_matches(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_PARSE) &&
				       !g_utf8_validate(content, -1, NULL),
			       "refused: %s",
			       error->message);
		return 0;
	}
	for (guint k = 0; k < entries->len; k++)
		check_entry(g_ptr_array_index(entries, k));
	node = node_of_entries(entries);
	if (node != NULL) {
		check_round_trip(node);
		exm_fuzz_accepted();
	}
	return 0;
}
