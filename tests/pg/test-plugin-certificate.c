/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A tenant's own certificate through the plugin's ABI on the throwaway
 * cluster (issue 22 item 3, docs/tls.md §3): every refusal of the check is a
 * 400 saying what is wrong and stores nothing; IAM and scope; the accepted
 * pair is stored and answered with its public facts; the key is in no answer
 * (the action's, the instance's GET and list, the errors) and no log line;
 * an unchanged resubmission writes nothing; the node value carries
 * `tls_custom` while a certificate is stored and not after its removal.
 * The certificates are the unit suite's, made afresh for the run
 * (exm_test_make_certs()): the API checks them against the real clock.
 */
#include "exm-config.h"

#include <string.h>

#include "exm-test.h"
#include "test-plugin-fixture.h"

typedef struct {
	ExmFixture *f;
	gchar *instance;
	gchar *ipath;
} Fx;

static void
fx_setup(Fx *x, gconstpointer data)
{
	g_autofree gchar *v1 = NULL;

	x->f = exm_fixture_new();
	if (x->f == NULL)
		return;
	v1 = exm_fixture_version(x->f, "v1");
	x->instance = exm_fixture_instance(x->f, &exm_who_owner1, NULL, v1, "mail-cert");
	x->ipath = g_strdup_printf("instances/%s", x->instance);
}

static void
fx_teardown(Fx *x, gconstpointer data)
{
	g_free(x->instance);
	g_free(x->ipath);
	g_clear_pointer(&x->f, exm_fixture_free);
}

/* This run's certificates (made by the first test that needs them). */
static gchar *certs;

/* The PEM files @names (NULL-ended) of this run's certificates, joined in order. */
static gchar *
pem(const gchar *first, ...)
{
	GString *s = g_string_new(NULL);
	va_list ap;

	if (certs == NULL)
		certs = exm_test_make_certs();
	va_start(ap, first);
	for (const gchar *n = first; n != NULL && certs != NULL; n = va_arg(ap, const gchar *)) {
		g_autofree gchar *path = g_build_filename(certs, n, NULL);
		g_autofree gchar *text = exm_test_read_file(path);

		if (text != NULL)
			g_string_append(s, text);
	}
	va_end(ap);
	return g_string_free(s, FALSE);
}

/* `{"chain": @chain, "key": @key}` (either left out when %NULL). */
static gchar *
body(const gchar *chain, const gchar *key)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	if (chain != NULL) {
		json_builder_set_member_name(b, "chain");
		json_builder_add_string_value(b, chain);
	}
	if (key != NULL) {
		json_builder_set_member_name(b, "key");
		json_builder_add_string_value(b, key);
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	return json_to_string(root, FALSE);
}

static ExmReply *
invoke(Fx *x, const ExmWho *who, const gchar *action, const gchar *query, const gchar *text)
{
	g_autofree gchar *path = g_strdup_printf("%s/actions/%s/invoke", x->ipath, action);

	return exm_fixture_call_len(x->f,
				    NULL,
				    who,
				    "POST",
				    path,
				    query,
				    text,
				    text != NULL ? strlen(text) : 0,
				    "application/json");
}

static ExmReply *
put_cert(Fx *x, const ExmWho *who, const gchar *chain, const gchar *key)
{
	g_autofree gchar *text = body(chain, key);

	return invoke(x, who, "certificate", NULL, text);
}

/* A line of the key's base64 body: present in every copy of the key. */
static gchar *
key_line(const gchar *key)
{
	const gchar *nl = strchr(key, '\n');

	g_assert_nonnull(nl);
	return g_strndup(nl + 1, 40);
}

static void
assert_no_key(const gchar *text, const gchar *key)
{
	g_autofree gchar *line = key_line(key);

	g_assert_null(strstr(text != NULL ? text : "", line));
	g_assert_null(strstr(text != NULL ? text : "", "PRIVATE KEY"));
}

static gchar *
stored(Fx *x, const gchar *expr)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT COALESCE((SELECT (%s)::text FROM mail_instance_certificates c WHERE "
		"instance = '%s'), '<none>')",
		expr,
		x->instance);

	return exm_fixture_scalar(x->f, sql);
}

static void
assert_stored(Fx *x, const gchar *expr, const gchar *want)
{
	g_autofree gchar *got = stored(x, expr);

	g_assert_cmpstr(got, ==, want);
}

static gchar *
instance_version(Fx *x)
{
	g_autofree gchar *sql = g_strdup_printf(
		"SELECT xmin::text || ' ' || updated_at::text FROM mail_instances WHERE uuid = "
		"'%s'",
		x->instance);

	return exm_fixture_scalar(x->f, sql);
}

/* ------------------------------------------------------------------ refusals */

/* Each row of docs/tls.md §3's table through the action: a 400 whose
 * message says what is wrong, without key material; nothing stored. */
static void
test_refused(Fx *x, gconstpointer data)
{
	g_autofree gchar *full = pem("rsa.pem", "inter.pem", "root.pem", NULL);
	g_autofree gchar *rsa_key = pem("rsa.key", NULL);
	g_autofree gchar *nine = NULL;
	struct {
		gchar *chain;
		gchar *key;
		const gchar *want;
	} cases[] = {
		{ pem("stranger.key", NULL), pem("rsa.key", NULL), "no PEM certificate" },
		{ NULL, pem("rsa.key", NULL), "more than 8 certificates" },
		{ g_strdup(full), pem("rsa.pem", NULL), "not an unencrypted PEM private key" },
		{ pem("rsa1024.pem", "inter.pem", "root.pem", NULL),
		  pem("rsa1024.key", NULL),
		  "RSA of 1024 bits" },
		{ pem("ed25519.pem", "inter.pem", "root.pem", NULL),
		  pem("ed25519.key", NULL),
		  "type ED25519 is not accepted" },
		{ g_strdup(full), pem("stranger.key", NULL), "key does not match" },
		{ pem("other.pem", "inter.pem", "root.pem", NULL),
		  pem("other.key", NULL),
		  "no subjectAltName covers mail.example.com" },
		{ pem("nosan.pem", "inter.pem", "root.pem", NULL),
		  pem("nosan.key", NULL),
		  "no subjectAltName covers" },
		{ pem("expired.pem", NULL), pem("expired.key", NULL), "has expired" },
		{ pem("future.pem", NULL), pem("future.key", NULL), "is not valid yet" },
		{ pem("rsa.pem", "root.pem", "inter.pem", NULL),
		  pem("rsa.key", NULL),
		  "certificate chain out of order" },
		{ pem("rsa.pem", "root.pem", NULL), pem("rsa.key", NULL), "incomplete" },
		{ pem("rsa.pem", "inter.pem", NULL), pem("rsa.key", NULL), "no trusted issuer" },
	};

	if (x->f == NULL)
		return;
	nine = pem("rsa.pem",
		   "inter.pem",
		   "root.pem",
		   "rsa.pem",
		   "inter.pem",
		   "root.pem",
		   "rsa.pem",
		   "inter.pem",
		   "root.pem",
		   NULL);
	cases[1].chain = g_steal_pointer(&nine);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(ExmReply) r = put_cert(x, &exm_who_owner1, cases[i].chain, cases[i].key);

		g_test_message("%s", cases[i].want);
		exm_assert_error(r, 400, "ValidationError");
		g_assert_nonnull(strstr(exm_reply_str(r, "message"), cases[i].want));
		assert_no_key(r->body, cases[i].key);
		assert_no_key(r->body, rsa_key);
		g_free(cases[i].chain);
		g_free(cases[i].key);
	}
	assert_stored(x, "1", "<none>");
	g_assert_true(exm_fixture_logs_lack(x->f, "PRIVATE KEY"));
}

/* The arguments: both required strings, no other, never in the URL. */
static void
test_arguments(Fx *x, gconstpointer data)
{
	g_autofree gchar *chain = pem("rsa.pem", "inter.pem", "root.pem", NULL);
	g_autofree gchar *key = pem("rsa.key", NULL);
	g_autofree gchar *extra = NULL;
	g_autoptr(ExmReply) nokey = NULL;
	g_autoptr(ExmReply) nochain = NULL;
	g_autoptr(ExmReply) typed = NULL;
	g_autoptr(ExmReply) unknown = NULL;
	g_autoptr(ExmReply) url = NULL;
	g_autoptr(ExmReply) rm_arg = NULL;

	if (x->f == NULL)
		return;
	nokey = put_cert(x, &exm_who_owner1, chain, NULL);
	exm_assert_error(nokey, 400, "ValidationError");
	g_assert_true(g_str_has_prefix(exm_reply_str(nokey, "message"), "key: is required"));
	nochain = put_cert(x, &exm_who_owner1, NULL, key);
	exm_assert_error(nochain, 400, "ValidationError");
	g_assert_true(g_str_has_prefix(exm_reply_str(nochain, "message"), "chain: is required"));
	assert_no_key(nochain->body, key);
	typed = invoke(x, &exm_who_owner1, "certificate", NULL, "{\"chain\":1,\"key\":true}");
	exm_assert_error(typed, 400, "ValidationError");
	extra = g_strdup_printf("{\"chain\":\"x\",\"key\":\"y\",\"password\":\"z\"}");
	unknown = invoke(x, &exm_who_owner1, "certificate", NULL, extra);
	exm_assert_error(unknown, 400, "ValidationError");
	g_assert_nonnull(strstr(exm_reply_str(unknown, "message"), "unknown argument 'password'"));
	url = invoke(x, &exm_who_owner1, "certificate", "key=abc", "{}");
	exm_assert_error(url, 400, "ValidationError");
	g_assert_nonnull(strstr(exm_reply_str(url, "message"), "never in the URL"));
	rm_arg = invoke(x, &exm_who_owner1, "certificate_remove", NULL, "{\"force\":true}");
	exm_assert_error(rm_arg, 400, "ValidationError");
	assert_stored(x, "1", "<none>");
}

/* IAM and scope: a reader is refused, another project sees no instance. */
static void
test_iam(Fx *x, gconstpointer data)
{
	g_autofree gchar *chain = pem("rsa.pem", "inter.pem", "root.pem", NULL);
	g_autofree gchar *key = pem("rsa.key", NULL);
	static const gchar *const actions[] = { "certificate", "certificate_remove" };

	if (x->f == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(actions); i++) {
		g_autofree gchar *text = i == 0 ? body(chain, key) : NULL;
		g_autoptr(ExmReply) ro = invoke(x, &exm_who_readonly1, actions[i], NULL, text);
		g_autoptr(ExmReply) other = invoke(x, &exm_who_owner2, actions[i], NULL, text);
		g_autofree gchar *get_path =
			g_strdup_printf("%s/actions/%s/invoke", x->ipath, actions[i]);
		g_autoptr(ExmReply) get =
			exm_fixture_call(x->f, NULL, &exm_who_owner1, "GET", get_path, NULL, NULL);

		exm_assert_error(ro, 403, "PolicyNotAuthorized");
		g_assert_cmpuint(other->status, ==, 404);
		exm_assert_error(get, 501, "NotImplementedError");
		assert_no_key(ro->body, key);
		assert_no_key(other->body, key);
	}
	{
		g_autofree gchar *text = body(chain, key);
		g_autoptr(ExmReply) gone = exm_fixture_call_len(
			x->f,
			NULL,
			&exm_who_owner1,
			"POST",
			"instances/00000000-0000-4000-8000-00000000dead/actions/certificate/invoke",
			NULL,
			text,
			strlen(text),
			"application/json");

		g_assert_cmpuint(gone->status, ==, 404);
	}
	assert_stored(x, "1", "<none>");
}

/* ------------------------------------------------------------------ accepted */

/* What openssl prints after `=` for the option @opt of this run's leaf. */
static gchar *
openssl_leaf(const gchar *opt)
{
	g_autofree gchar *path = g_build_filename(certs, "rsa.pem", NULL);
	const gchar *argv[] = { "openssl", "x509", "-in", path, "-noout", opt, "-sha256", NULL };
	g_autofree gchar *out = NULL;
	const gchar *eq;

	g_assert_cmpint(exm_test_run(argv, &out, NULL), ==, 0);
	eq = out != NULL ? strchr(out, '=') : NULL;
	g_assert_nonnull(eq);
	return eq != NULL ? g_strndup(eq + 1, strcspn(eq + 1, "\n")) : g_strdup("");
}

/* The leaf's SHA-256 as openssl prints it, lower case and without colons. */
static gchar *
openssl_fingerprint(void)
{
	g_autofree gchar *colons = openssl_leaf("-fingerprint");
	GString *hex = g_string_new(NULL);

	for (const gchar *p = colons; *p != '\0'; p++)
		if (*p != ':')
			g_string_append_c(hex, g_ascii_tolower(*p));
	return g_string_free(hex, FALSE);
}

/* The year of the leaf's notAfter (`Dec  4 04:49:32 2036 GMT`). */
static gchar *
openssl_not_after_year(void)
{
	g_autofree gchar *date = openssl_leaf("-enddate");
	g_auto(GStrv) words = g_strsplit_set(date, " ", -1);
	guint n = g_strv_length(words);

	g_assert_cmpuint(n, >=, 2);
	return g_strdup(n >= 2 ? words[n - 2] : "");
}

static void
assert_answer(ExmReply *r, const gchar *key, const gchar *fingerprint, const gchar *year)
{
	g_autofree gchar *prefix = g_strconcat(year, "-", NULL);

	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "smtp_hostname"), ==, "mail.example.com");
	g_assert_cmpstr(exm_reply_str(r, "subject"), ==, "CN = mail.example.com");
	g_assert_cmpstr(exm_reply_str(r, "issuer"), ==, "CN = Test Intermediate");
	g_assert_cmpstr(exm_reply_str(r, "key_type"), ==, "RSA-2048");
	g_assert_true(g_str_has_prefix(exm_reply_str(r, "not_after"), prefix));
	g_assert_cmpstr(exm_reply_str(r, "fingerprint_sha256"), ==, fingerprint);
	assert_no_key(r->body, key);
}

/* Stored and answered with its facts; the instance's GET and list and the
 * log carry no key; the same pair again writes nothing; a removal is 204
 * and idempotent. */
static void
test_accepted(Fx *x, gconstpointer data)
{
	g_autofree gchar *chain = pem("rsa.pem", "inter.pem", "root.pem", NULL);
	g_autofree gchar *key = pem("rsa.key", NULL);
	g_autofree gchar *fp = openssl_fingerprint();
	g_autofree gchar *year = openssl_not_after_year();
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *row = NULL;

	if (x->f == NULL)
		return;
	before = instance_version(x);
	{
		g_autoptr(ExmReply) r = put_cert(x, &exm_who_owner1, chain, key);

		assert_answer(r, key, fp, year);
	}
	after = instance_version(x);
	g_assert_cmpstr(after, !=, before); /* updated_at moved: the builder runs */
	assert_stored(x, "c.fingerprint", fp);
	assert_stored(x, "to_char(c.not_after, 'YYYY')", year);
	{
		g_autofree gchar *k = stored(x, "c.key");

		g_assert_cmpstr(k, ==, key);
	}
	row = stored(x, "c.xmin::text");
	{
		g_autoptr(ExmReply) again = put_cert(x, &exm_who_owner1, chain, key);
		g_autoptr(ExmReply) get =
			exm_fixture_call(x->f, NULL, &exm_who_owner1, "GET", x->ipath, NULL, NULL);
		g_autoptr(ExmReply) list = exm_fixture_call(
			x->f, NULL, &exm_who_owner1, "GET", "instances/", NULL, NULL);
		g_autofree gchar *now = instance_version(x);
		g_autofree gchar *row2 = stored(x, "c.xmin::text");

		assert_answer(again, key, fp, year);
		g_assert_cmpstr(now, ==, after);
		g_assert_cmpstr(row2, ==, row);
		exm_assert_status(get, 200);
		exm_assert_status(list, 200);
		assert_no_key(get->body, key);
		assert_no_key(list->body, key);
	}
	g_assert_true(exm_fixture_logs_lack(x->f, "PRIVATE KEY"));
	{
		g_autoptr(ExmReply) rm =
			invoke(x, &exm_who_owner1, "certificate_remove", NULL, NULL);
		g_autofree gchar *gone = instance_version(x);
		g_autoptr(ExmReply) rm2 = NULL;
		g_autofree gchar *still = NULL;

		g_assert_cmpuint(rm->status, ==, 204);
		assert_stored(x, "1", "<none>");
		g_assert_cmpstr(gone, !=, after);
		rm2 = invoke(x, &exm_who_owner1, "certificate_remove", NULL, NULL);
		still = instance_version(x);
		g_assert_cmpuint(rm2->status, ==, 204);
		g_assert_cmpstr(still, ==, gone);
	}
}

/* A form body works like JSON (the toolkit's invoke convention). */
static void
test_form(Fx *x, gconstpointer data)
{
	g_autofree gchar *chain = pem("ec384.pem", "inter.pem", "root.pem", NULL);
	g_autofree gchar *key = pem("ec384.key", NULL);
	g_autofree gchar *c = g_uri_escape_string(chain, NULL, FALSE);
	g_autofree gchar *k = g_uri_escape_string(key, NULL, FALSE);
	g_autofree gchar *form = g_strdup_printf("chain=%s&key=%s", c, k);
	g_autofree gchar *path = g_strdup_printf("%s/actions/certificate/invoke", x->ipath);
	g_autoptr(ExmReply) r = NULL;

	if (x->f == NULL)
		return;
	r = exm_fixture_call_len(x->f,
				 NULL,
				 &exm_who_owner1,
				 "POST",
				 path,
				 NULL,
				 form,
				 strlen(form),
				 "application/x-www-form-urlencoded");
	exm_assert_status(r, 200);
	g_assert_cmpstr(exm_reply_str(r, "key_type"), ==, "EC-P-384");
	assert_no_key(r->body, key);
}

/* ------------------------------------------------------------------ the node value */

static JsonObject *
tls_custom_of(const gchar *node, JsonNode **root)
{
	JsonObject *o;

	*root = json_from_string(node, NULL);
	g_assert_nonnull(*root);
	o = json_node_get_object(*root);
	return json_object_has_member(o, "tls_custom")
		       ? json_object_get_object_member(o, "tls_custom")
		       : NULL;
}

/* `tls_custom` {chain, key} in the node target while a certificate is
 * stored, absent before and after. */
static void
test_node_value(Fx *x, gconstpointer data)
{
	g_autofree gchar *chain = pem("rsa.pem", "inter.pem", "root.pem", NULL);
	g_autofree gchar *key = pem("rsa.key", NULL);
	g_autofree gchar *node = NULL;
	g_autofree gchar *patch = NULL;
	g_autoptr(JsonNode) root = NULL;
	JsonObject *tc;

	if (x->f == NULL)
		return;
	patch = exm_fixture_paas_tick(x->f, x->instance, "tls", NULL, &node);
	g_assert_null(tls_custom_of(node, &root));
	g_clear_pointer(&node, g_free);
	g_clear_pointer(&patch, g_free);
	g_clear_pointer(&root, json_node_unref);
	{
		g_autoptr(ExmReply) r = put_cert(x, &exm_who_owner1, chain, key);

		exm_assert_status(r, 200);
	}
	patch = exm_fixture_paas_tick(x->f, x->instance, "tls", NULL, &node);
	tc = tls_custom_of(node, &root);
	g_assert_nonnull(tc);
	g_assert_cmpuint(json_object_get_size(tc), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(tc, "chain"), ==, chain);
	g_assert_cmpstr(json_object_get_string_member(tc, "key"), ==, key);
	g_assert_true(exm_fixture_logs_lack(x->f, "PRIVATE KEY"));
	g_clear_pointer(&node, g_free);
	g_clear_pointer(&patch, g_free);
	g_clear_pointer(&root, json_node_unref);
	{
		g_autoptr(ExmReply) r =
			invoke(x, &exm_who_owner1, "certificate_remove", NULL, NULL);

		g_assert_cmpuint(r->status, ==, 204);
	}
	/* the node still reports one applied: the target says null, so the agent
	 * (which compares on the target's keys only) removes it */
	patch = exm_fixture_paas_tick(
		x->f, x->instance, "tls_custom", "{\"chain\": \"C\", \"key\": \"K\"}", &node);
	root = json_from_string(node, NULL);
	g_assert_true(json_object_has_member(json_node_get_object(root), "tls_custom"));
	g_assert_true(json_object_get_null_member(json_node_get_object(root), "tls_custom"));
	g_clear_pointer(&node, g_free);
	g_clear_pointer(&patch, g_free);
	g_clear_pointer(&root, json_node_unref);
	/* and once it reports none, the value is what it was before */
	patch = exm_fixture_paas_tick(x->f, x->instance, "tls", NULL, &node);
	root = json_from_string(node, NULL);
	g_assert_false(json_object_has_member(json_node_get_object(root), "tls_custom"));
}

/* The instance's deletion takes its certificate along (ON DELETE CASCADE). */
static void
test_cascade(Fx *x, gconstpointer data)
{
	g_autofree gchar *chain = pem("rsa.pem", "inter.pem", "root.pem", NULL);
	g_autofree gchar *key = pem("rsa.key", NULL);
	g_autoptr(ExmReply) r = NULL;

	if (x->f == NULL)
		return;
	r = put_cert(x, &exm_who_owner1, chain, key);
	exm_assert_status(r, 200);
	g_assert_cmpint(exm_fixture_count(x->f, "mail_instance_certificates"), ==, 1);
	{
		g_autofree gchar *n = NULL;
		g_autofree gchar *sql =
			g_strdup_printf("WITH d AS (DELETE FROM mail_instances WHERE uuid = '%s' "
					"RETURNING 1) SELECT count(*)::text FROM d",
					x->instance);
		n = exm_fixture_scalar(x->f, sql);
		g_assert_cmpstr(n, ==, "1");
	}
	g_assert_cmpint(exm_fixture_count(x->f, "mail_instance_certificates"), ==, 0);
}

int
main(int argc, char **argv)
{
	int rc;

	exm_test_init(&argc, &argv);
	g_test_add("/plugin/certificate/refused", Fx, NULL, fx_setup, test_refused, fx_teardown);
	g_test_add(
		"/plugin/certificate/arguments", Fx, NULL, fx_setup, test_arguments, fx_teardown);
	g_test_add("/plugin/certificate/iam", Fx, NULL, fx_setup, test_iam, fx_teardown);
	g_test_add("/plugin/certificate/accepted", Fx, NULL, fx_setup, test_accepted, fx_teardown);
	g_test_add("/plugin/certificate/form", Fx, NULL, fx_setup, test_form, fx_teardown);
	g_test_add(
		"/plugin/certificate/node-value", Fx, NULL, fx_setup, test_node_value, fx_teardown);
	g_test_add("/plugin/certificate/cascade", Fx, NULL, fx_setup, test_cascade, fx_teardown);
	rc = g_test_run();
	exm_test_rmtree(certs);
	g_free(certs);
	return rc;
}
