/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The ACME settings (issue 22 item 2, docs/tls.md §6): the directory URL and
 * contact checks the API and the node share, and the node value's `acme`
 * member: emitted only with a directory, read back the same, and refused
 * when malformed (the node trusts no value it is sent).
 */
#include <string.h>

#include "exm-mail-acme.h"
#include "exm-mail-error.h"
#include "exm-mail-node.h"
#include "exm-test.h"

#define HEAD                                                                                       \
	"{\"uuid\": \"0f3c2a4e-1111-4222-8333-444455556666\", \"name\": \"m\", "                   \
	"\"domain\": \"example.com\", \"accounts\": {}"

static void
test_url(void)
{
	static const gchar *const good[] = {
		"https://127.0.0.1:14000/dir",
		"https://acme-v02.api.letsencrypt.org/directory",
		"HTTPS://acme.example/dir?x=1",
		"https://[::1]:14000/dir",
	};
	static const gchar *const bad[] = {
		"",
		"http://acme.example/dir",
		"https://",
		"https:///dir",
		"https://u@acme.example/dir",
		"https://acme.example/dir#f",
		"https://acme.example/a b",
		"https://acme.example/\x01",
		"https://acme.example/\x7f",
		"https://acme.example/\xc3\xa9",
		"acme.example/dir",
		"https://acme.example:99999/dir",
	};
	g_autofree gchar *longest = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(good); i++)
		g_assert_true(exm_mail_acme_check_directory_url("u", good[i], NULL));
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;

		g_assert_false(exm_mail_acme_check_directory_url("f.url", bad[i], &error));
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		g_assert_true(g_str_has_prefix(error->message, "f.url: "));
	}
	longest = g_strdup_printf("https://a.example/%0*d", EXM_MAIL_ACME_URL_MAX - 18, 0);
	g_assert_cmpuint(strlen(longest), ==, EXM_MAIL_ACME_URL_MAX);
	g_assert_true(exm_mail_acme_check_directory_url("u", longest, NULL));
	g_free(longest);
	longest = g_strdup_printf("https://a.example/%0*d", EXM_MAIL_ACME_URL_MAX - 17, 0);
	g_assert_false(exm_mail_acme_check_directory_url("u", longest, NULL));
	g_assert_false(exm_mail_acme_check_directory_url("u", NULL, NULL));
}

static void
test_contact(void)
{
	static const gchar *const good[] = {
		"mailto:ops@example.com",
		"MAILTO:Ops.Team+tls@Mail.Example.COM",
		"mailto:a!#$&'*/=^_`{|}~-b@example.com",
	};
	static const gchar *const bad[] = {
		"ops@example.com",
		"mailto:",
		"mailto:ops",
		"mailto:@example.com",
		"mailto:.ops@example.com",
		"mailto:ops.@example.com",
		"mailto:a..b@example.com",
		"mailto:ops@localhost",
		"mailto:ops@example.com?subject=x",
		"mailto:o%40p@example.com",
		"mailto:ops@exa mple.com",
		"mailto:ops@example.com\n",
		"mailto:a,b@example.com",
		"mailto:\"q\"@example.com",
	};
	g_autofree gchar *local = g_strnfill(65, 'a');
	g_autofree gchar *too_long = g_strdup_printf("mailto:%s@example.com", local);

	for (gsize i = 0; i < G_N_ELEMENTS(good); i++)
		g_assert_true(exm_mail_acme_check_contact("c", good[i], NULL));
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;

		g_assert_false(exm_mail_acme_check_contact("f.contact", bad[i], &error));
		g_assert_true(g_str_has_prefix(error->message, "f.contact: "));
	}
	g_assert_false(exm_mail_acme_check_contact("c", too_long, NULL));
}

static JsonNode *
parse(const gchar *text)
{
	JsonNode *node = json_from_string(text, NULL);

	g_assert_nonnull(node);
	return node;
}

/* Round trip: the member only with a directory, the contact only when set. */
static void
test_node_member(void)
{
	g_autoptr(JsonNode) in = parse(HEAD ", \"acme\": {\"directory_url\": "
					    "\"https://127.0.0.1:14000/dir\", \"contact\": "
					    "\"mailto:ops@example.com\", \"future\": 1}}");
	g_autoptr(JsonNode) plain = parse(HEAD ", \"acme\": null}");
	g_autoptr(JsonNode) nocontact =
		parse(HEAD ", \"acme\": {\"directory_url\": \"https://a.example/d\"}}");
	g_autoptr(ExmMailNode) n = exm_mail_node_from_json(in, NULL);
	g_autoptr(ExmMailNode) p = exm_mail_node_from_json(plain, NULL);
	g_autoptr(ExmMailNode) c = exm_mail_node_from_json(nocontact, NULL);
	g_autoptr(JsonNode) out = NULL;
	g_autoptr(JsonNode) pout = NULL;
	g_autoptr(JsonNode) cout = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *ptext = NULL;
	g_autofree gchar *ctext = NULL;

	g_assert_nonnull(n);
	g_assert_cmpstr(n->acme_directory_url, ==, "https://127.0.0.1:14000/dir");
	g_assert_cmpstr(n->acme_contact, ==, "mailto:ops@example.com");
	out = exm_mail_node_to_json(n);
	text = json_to_string(out, FALSE);
	/* the unknown member is not echoed: the node knows what it uses */
	g_assert_nonnull(strstr(text,
				",\"acme\":{\"directory_url\":\"https://127.0.0.1:14000/dir\","
				"\"contact\":\"mailto:ops@example.com\"}}"));
	g_assert_nonnull(p);
	g_assert_null(p->acme_directory_url);
	pout = exm_mail_node_to_json(p);
	ptext = json_to_string(pout, FALSE);
	g_assert_null(strstr(ptext, "acme"));
	g_assert_nonnull(c);
	g_assert_null(c->acme_contact);
	cout = exm_mail_node_to_json(c);
	ctext = json_to_string(cout, FALSE);
	g_assert_nonnull(strstr(ctext, "\"acme\":{\"directory_url\":\"https://a.example/d\"}"));
}

static void
test_node_refuses(void)
{
	static const struct {
		const gchar *acme;
		const gchar *message;
	} bad[] = {
		{ "\"https://a.example/d\"", "acme: must be an object" },
		{ "[]", "acme: must be an object" },
		{ "{}", "acme.directory_url: must be a string" },
		{ "{\"directory_url\": null}", "acme.directory_url: must be a string" },
		{ "{\"directory_url\": 1}", "acme.directory_url: must be a string" },
		{ "{\"directory_url\": \"http://a.example/d\"}", "acme.directory_url: must start" },
		{ "{\"directory_url\": \"https://a.example/\\u0001\"}",
		  "acme.directory_url: must be" },
		{ "{\"directory_url\": \"https://a.example/d\", \"contact\": 1}",
		  "acme.contact: must be a string or null" },
		{ "{\"directory_url\": \"https://a.example/d\", \"contact\": \"ops@example.com\"}",
		  "acme.contact: must be mailto:" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *text = g_strdup_printf(HEAD ", \"acme\": %s}", bad[i].acme);
		g_autoptr(JsonNode) node = parse(text);
		g_autoptr(GError) error = NULL;
		g_autoptr(ExmMailNode) n = exm_mail_node_from_json(node, &error);

		g_assert_null(n);
		g_assert_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID);
		g_test_message("%s -> %s", bad[i].acme, error->message);
		g_assert_true(g_str_has_prefix(error->message, bad[i].message));
	}
}

/* The setter: a contact needs a directory; a refusal keeps the old value. */
static void
test_node_set(void)
{
	g_autoptr(ExmMailNode) n = exm_mail_node_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_mail_node_acme_set(n, "https://a.example/d", NULL, NULL));
	g_assert_false(exm_mail_node_acme_set(n, NULL, "mailto:ops@example.com", &error));
	g_assert_cmpstr(error->message, ==, "acme.contact: needs acme.directory_url");
	g_assert_false(exm_mail_node_acme_set(n, "https://a.example/d", "x", NULL));
	g_assert_cmpstr(n->acme_directory_url, ==, "https://a.example/d");
	g_assert_true(exm_mail_node_acme_set(n, NULL, NULL, NULL));
	g_assert_null(n->acme_directory_url);
}

/* A version's list: null allows any directory, the version's own is always
 * allowed, else only a listed one, byte for byte (no case folding, no
 * trailing-slash leniency: the node would ask exactly that URL). */
static void
test_allowed(void)
{
	const gchar *const urls[] = { "https://a.example/dir", "https://b.example/dir" };
	g_autoptr(GPtrArray) list = g_ptr_array_new();
	g_autoptr(GPtrArray) many = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_mail_acme_directory_allowed("https://x.example/d", NULL, NULL));
	g_assert_true(exm_mail_acme_directory_allowed(
		"https://v.example/d", "https://v.example/d", list));
	g_assert_false(exm_mail_acme_directory_allowed(
		"https://x.example/d", "https://v.example/d", list));
	g_assert_false(exm_mail_acme_directory_allowed("https://x.example/d", NULL, list));
	for (gsize i = 0; i < G_N_ELEMENTS(urls); i++)
		g_ptr_array_add(list, (gpointer)urls[i]);
	g_assert_true(exm_mail_acme_directory_allowed("https://b.example/dir", NULL, list));
	g_assert_false(exm_mail_acme_directory_allowed("https://B.example/dir", NULL, list));
	g_assert_false(exm_mail_acme_directory_allowed("https://b.example/dir/", NULL, list));

	g_assert_true(exm_mail_acme_check_allowed("acme_allowed_directory_urls", list, NULL));
	for (guint i = 0; i <= EXM_MAIL_ACME_ALLOWED_MAX; i++)
		g_ptr_array_add(many, g_strdup_printf("https://a%u.example/d", i));
	g_assert_false(exm_mail_acme_check_allowed("acme_allowed_directory_urls", many, &error));
	g_assert_cmpstr(error->message,
			==,
			"acme_allowed_directory_urls: at most 16 directories are allowed, got 17");
	g_clear_error(&error);
	g_ptr_array_remove_index(many, 0);
	g_assert_true(exm_mail_acme_check_allowed("acme_allowed_directory_urls", many, NULL));
	g_ptr_array_add(list, (gpointer) "http://c.example/dir");
	g_assert_false(exm_mail_acme_check_allowed("acme_allowed_directory_urls", list, &error));
	g_assert_true(g_str_has_prefix(error->message, "acme_allowed_directory_urls: must start"));
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/mail/acme/url", test_url);
	g_test_add_func("/mail/acme/contact", test_contact);
	g_test_add_func("/mail/acme/node-member", test_node_member);
	g_test_add_func("/mail/acme/node-refuses", test_node_refuses);
	g_test_add_func("/mail/acme/node-set", test_node_set);
	g_test_add_func("/mail/acme/allowed", test_allowed);
	return g_test_run();
}
