/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Seeded random mutations (reproducible with --seed) of valid inputs, checking
 * properties rather than examples:
 *  - a password_hash the grammar accepts can never break a passwd line, and when
 *    its work factor is affordable libxcrypt parses it to exactly the same setting,
 *    so it can match a password (the grammar is never looser than libxcrypt);
 *  - whatever mail.env, a node payload or passwd text holds, what comes out is
 *    valid and renders to single, well-formed lines.
 */
#include <string.h>

#include "exm-json.h"
#include "exm-mail.h"
#include "exm-test.h"

/* Characters a mutation draws from: the crypt alphabets, separators, hostile bytes. */
static const gchar pool[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "$$$${}:= \t\n\r\"'\\#@;,-_+\x01\x7f\xc3\xa9\xff";

static guint
mutation_rounds(void)
{
	/* valgrind is ~50x slower; the property is the same */
	return g_getenv("EXM_UNDER_VALGRIND") != NULL ? 40 : 400;
}

/* One random edit: replace, insert or delete a byte, or truncate. */
static void
mutate(GString *s)
{
	guint pos = s->len > 0 ? (guint)g_test_rand_int_range(0, (gint32)s->len) : 0;
	gchar c = pool[g_test_rand_int_range(0, (gint32)sizeof(pool) - 1)];

	switch (g_test_rand_int_range(0, 4)) {
	case 0:
		if (s->len > 0) {
			s->str[pos] = c;
			break;
		}
		G_GNUC_FALLTHROUGH;
	case 1:
		g_string_insert_c(s, pos, c);
		break;
	case 2:
		if (s->len > 0)
			g_string_erase(s, pos, 1);
		break;
	default:
		g_string_truncate(s, pos);
		break;
	}
}

/* Everything up to the last '$': what crypt(3) keeps from the stored hash. */
static gchar *
setting_of(const gchar *hash)
{
	const gchar *last = strrchr(hash, '$');

	return g_strndup(hash, last != NULL ? (gsize)(last - hash) : strlen(hash));
}

static gboolean
is_line_safe(const gchar *s)
{
	for (; *s != '\0'; s++) {
		if ((guchar)*s <= 0x20 || (guchar)*s >= 0x7f || *s == ':')
			return FALSE;
	}
	return TRUE;
}

static gboolean
is_printable_text(const gchar *s)
{
	for (; *s != '\0'; s++) {
		if ((guchar)*s < 0x20 || (guchar)*s >= 0x7f || *s == '\\')
			return FALSE;
	}
	return TRUE;
}

/* Cheap real hashes of every family to mutate. */
static const gchar *const hash_settings[] = {
	"$6$abcdefgh",
	"$6$rounds=1000$abcdefgh",
	"$5$abcdefgh",
	"$2b$04$abcdefghijklmnopqrstuu",
	"$2y$04$abcdefghijklmnopqrstuu",
	"$y$j75$abcdefghijklmnopqrstu.",
	"$gy$j75$abcdabcd",
	"$7$0/..../....abcdefgh",
};

static void
test_hash_grammar_never_looser_than_libxcrypt(void)
{
	guint accepted = 0, tried = 0;

	for (gsize f = 0; f < G_N_ELEMENTS(hash_settings); f++) {
		g_autofree gchar *real = exm_test_crypt("pw", hash_settings[f]);

		g_assert_nonnull(real);
		g_assert_true(exm_mail_validate_password_hash(real, NULL));
		for (guint i = 0; i < mutation_rounds(); i++) {
			g_autoptr(GString) m = g_string_new(real);
			g_autofree gchar *setting = NULL;
			g_autofree gchar *out = NULL;
			g_autofree gchar *out_setting = NULL;

			for (gint k = g_test_rand_int_range(1, 4); k > 0; k--)
				mutate(m);
			tried++;
			if (!exm_mail_validate_password_hash(m->str, NULL))
				continue;
			g_assert_true(is_line_safe(m->str));
			/* a dear one may exhaust memory in libxcrypt; verify never computes it */
			if (!exm_mail_validate_hash_cost(m->str, NULL))
				continue;
			accepted++;
			setting = setting_of(m->str);
			out = exm_test_crypt("pw", m->str);
			if (out == NULL)
				g_error("accepted, but libxcrypt refuses: %s", m->str);
			out_setting = setting_of(out);
			if (strcmp(out_setting, setting) != 0)
				g_error("accepted, but libxcrypt re-encodes it: %s -> %s",
					m->str,
					out);
		}
	}
	g_test_message("%u of %u mutants accepted", accepted, tried);
	/* mutations inside salt and checksum keep many hashes valid */
	g_assert_cmpuint(accepted, >, 0);
}

static void
test_mail_env_mutations(void)
{
	const gchar *seeds[] = { "MAIL_DOMAIN=example.com\n",
				 "# c\nMAIL_DOMAIN=\"a.b-c.org\"\n",
				 "MAIL_DOMAIN='x.y'" };

	for (gsize s = 0; s < G_N_ELEMENTS(seeds); s++) {
		for (guint i = 0; i < mutation_rounds() * 5; i++) {
			g_autoptr(GString) m = g_string_new(seeds[s]);
			g_autofree gchar *domain = NULL;
			g_autofree gchar *text = NULL;
			g_autofree gchar *again = NULL;

			for (gint k = g_test_rand_int_range(1, 4); k > 0; k--)
				mutate(m);
			domain = exm_mail_env_parse(m->str, NULL);
			if (domain == NULL)
				continue;
			/* whatever was accepted is a plain domain and renders to one line */
			g_assert_true(is_line_safe(domain));
			text = exm_mail_env_render(domain, NULL);
			g_assert_nonnull(text);
			g_assert_cmpstr(strchr(text, '\n'), ==, text + strlen(text) - 1);
			again = exm_mail_env_parse(text, NULL);
			g_assert_cmpstr(again, ==, domain);
		}
	}
}

#define HASH_A                                                                                     \
	"$6$xNAW4QpoaCGQBXdf$6eKv4cyfwyXPWpgVWmTN7gVBU.8PXwV7cUi6UFBOR7N7.FrYwzPnd3mVtwdiESqe0U"   \
	"KjcDj3NcZ9z/HcLokwH0"

static void
check_node_renders_safely(ExmMailNode *n)
{
	g_autofree gchar *passwd = exm_mail_passwd_render(n);
	g_auto(GStrv) lines = g_strsplit(passwd, "\n", -1);
	guint active = 0;

	for (guint k = 0; k < n->accounts->len; k++)
		active += ((ExmMailNodeAccount *)g_ptr_array_index(n->accounts, k))->active ? 1 : 0;
	/* one line per active account, then the final empty split */
	g_assert_cmpuint(g_strv_length(lines), ==, active + 1);
	for (guint k = 0; k < active; k++) {
		const gchar *colon = strchr(lines[k], ':');

		g_assert_nonnull(colon);
		g_assert_nonnull(strchr(lines[k], '@'));
		g_assert_true(is_line_safe(colon + 1));
	}
}

static void
test_node_payload_mutations(void)
{
	const gchar *seed =
		"{\"uuid\":\"84fe6e92-5b3c-4a1b-a124-de76b7b6c788\",\"name\":\"m1\","
		"\"domain\":\"ex.com\",\"accounts\":{\"alice\":{\"password_hash\":"
		"\"" HASH_A "\",\"active\":true},\"bob\":{\"password_hash\":\"{CRYPT}" HASH_A
		"\",\"active\":false}}}";
	guint parsed = 0;

	for (guint i = 0; i < mutation_rounds() * 5; i++) {
		g_autoptr(GString) m = g_string_new(seed);
		g_autoptr(JsonNode) json = NULL;
		g_autoptr(ExmMailNode) n = NULL;

		for (gint k = g_test_rand_int_range(1, 3); k > 0; k--)
			mutate(m);
		json = exm_json_parse_strict(m->str, m->len, NULL);
		if (json == NULL)
			continue;
		n = exm_mail_node_from_json(json, NULL);
		if (n == NULL)
			continue;
		parsed++;
		check_node_renders_safely(n);
	}
	g_test_message("%u mutated payloads accepted", parsed);
}

static void
test_passwd_parse_random(void)
{
	for (guint i = 0; i < mutation_rounds() * 5; i++) {
		g_autoptr(GString) m =
			g_string_new("alice@ex.com:" HASH_A "\n# x\nbob@ex.com:$y$\n");
		g_autoptr(GPtrArray) entries = NULL;

		for (gint k = g_test_rand_int_range(1, 8); k > 0; k--)
			mutate(m);
		entries = exm_mail_passwd_parse(m->str, NULL);
		for (guint k = 0; entries != NULL && k < entries->len; k++) {
			const ExmMailPasswdEntry *e = g_ptr_array_index(entries, k);

			/* the address never holds the separator; local is its prefix */
			g_assert_null(strchr(e->address, ':'));
			g_assert_null(strchr(e->address, '\n'));
			g_assert_true(g_str_has_prefix(e->address, e->local));
			g_assert_cmpint(e->address[strlen(e->local)], ==, '@');
		}
	}
}

static void
test_dkim_txt_random(void)
{
	for (guint i = 0; i < mutation_rounds() * 5; i++) {
		g_autoptr(GString) m =
			g_string_new("platform._domainkey\tIN\tTXT\t( \"v=DKIM1; k=rsa; \""
				     "\n\t  \"p=MIGfMA0\" )  ; ----- DKIM key");
		g_autofree gchar *data = NULL;
		g_autofree gchar *txt = NULL;
		g_autofree gchar *back = NULL;

		for (gint k = g_test_rand_int_range(1, 6); k > 0; k--)
			mutate(m);
		data = exm_mail_dkim_txt_parse(m->str);
		g_assert_null(strchr(data, '"'));
		txt = exm_mail_dkim_txt_render("platform", "ex.com", data);
		/* short data is one chunk: the only line break is the final one, whatever
		 * the data held */
		g_assert_cmpuint(strlen(data), <=, 255);
		g_assert_true(strchr(txt, '\n') == txt + strlen(txt) - 1);
		/* printable data (all a DKIM record holds) reads back unchanged; other bytes
		 * are written as zone-file escapes */
		back = exm_mail_dkim_txt_parse(txt);
		if (is_printable_text(data))
			g_assert_cmpstr(back, ==, data);
	}
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/mail/hostile/hash-grammar-never-looser-than-libxcrypt",
			test_hash_grammar_never_looser_than_libxcrypt);
	g_test_add_func("/mail/hostile/mail-env-mutations", test_mail_env_mutations);
	g_test_add_func("/mail/hostile/node-payload-mutations", test_node_payload_mutations);
	g_test_add_func("/mail/hostile/passwd-parse-random", test_passwd_parse_random);
	g_test_add_func("/mail/hostile/dkim-txt-random", test_dkim_txt_random);
	return g_test_run();
}
