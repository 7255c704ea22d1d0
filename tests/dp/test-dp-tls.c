/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Issue 22 against a real exim on a sandboxed node (docs/tls.md): the node
 * answers as `mail.<domain>` and a verifying client (Python ssl, verification
 * on) accepts its certificate by that name on 25, 465 and 587; Debian's
 * sslscan finds only TLS 1.2/1.3 and forward-secret AEAD ciphers there; the
 * openssl client's old protocols and non-forward-secret or CBC ciphers are
 * refused; a tenant's chain is served from the next handshake; the driver's
 * actual value describes the served certificate (§4) and its `unchanged`
 * answer sees the certificate change.
 */
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exm-config.h"
#include "exm-dp-driver.h"
#include "exm-dp-fixture.h"
#include "exm-dp-tls.h"
#include "exm-mail-dns.h"
#include "exm-test.h"

static ExmDpFixture *fx;
static gchar *setup_failure;

typedef struct {
	gint port;
	const gchar *mode; /* "starttls" or "tls" (implicit) */
} Listener;

static Listener listeners[3];

static gboolean
ready(void)
{
	if (setup_failure == NULL)
		return TRUE;
	if (g_str_has_prefix(setup_failure, "peer:"))
		exm_test_peer_missing("%s", setup_failure + 5);
	else
		g_test_fail_printf("setup failed: %s", setup_failure);
	return FALSE;
}

static JsonObject *
verify_client(const Listener *l, const gchar *name, const gchar *cafile)
{
	g_autofree gchar *script = exm_dp_script("tls-verify.py");
	g_autofree gchar *port = g_strdup_printf("%d", l->port);
	const gchar *argv[] = {
		"/usr/bin/python3", script, fx->addr, port, l->mode, name, cafile, NULL
	};
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(JsonNode) node = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(exm_test_run(argv, &out, &err), ==, 0);
	node = json_from_string(out, &error);
	g_assert_no_error(error);
	return json_object_ref(json_node_get_object(node));
}

/* Item 1: one name per node, and a client that verifies connects by it. */
static void
test_verified_by_name(void)
{
	g_autofree gchar *host = exm_mail_dns_primary_hostname(EXM_DP_TEST_DOMAIN);
	g_autofree gchar *cert = NULL;

	if (!ready())
		return;
	cert = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_CERT);
	for (guint i = 0; i < G_N_ELEMENTS(listeners); i++) {
		g_autoptr(JsonObject) good = verify_client(&listeners[i], host, cert);
		g_autoptr(JsonObject) wrong = verify_client(&listeners[i], "example.net", cert);
		g_autofree gchar *lower = NULL;

		g_test_message("port %d: %s",
			       listeners[i].port,
			       json_object_get_string_member_with_default(good, "error", "ok"));
		g_assert_true(json_object_get_boolean_member(good, "ok"));
		g_assert_true(
			g_str_has_prefix(json_object_get_string_member(good, "banner"), host));
		g_assert_true(g_str_has_prefix(json_object_get_string_member(good, "ehlo"), host));
		/* verification is really on: another name is refused */
		g_assert_false(json_object_get_boolean_member(wrong, "ok"));
		lower = g_ascii_strdown(json_object_get_string_member(wrong, "error"), -1);
		g_assert_nonnull(strstr(lower, "hostname"));
	}
}

/* exim's main log, for a failure's diagnosis. */
static void
dump_log(void)
{
	g_autofree gchar *dir = exm_dp_fixture_path(fx, EXM_DP_PATH_LOG_DIR);
	g_autofree gchar *path = g_build_filename(dir, "mainlog", NULL);
	g_autofree gchar *log = NULL;

	g_file_get_contents(path, &log, NULL, NULL);
	g_test_message("mainlog:\n%s", log != NULL ? log : "(none)");
}

/* sslscan's XML for one listener. */
static gchar *
scan(const Listener *l)
{
	g_autofree gchar *target = g_strdup_printf("%s:%d", fx->addr, l->port);
	const gchar *argv[] = { "sslscan",
				"--no-colour",
				"--no-heartbleed",
				"--no-compression",
				"--no-fallback",
				"--no-renegotiation",
				"--xml=-",
				g_str_equal(l->mode, "starttls") ? "--starttls-smtp"
								 : "--no-check-certificate",
				target,
				NULL };
	gchar *out = NULL;
	g_autofree gchar *err = NULL;

	g_assert_cmpint(exm_test_run(argv, &out, &err), ==, 0);
	return out;
}

/* The value of attribute @name in the XML element text @elem ("" if absent). */
static gchar *
xml_attr(const gchar *elem, const gchar *name)
{
	g_autofree gchar *pattern = g_strdup_printf("\\b%s=\"([^\"]*)\"", name);
	g_autoptr(GRegex) re = g_regex_new(pattern, 0, 0, NULL);
	g_autoptr(GMatchInfo) m = NULL;

	if (!g_regex_match(re, elem, 0, &m))
		return g_strdup("");
	return g_match_info_fetch(m, 1);
}

static void
check_protocols(const gchar *xml, GString *wrong)
{
	static const struct {
		const gchar *type, *version, *enabled;
	} want[] = {
		{ "ssl", "2", "0" },   { "ssl", "3", "0" },   { "tls", "1.0", "0" },
		{ "tls", "1.1", "0" }, { "tls", "1.2", "1" }, { "tls", "1.3", "1" },
	};

	for (guint k = 0; k < G_N_ELEMENTS(want); k++) {
		g_autofree gchar *pattern =
			g_strdup_printf("<protocol type=\"%s\" version=\"%s\" enabled=\"%s\"",
					want[k].type,
					want[k].version,
					want[k].enabled);

		if (strstr(xml, pattern) == NULL)
			g_string_append_printf(wrong, "want %s; ", pattern);
	}
}

/* Every accepted cipher: TLS 1.2/1.3, forward secret (ECDHE; TLS 1.3 always
 * is), AEAD (GCM or ChaCha20-Poly1305). */
static guint
check_ciphers(const gchar *xml, GString *wrong)
{
	g_autoptr(GRegex) re = g_regex_new("<cipher [^>]*>", 0, 0, NULL);
	g_autoptr(GMatchInfo) m = NULL;
	guint accepted = 0;

	for (g_regex_match(re, xml, 0, &m); g_match_info_matches(m); g_match_info_next(m, NULL)) {
		g_autofree gchar *elem = g_match_info_fetch(m, 0);
		g_autofree gchar *version = xml_attr(elem, "sslversion");
		g_autofree gchar *name = xml_attr(elem, "cipher");
		gboolean tls13 = g_str_equal(version, "TLSv1.3");
		gboolean fs = tls13 || g_str_has_prefix(name, "ECDHE-");
		gboolean aead = strstr(name, "GCM") != NULL || strstr(name, "CHACHA20") != NULL;

		accepted++;
		if (!(tls13 || g_str_equal(version, "TLSv1.2")) || !fs || !aead)
			g_string_append_printf(wrong, "accepted %s %s; ", version, name);
	}
	return accepted;
}

/* Item 5: the scanner's view of each listener. */
static void
test_scanner(void)
{
	if (!ready())
		return;
	for (guint i = 0; i < G_N_ELEMENTS(listeners); i++) {
		g_autofree gchar *xml = scan(&listeners[i]);
		g_autoptr(GString) wrong = g_string_new(NULL);

		g_test_message("sslscan port %d:\n%s", listeners[i].port, xml);
		if (strstr(xml, "<error>") != NULL)
			dump_log();
		g_assert_null(strstr(xml, "<error>"));
		check_protocols(xml, wrong);
		g_assert_cmpuint(check_ciphers(xml, wrong), >, 0);
		g_assert_cmpstr(wrong->str, ==, "");
	}
}

/* openssl s_client against @l with @extra options; %TRUE when the handshake
 * completed. */
static gboolean
handshake(const Listener *l, const gchar *const *extra)
{
	g_autofree gchar *target = g_strdup_printf("%s:%d", fx->addr, l->port);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint rc;

	g_ptr_array_add(argv, (gpointer) "openssl");
	g_ptr_array_add(argv, (gpointer) "s_client");
	g_ptr_array_add(argv, (gpointer) "-connect");
	g_ptr_array_add(argv, target);
	if (g_str_equal(l->mode, "starttls")) {
		g_ptr_array_add(argv, (gpointer) "-starttls");
		g_ptr_array_add(argv, (gpointer) "smtp");
	}
	for (guint i = 0; extra[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)extra[i]);
	g_ptr_array_add(argv, NULL);
	rc = exm_test_run((const gchar *const *)argv->pdata, &out, &err);
	/* a completed handshake prints the negotiated cipher */
	return rc == 0 && out != NULL && strstr(out, "Cipher is ") != NULL &&
	       strstr(out, "Cipher is (NONE)") == NULL;
}

/* Item 5 with the openssl client: what the issue saw complete is refused.  The
 * client's own security level is lowered (SECLEVEL=0): OpenSSL 3 refuses TLS
 * 1.0/1.1 by itself otherwise, and the test would prove nothing about exim. */
static void
test_openssl_refused(void)
{
	const gchar *tls1[] = { "-tls1", "-cipher", "DEFAULT@SECLEVEL=0", NULL };
	const gchar *tls1_1[] = { "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", NULL };
	const gchar *no_fs[] = { "-tls1_2", "-cipher", "AES128-SHA@SECLEVEL=0", NULL };
	const gchar *no_fs_gcm[] = { "-tls1_2", "-cipher", "AES128-GCM-SHA256", NULL };
	const gchar *cbc[] = { "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256", NULL };
	const gchar *modern12[] = { "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", NULL };
	const gchar *modern13[] = { "-tls1_3", NULL };

	if (!ready())
		return;
	for (guint i = 0; i < G_N_ELEMENTS(listeners); i++) {
		const Listener *l = &listeners[i];

		g_test_message("port %d", l->port);
		g_assert_false(handshake(l, tls1));
		g_assert_false(handshake(l, tls1_1));
		g_assert_false(handshake(l, no_fs));
		g_assert_false(handshake(l, no_fs_gcm));
		g_assert_false(handshake(l, cbc));
		g_assert_true(handshake(l, modern12));
		g_assert_true(handshake(l, modern13));
	}
}

static gchar *
unit_fixture(const gchar *name)
{
	g_autofree gchar *path =
		g_build_filename(EXM_SOURCE_ROOT, "tests", "unit", "tls", name, NULL);
	gchar *text = NULL;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	return text;
}

/* The unit suite's chain for mail.example.com: leaf, intermediate, root. */
static gchar *
unit_chain(void)
{
	g_autofree gchar *leaf = unit_fixture("rsa.pem");
	g_autofree gchar *inter = unit_fixture("inter.pem");
	g_autofree gchar *root = unit_fixture("root.pem");

	return g_strconcat(leaf, inter, root, NULL);
}

/* Verifying clients on every listener trusting @cafile: %TRUE when all connect. */
static gboolean
all_verify(const gchar *cafile)
{
	g_autofree gchar *host = exm_mail_dns_primary_hostname(EXM_DP_TEST_DOMAIN);
	gboolean all = TRUE;

	for (guint i = 0; i < G_N_ELEMENTS(listeners); i++) {
		g_autoptr(JsonObject) o = verify_client(&listeners[i], host, cafile);

		if (!json_object_get_boolean_member(o, "ok")) {
			g_test_message("port %d with %s: %s",
				       listeners[i].port,
				       cafile,
				       json_object_get_string_member(o, "error"));
			all = FALSE;
		}
	}
	if (!all) {
		dump_log();
	}
	return all;
}

/* Item 3 on the node: a tenant's chain and key replace the self-signed
 * certificate for the next handshake, without a restart and without dropping
 * an open session; a refused pair changes nothing; removing it goes back. */
static void
test_custom_certificate(void)
{
	g_autofree gchar *self_signed = NULL;
	g_autofree gchar *root = NULL;
	g_autofree gchar *chain = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *stranger = NULL;
	g_autofree gchar *custom = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr(GError) error = NULL;
	gboolean changed = FALSE;
	guint restarts;
	ExmDpHeld held;
	struct stat st;

	if (!ready())
		return;
	self_signed = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_CERT);
	custom = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_CUSTOM);
	root = g_build_filename(EXM_SOURCE_ROOT, "tests", "unit", "tls", "root.pem", NULL);
	chain = unit_chain();
	key = unit_fixture("rsa.key");
	stranger = unit_fixture("stranger.key");
	restarts = exm_dp_fixture_restarts(fx);
	g_assert_true(all_verify(self_signed));
	exm_dp_held_start(&held, fx->addr, listeners[2].port);

	/* a key that does not match: refused, nothing written */
	g_assert_false(exm_dp_tls_install(
		fx->config, EXM_DP_TEST_DOMAIN, chain, stranger, strlen(stranger), NULL, &error));
	g_assert_nonnull(error != NULL ? strstr(error->message, "does not match") : NULL);
	g_clear_error(&error);
	g_assert_false(g_file_test(custom, G_FILE_TEST_EXISTS));

	g_assert_true(exm_dp_tls_install(
		fx->config, EXM_DP_TEST_DOMAIN, chain, key, strlen(key), &changed, &error));
	g_assert_no_error(error);
	g_assert_true(changed);
	g_assert_cmpint(stat(custom, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0640);
	g_assert_true(all_verify(root));
	g_assert_false(all_verify(self_signed));
	/* the session opened before the swap still answers */
	after = exm_dp_held_finish(&held);
	g_assert_nonnull(strstr(after, "250 "));
	g_assert_nonnull(strstr(after, "221 "));
	g_assert_cmpuint(exm_dp_fixture_restarts(fx), ==, restarts);

	g_assert_true(g_file_test(custom, G_FILE_TEST_EXISTS));
	g_assert_true(exm_dp_tls_remove(fx->config, &changed, &error));
	g_assert_no_error(error);
	g_assert_true(changed);
	g_assert_true(all_verify(self_signed));
}

/* What openssl says of @pem's first certificate: its @field ("issuer",
 * "subject") one line, or its notAfter in exm_time_format()'s form. */
static gchar *
openssl_field(const gchar *pem, const gchar *field)
{
	const gchar *argv[] = {
		"openssl",	    "x509",	"-in",	    pem,  "-noout", "-nameopt",
		"oneline,-esc_msb", "-dateopt", "iso_8601", NULL, NULL
	};
	g_autofree gchar *flag = g_strconcat("-", field, NULL);
	g_autofree gchar *out = NULL;
	g_autofree gchar *prefix = NULL;
	gchar *value;

	argv[9] = flag;
	g_assert_cmpint(exm_test_run(argv, &out, NULL), ==, 0);
	g_strstrip(out);
	prefix = g_strconcat(g_str_equal(field, "enddate") ? "notAfter" : field, "=", NULL);
	g_assert_true(g_str_has_prefix(out, prefix));
	value = out + strlen(prefix);
	if (g_str_equal(field, "enddate")) {
		/* "2036-12-02 01:49:49Z" → "2036-12-02T01:49:49.000000Z" */
		g_assert_cmpuint(strlen(value), ==, 20);
		value[10] = 'T';
		value[19] = '\0';
		return g_strconcat(value, ".000000Z", NULL);
	}
	return g_strdup(value);
}

/* The `tls` member of the driver's one resource, listed now. */
static JsonObject *
listed_tls(ExmDpDriver *driver)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) list = exm_dp_driver_list(driver, EXM_DP_DRIVER_KIND, &error);
	JsonObject *o;

	g_assert_no_error(error);
	g_assert_cmpuint(list->len, ==, 1);
	o = json_object_get_object_member(json_node_get_object(list->pdata[0]), "tls");
	g_assert_nonnull(o);
	return json_object_ref(o);
}

/* The member names @pem's leaf as @source, with openssl's issuer, subject and
 * notAfter. */
static void
assert_describes(JsonObject *tls, const gchar *source, const gchar *pem)
{
	g_autofree gchar *issuer = openssl_field(pem, "issuer");
	g_autofree gchar *subject = openssl_field(pem, "subject");
	g_autofree gchar *not_after = openssl_field(pem, "enddate");

	g_assert_cmpstr(json_object_get_string_member(tls, "source"), ==, source);
	g_assert_cmpstr(json_object_get_string_member(tls, "issuer"), ==, issuer);
	g_assert_cmpstr(json_object_get_string_member(tls, "subject"), ==, subject);
	g_assert_cmpstr(json_object_get_string_member(tls, "not_after"), ==, not_after);
	g_assert_false(json_object_has_member(tls, "error"));
}

/* Item 4 on the node: the actual value says which certificate exim serves;
 * installing or removing the tenant's makes an idle agent list again (its
 * `unchanged` turns false), and an unreadable one is reported as an error. */
static void
test_status(void)
{
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(JsonNode) value = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(JsonObject) tls = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *self_signed = NULL;
	g_autofree gchar *custom = NULL;
	g_autofree gchar *chain = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *leaf = NULL;

	if (!ready())
		return;
	self_signed = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_CERT);
	custom = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_CUSTOM);
	leaf = g_build_filename(EXM_SOURCE_ROOT, "tests", "unit", "tls", "rsa.pem", NULL);
	chain = unit_chain();
	key = unit_fixture("rsa.key");
	driver = exm_dp_driver_new(fx->config, &error);
	g_assert_no_error(error);
	value = exm_dp_node_value("5e3f8a9c-1b2d-4c5e-8f70-0a1b2c3d4e5f", NULL);
	actual = exm_dp_driver_apply(driver, value, NULL, &error);
	g_assert_no_error(error);

	/* the self-signed certificate configure made, named mail.<domain> */
	tls = listed_tls(driver);
	assert_describes(tls, "self_signed", self_signed);
	g_assert_nonnull(strstr(json_object_get_string_member(tls, "subject"), "mail.example.com"));
	g_assert_true(exm_dp_driver_unchanged(driver, EXM_DP_DRIVER_KIND));

	/* the tenant's chain: served, so reported, and the idle check sees it */
	g_assert_true(exm_dp_tls_install(
		fx->config, EXM_DP_TEST_DOMAIN, chain, key, strlen(key), NULL, &error));
	g_assert_no_error(error);
	g_assert_false(exm_dp_driver_unchanged(driver, EXM_DP_DRIVER_KIND));
	g_clear_pointer(&tls, json_object_unref);
	tls = listed_tls(driver);
	assert_describes(tls, "custom", leaf);
	g_assert_cmpstr(json_object_get_string_member(tls, "issuer"), ==, "CN = Test Intermediate");
	g_assert_true(exm_dp_driver_unchanged(driver, EXM_DP_DRIVER_KIND));

	/* a tenant's file that holds no certificate: exim cannot serve it either */
	g_assert_true(g_file_set_contents(custom, "not a certificate\n", -1, NULL));
	g_assert_false(exm_dp_driver_unchanged(driver, EXM_DP_DRIVER_KIND));
	g_clear_pointer(&tls, json_object_unref);
	tls = listed_tls(driver);
	g_assert_cmpstr(json_object_get_string_member(tls, "source"), ==, "custom");
	g_assert_cmpstr(json_object_get_string_member(tls, "error"),
			==,
			"custom.pem: no readable certificate");
	g_assert_false(json_object_has_member(tls, "not_after"));

	/* removed: the self-signed one again */
	g_assert_true(exm_dp_tls_remove(fx->config, NULL, &error));
	g_assert_no_error(error);
	g_assert_false(exm_dp_driver_unchanged(driver, EXM_DP_DRIVER_KIND));
	g_clear_pointer(&tls, json_object_unref);
	tls = listed_tls(driver);
	assert_describes(tls, "self_signed", self_signed);
}

/* The driver's one resource, listed now: whether it carries `tls_custom`
 * (the pair reported applied). */
static gboolean
listed_custom(ExmDpDriver *driver)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) list = exm_dp_driver_list(driver, EXM_DP_DRIVER_KIND, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(list->len, ==, 1);
	return json_object_has_member(json_node_get_object(list->pdata[0]), "tls_custom");
}

/* The node value with `tls_custom` {@chain, @key} (none when %NULL). */
static JsonNode *
value_with_custom(const gchar *chain, const gchar *key)
{
	JsonNode *value = exm_dp_node_value("5e3f8a9c-1b2d-4c5e-8f70-0a1b2c3d4e5f", NULL);
	JsonObject *tc;

	if (chain == NULL)
		return value;
	tc = json_object_new();
	json_object_set_string_member(tc, "chain", chain);
	json_object_set_string_member(tc, "key", key);
	json_object_set_object_member(json_node_get_object(value), "tls_custom", tc);
	return value;
}

/* Item 3 through the driver (docs/tls.md §3): the value's `tls_custom` is
 * installed (0640) and reported applied, so the actual value projects equal
 * to the target; a file changed behind the driver reads as not applied until
 * the next apply writes it again; a value without it removes the file; a
 * pair the node refuses fails the apply, names no key and writes nothing. */
static void
test_driver_custom(void)
{
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *custom = NULL;
	g_autofree gchar *chain = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *stranger = NULL;
	struct stat st;

	if (!ready())
		return;
	custom = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_CUSTOM);
	chain = unit_chain();
	key = unit_fixture("rsa.key");
	stranger = unit_fixture("stranger.key");
	driver = exm_dp_driver_new(fx->config, &error);
	g_assert_no_error(error);
	{
		g_autoptr(JsonNode) value = value_with_custom(chain, key);
		g_autoptr(JsonNode) actual = exm_dp_driver_apply(driver, value, NULL, &error);
		JsonObject *tc;

		g_assert_no_error(error);
		tc = json_object_get_object_member(json_node_get_object(actual), "tls_custom");
		g_assert_cmpstr(json_object_get_string_member(tc, "chain"), ==, chain);
		g_assert_cmpstr(json_object_get_string_member(tc, "key"), ==, key);
	}
	g_assert_cmpint(stat(custom, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0640);
	g_assert_true(listed_custom(driver));
	{
		g_autoptr(JsonObject) tls = listed_tls(driver);

		g_assert_cmpstr(json_object_get_string_member(tls, "source"), ==, "custom");
	}
	/* behind the driver's back: not applied, until the next apply */
	g_assert_true(g_file_set_contents(custom, "changed\n", -1, NULL));
	g_assert_false(listed_custom(driver));
	{
		g_autoptr(JsonNode) value = value_with_custom(chain, key);
		g_autoptr(JsonNode) actual = exm_dp_driver_apply(driver, value, NULL, &error);

		g_assert_no_error(error);
		g_assert_true(listed_custom(driver));
	}
	/* a pair the node refuses: the apply fails, the served file stays */
	{
		g_autoptr(JsonNode) value = value_with_custom(chain, stranger);
		g_autoptr(JsonNode) actual = exm_dp_driver_apply(driver, value, NULL, &error);
		g_autofree gchar *line = g_strndup(strchr(stranger, '\n') + 1, 40);

		g_assert_null(actual);
		g_assert_nonnull(error);
		g_assert_true(g_str_has_prefix(error->message, "tls_custom: key does not match"));
		g_assert_null(strstr(error->message, line));
		g_clear_error(&error);
		g_assert_true(listed_custom(driver));
	}
	/* no tls_custom: removed, the self-signed certificate again */
	{
		g_autoptr(JsonNode) value = value_with_custom(NULL, NULL);
		g_autoptr(JsonNode) actual = exm_dp_driver_apply(driver, value, NULL, &error);
		g_autoptr(JsonObject) tls = NULL;

		g_assert_no_error(error);
		g_assert_false(g_file_test(custom, G_FILE_TEST_EXISTS));
		g_assert_false(json_object_has_member(json_node_get_object(actual), "tls_custom"));
		tls = listed_tls(driver);
		g_assert_cmpstr(json_object_get_string_member(tls, "source"), ==, "self_signed");
	}
}

static gchar *
check_peers(void)
{
	static const gchar *const programs[] = { "exim4", "sslscan", "openssl", NULL };

	for (guint i = 0; programs[i] != NULL; i++) {
		g_autofree gchar *path = exm_test_find_program(programs[i]);

		if (path == NULL)
			return g_strdup_printf("peer:%s is not installed", programs[i]);
	}
	if (!g_file_test("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
		return g_strdup("peer:/usr/bin/python3 is not installed");
	return NULL;
}

static void
start(void)
{
	g_autoptr(GError) error = NULL;

	setup_failure = check_peers();
	if (setup_failure != NULL)
		return;
	fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	listeners[0] = (Listener){ fx->config->smtp_port, "starttls" };
	listeners[1] = (Listener){ fx->config->submission_port, "starttls" };
	listeners[2] = (Listener){ fx->config->smtps_port, "tls" };
	/* a scanner opens dozens of connections at once from one address: the
	 * node's per-host limit (20) would refuse them, not the TLS profile */
	fx->config->smtp_accept_max = 200;
	fx->config->smtp_accept_max_per_host = 200;
	if (!exm_dp_fixture_configure(fx, &error) || !exm_dp_fixture_start_exim(fx, &error))
		setup_failure = g_strdup(error->message);
}

/* In a mount namespace of its own, with @dir mounted read-only (what the
 * agent's unit makes of a ReadWritePaths= directory that appeared after the
 * agent started): removing a file that is not there succeeds and writes
 * nothing; one that is there is refused.  0 when both hold. */
static int
remove_on_read_only(const gchar *dir)
{
	g_autofree gchar *absent = g_build_filename(dir, "custom.pem", NULL);
	g_autofree gchar *present = g_build_filename(dir, "present.pem", NULL);
	g_autoptr(GError) error = NULL;
	gboolean changed = TRUE;

	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount(dir, dir, NULL, MS_BIND, NULL) != 0 ||
	    mount(NULL, dir, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0)
		return 2;
	if (!exm_dp_tls_remove_at(absent, &changed, &error) || changed)
		return 3;
	if (exm_dp_tls_remove_at(present, &changed, &error))
		return 4;
	return 0;
}

/* On a read-only tls/ directory (the image's first boot), the driver's
 * "no tenant certificate" must not fail for want of a file to remove. */
static void
test_remove_read_only(void)
{
	g_autofree gchar *dir = exm_test_mkdtemp("exm-tls-ro");
	g_autofree gchar *present = g_build_filename(dir, "present.pem", NULL);
	pid_t pid;
	int status = 0;

	g_assert_true(g_file_set_contents(present, "x", 1, NULL));
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0)
		_exit(remove_on_read_only(dir));
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_assert_true(g_file_test(present, G_FILE_TEST_EXISTS));
	exm_test_rmtree(dir);
}

int
main(int argc, char **argv)
{
	int rc;

	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/tls/verified-by-name", test_verified_by_name);
	g_test_add_func("/dp/tls/scanner", test_scanner);
	g_test_add_func("/dp/tls/openssl-refused", test_openssl_refused);
	g_test_add_func("/dp/tls/custom-certificate", test_custom_certificate);
	g_test_add_func("/dp/tls/status", test_status);
	g_test_add_func("/dp/tls/driver-custom", test_driver_custom);
	g_test_add_func("/dp/tls/remove-read-only", test_remove_read_only);
	start();
	rc = g_test_run();
	exm_dp_fixture_free(fx);
	g_free(setup_failure);
	return rc;
}
