/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Fuzz target: exm_mail_node_from_json, the `mail_instance_node` value an agent
 * receives in its payload and turns into /etc/exim4/passwd.
 *
 * Properties: a refusal is EXM_MAIL_ERROR_INVALID; an accepted value's
 * exm_mail_node_to_json() is accepted again and gives an identical node (and
 * the same canonical JSON); exm_mail_passwd_render() of it has exactly one
 * line per active account, `username@domain:hash` in account order, and
 * nothing else (no line a crafted hash or username could inject); the
 * policy file has one line per active account with a setting, and a rotated
 * account's line carries its previous hash as one word.  The value read with
 * its accounts raw (as the agent reads a payload) gives the same node, which
 * is like them, and exm_mail_node_accounts_raw() is the canonical text of
 * the accounts exm_mail_node_to_json() writes.
 */
#include <string.h>

#include "exm-json.h"
#include "exm-mail.h"
#include "fuzz-common.h"

static void
check_same(const ExmMailNode *a, const ExmMailNode *b)
{
	EXM_FUZZ_CHECK(g_str_equal(a->uuid, b->uuid) && g_str_equal(a->name, b->name) &&
			       g_str_equal(a->domain, b->domain),
		       "header changed: %s %s",
		       a->domain,
		       b->domain);
	EXM_FUZZ_CHECK(g_strcmp0(a->tls_custom_chain, b->tls_custom_chain) == 0 &&
			       g_strcmp0(a->tls_custom_key, b->tls_custom_key) == 0,
		       "tls_custom changed%s",
		       "");
	EXM_FUZZ_CHECK(a->accounts->len == b->accounts->len,
		       "%u accounts became %u",
		       a->accounts->len,
		       b->accounts->len);
	for (guint k = 0; k < a->accounts->len; k++) {
		const ExmMailNodeAccount *x = g_ptr_array_index(a->accounts, k);
		const ExmMailNodeAccount *y = g_ptr_array_index(b->accounts, k);

		EXM_FUZZ_CHECK(g_str_equal(x->username, y->username) &&
				       g_str_equal(x->password_hash, y->password_hash) &&
				       !x->active == !y->active,
			       "account %s changed",
			       x->username);
	}
}

static void
check_passwd(const ExmMailNode *node)
{
	g_autofree gchar *text = exm_mail_passwd_render(node);
	g_autoptr(GString) want = g_string_new(NULL);

	for (guint k = 0; k < node->accounts->len; k++) {
		const ExmMailNodeAccount *a = g_ptr_array_index(node->accounts, k);

		if (a->active)
			g_string_append_printf(want,
					       "%s@%s:%s\n",
					       a->username,
					       node->domain,
					       exm_mail_crypt_strip_scheme(a->password_hash));
	}
	EXM_FUZZ_CHECK(g_str_equal(text, want->str),
		       "passwd is not one line per active account:\n%s",
		       text);
	/* and no line break hides inside one */
	for (guint k = 0; k < node->accounts->len; k++) {
		const ExmMailNodeAccount *a = g_ptr_array_index(node->accounts, k);

		EXM_FUZZ_CHECK(strpbrk(a->password_hash, ":\n\r \t") == NULL &&
				       strpbrk(a->username, ":@\n\r \t") == NULL,
			       "account %s can break its line",
			       a->username);
	}
}

/* The policy file: a comment, the instance line, then one line per active
 * account with a setting of its own, each starting with its address; every
 * `prev=` word is exactly that account's previous hash (issue 15 §5). */
static void
check_policy(const ExmMailNode *node)
{
	g_autofree gchar *text = exm_mail_policy_render(node);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint n = 2;

	for (guint k = 0; k < node->accounts->len; k++) {
		const ExmMailNodeAccount *a = g_ptr_array_index(node->accounts, k);
		g_autofree gchar *head = g_strdup_printf("%s@%s:", a->username, node->domain);
		g_autofree gchar *prev = NULL;
		const gchar *line;

		if (!a->active ||
		    (a->messages_per_hour == 0 && a->recipients_per_day == 0 &&
		     a->senders == NULL && a->previous_hash == NULL && a->expires_at == 0))
			continue;
		EXM_FUZZ_CHECK(n < g_strv_length(lines), "policy lacks %s:\n%s", head, text);
		line = lines[n++];
		EXM_FUZZ_CHECK(
			g_str_has_prefix(line, head), "policy line %s is not %s", line, head);
		if (a->previous_hash == NULL)
			continue;
		prev = g_strdup_printf(" prev=%s ", exm_mail_crypt_strip_scheme(a->previous_hash));
		EXM_FUZZ_CHECK(strstr(line, prev) != NULL, "policy line %s lacks%s", line, prev);
	}
	EXM_FUZZ_CHECK(n + 1 == g_strv_length(lines) && *lines[n] == '\0',
		       "policy has lines no account made:\n%s",
		       text);
}

/* The accounts as the agent holds them: raw (exm_json_node_is_raw()). */
static void
check_raw(const uint8_t *data, size_t size, ExmMailNode *node, JsonNode *json)
{
	static const gchar *const raw_paths[] = { "=accounts", NULL };
	g_autoptr(JsonNode) kept =
		exm_json_parse_pruned((const gchar *)data, size, raw_paths, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmMailNode) from_raw = NULL;
	g_autoptr(JsonNode) raw = exm_mail_node_accounts_raw(node);
	g_autofree gchar *want =
		exm_json_canonical(json_object_get_member(json_node_get_object(json), "accounts"));
	g_autoptr(JsonNode) raw_value = NULL;

	EXM_FUZZ_CHECK(kept != NULL, "raw parse refused what a parse accepted");
	from_raw = exm_mail_node_from_json(kept, &error);
	EXM_FUZZ_CHECK(from_raw != NULL, "raw accounts refused: %s", error->message);
	check_same(node, from_raw);
	EXM_FUZZ_CHECK(g_str_equal(exm_json_raw_text(raw), want),
		       "raw accounts %s, not %s",
		       exm_json_raw_text(raw),
		       want);
	raw_value = exm_mail_node_to_json_with(node, raw);
	EXM_FUZZ_CHECK(exm_mail_node_accounts_like(node, raw_value) != NULL,
		       "a node is not like its own raw accounts");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(ExmMailNode) node = NULL;
	g_autoptr(ExmMailNode) again = NULL;
	g_autoptr(JsonNode) json = NULL;
	g_autoptr(JsonNode) json_again = NULL;
	g_autofree gchar *canonical = NULL;
	g_autofree gchar *canonical_again = NULL;

	exm_fuzz_begin(data, size);
	root = exm_json_parse_strict((const gchar *)data, size, NULL);
	if (root == NULL)
		return 0;
	node = exm_mail_node_from_json(root, &error);
	if (node == NULL) {
		EXM_FUZZ_CHECK(g_error_matches(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID),
			       "refusal of another kind: %s",
			       error->message);
		return 0;
	}
	json = exm_mail_node_to_json(node);
	again = exm_mail_node_from_json(json, &error);
	EXM_FUZZ_CHECK(again != NULL, "own JSON refused: %s", error->message);
	check_same(node, again);
	json_again = exm_mail_node_to_json(again);
	canonical = exm_json_canonical(json);
	canonical_again = exm_json_canonical(json_again);
	EXM_FUZZ_CHECK(
		g_str_equal(canonical, canonical_again), "JSON changed: %s", canonical_again);
	check_passwd(node);
	check_policy(node);
	check_raw(data, size, node, json);
	exm_fuzz_accepted();
	return 0;
}
