/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * exordos-mail-configure against a sandbox root: keys and certificate made once,
 * platform.txt, modes and owners, idempotency (no change, no restart), missing
 * or invalid mail.env (nothing written), the rendered config accepted by exim.
 */
#include <glib/gstdio.h>
#include <grp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exm-cleanup.h"
#include "exm-config.h"
#include "exm-dp-configure.h"
#include "exm-dp-error.h"
#include "exm-dp-fixture.h"
#include "exm-dp-keys.h"
#include "exm-dp-template.h"
#include "exm-dp-driver.h"
#include "exm-mail-files.h"
#include "exm-test.h"

/* One line per file or directory under @root: path, mode, owner, size, inode,
 * mtime; equal snapshots mean nothing was created, replaced or touched. */
static void
snapshot_dir(const gchar *root, const gchar *rel, GPtrArray *out)
{
	g_autofree gchar *dir = g_build_filename(root, rel, NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *sub = g_build_filename(rel, name, NULL);
		g_autofree gchar *path = g_build_filename(root, sub, NULL);
		struct stat st;

		if (g_str_equal(sub, "restarts.log") || lstat(path, &st) != 0)
			continue;
		g_ptr_array_add(out,
				g_strdup_printf("%s %o %u:%u %ld %lu %ld.%09ld",
						sub,
						st.st_mode,
						st.st_uid,
						st.st_gid,
						(long)st.st_size,
						(gulong)st.st_ino,
						(long)st.st_mtim.tv_sec,
						(long)st.st_mtim.tv_nsec));
		if (S_ISDIR(st.st_mode))
			snapshot_dir(root, sub, out);
	}
}

static gint
cmp_line(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

static gchar *
snapshot(ExmDpFixture *fx)
{
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);

	snapshot_dir(fx->root, "", lines);
	g_ptr_array_sort(lines, cmp_line);
	g_ptr_array_add(lines, NULL);
	return g_strjoinv("\n", (gchar **)lines->pdata);
}

static void
assert_mode(ExmDpFixture *fx, const gchar *node_path, guint mode, const gchar *group)
{
	g_autofree gchar *path = exm_dp_fixture_path(fx, node_path);
	struct group *gr = getgrnam(group);
	struct stat st;

	if (stat(path, &st) != 0 || gr == NULL) {
		g_test_fail_printf("%s: missing (or no group %s)", path, group);
		return;
	}
	g_assert_cmpint(st.st_mode & 07777, ==, mode);
	g_assert_cmpint(st.st_uid, ==, 0);
	g_assert_cmpint(st.st_gid, ==, gr->gr_gid);
}

static EVP_PKEY *
read_key(ExmDpFixture *fx, const gchar *node_path)
{
	g_autofree gchar *path = exm_dp_fixture_path(fx, node_path);
	g_autofree gchar *pem = exm_test_read_file(path);
	g_autoptr(GError) error = NULL;
	EVP_PKEY *key = exm_dp_keys_load_rsa(pem, strlen(pem), &error);

	g_assert_no_error(error);
	return key;
}

/* platform.txt: quoted chunks of ≤255 bytes whose concatenation is the record of
 * the DKIM private key's public half. */
static void
check_platform_txt(ExmDpFixture *fx, const gchar *domain)
{
	g_autofree gchar *path = exm_dp_fixture_path(fx, EXM_DP_PATH_DKIM_TXT);
	g_autofree gchar *txt = exm_test_read_file(path);
	g_autoptr(EVP_PKEY) key = read_key(fx, EXM_DP_PATH_DKIM_KEY);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *b64 = NULL;
	g_autofree gchar *expect = NULL;
	g_autofree gchar *data = NULL;
	g_auto(GStrv) parts = NULL;

	if (txt == NULL || key == NULL)
		return;
	b64 = exm_dp_keys_public_b64(key, &error);
	EXM_TEST_OK(error);
	expect = g_strdup_printf("v=DKIM1; h=sha256; k=rsa; p=%s", b64);
	data = exm_mail_dkim_txt_parse(txt);
	g_assert_cmpstr(data, ==, expect);
	g_assert_true(g_str_has_prefix(txt, "platform._domainkey"));
	g_assert_nonnull(strstr(txt, domain));
	parts = g_strsplit(txt, "\"", -1);
	g_assert_cmpuint(g_strv_length(parts), >=, 5); /* 2048-bit key: ≥2 chunks */
	for (guint i = 1; parts[i] != NULL; i += 2)
		g_assert_cmpuint(strlen(parts[i]), <=, 255);
}

static void
check_cert(ExmDpFixture *fx, const gchar *host)
{
	g_autofree gchar *path = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_CERT);
	g_autofree gchar *pem = exm_test_read_file(path);
	g_autoptr(EVP_PKEY) key = read_key(fx, EXM_DP_PATH_TLS_KEY);
	g_autoptr(BIO) bio = NULL;
	g_autoptr(X509) cert = NULL;
	GENERAL_NAMES *san;

	if (pem == NULL || key == NULL)
		return;
	bio = BIO_new_mem_buf(pem, -1);
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	g_assert_nonnull(cert);
	if (cert == NULL)
		return;
	g_assert_cmpint(X509_check_private_key(cert, key), ==, 1);
	g_assert_cmpint(X509_check_host(cert, host, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL),
			==,
			1); /* through the subjectAltName */
	san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	g_assert_nonnull(san);
	GENERAL_NAMES_free(san);
	g_assert_cmpint(X509_get_signature_nid(cert), ==, NID_sha256WithRSAEncryption);
}

static void
check_exim_accepts(ExmDpFixture *fx)
{
	g_autofree gchar *conf = exm_dp_fixture_path(fx, EXM_DP_PATH_EXIM_CONF);
	const gchar *argv[] = { fx->config->exim_binary, "-C", conf, "-bV", NULL };
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;

	if (!exm_dp_have(fx->config->exim_binary))
		return;
	g_assert_cmpint(exm_test_run(argv, &out, &err), ==, 0);
}

static void
test_first_run(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	ExmDpConfigureResult r = { 0 };
	g_autoptr(GError) error = NULL;
	g_autofree gchar *conf = NULL;
	g_autofree gchar *conf_path = NULL;
	g_autofree gchar *passwd = exm_dp_fixture_path(fx, EXM_DP_PATH_PASSWD);
	g_autofree gchar *pw = NULL;

	g_assert_true(exm_dp_configure_run(fx->config, &r, &error));
	EXM_TEST_OK(error);
	g_assert_cmpstr(r.domain, ==, EXM_DP_TEST_DOMAIN);
	g_assert_true(r.changed && r.dkim_generated && r.tls_generated && r.cert_generated &&
		      r.config_written && r.restarted);
	exm_dp_configure_result_clear(&r);
	g_assert_cmpuint(exm_dp_fixture_restarts(fx), ==, 1);
	assert_mode(fx, EXM_DP_PATH_DKIM_KEY, 0640, "Debian-exim");
	assert_mode(fx, EXM_DP_PATH_TLS_KEY, 0640, "Debian-exim");
	assert_mode(fx, EXM_DP_PATH_DKIM_DIR, 0750, "Debian-exim");
	assert_mode(fx, EXM_DP_PATH_TLS_DIR, 0750, "Debian-exim");
	assert_mode(fx, EXM_DP_PATH_PASSWD, 0640, "Debian-exim");
	assert_mode(fx, EXM_DP_PATH_TLS_CERT, 0644, "root");
	assert_mode(fx, EXM_DP_PATH_DKIM_TXT, 0644, "root");
	assert_mode(fx, EXM_DP_PATH_EXIM_CONF, 0644, "root");
	assert_mode(fx, EXM_DP_PATH_PERSIST, 0710, "Debian-exim");
	assert_mode(fx, "/etc/exim4/dkim", 0755, "root");
	pw = exm_test_read_file(passwd);
	g_assert_cmpstr(pw, ==, "");
	check_platform_txt(fx, EXM_DP_TEST_DOMAIN);
	check_cert(fx, "mail." EXM_DP_TEST_DOMAIN);
	conf_path = exm_dp_fixture_path(fx, EXM_DP_PATH_EXIM_CONF);
	conf = exm_test_read_file(conf_path);
	g_assert_nonnull(strstr(conf, "EXM_DOMAIN = example.com\n"));
	g_assert_nonnull(strstr(conf, fx->root));
	g_assert_null(strstr(conf, "@DOMAIN@"));
	check_exim_accepts(fx);
}

static void
test_idempotent(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	ExmDpConfigureResult r = { 0 };
	g_autoptr(GError) error = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *dkim1 = NULL;
	g_autofree gchar *dkim2 = NULL;
	g_autofree gchar *key_path = exm_dp_fixture_path(fx, EXM_DP_PATH_DKIM_KEY);

	g_assert_true(exm_dp_configure_run(fx->config, &r, &error));
	EXM_TEST_OK(error);
	exm_dp_configure_result_clear(&r);
	before = snapshot(fx);
	dkim1 = exm_test_read_file(key_path);
	g_assert_true(exm_dp_configure_run(fx->config, &r, &error));
	EXM_TEST_OK(error);
	g_assert_false(r.changed || r.dkim_generated || r.tls_generated || r.cert_generated ||
		       r.config_written || r.restarted);
	exm_dp_configure_result_clear(&r);
	after = snapshot(fx);
	dkim2 = exm_test_read_file(key_path);
	g_assert_cmpstr(before, ==, after);
	g_assert_cmpstr(dkim1, ==, dkim2);
	g_assert_cmpuint(exm_dp_fixture_restarts(fx), ==, 1);
}

static void
expect_refused(ExmDpFixture *fx, const gchar *what)
{
	g_autofree gchar *before = snapshot(fx);
	g_autofree gchar *after = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(GError) error = NULL;
	ExmDpConfigureResult r = { 0 };
	const gchar *argv[] = { EXM_CONFIGURE_BIN, "--root",	  fx->root, "--listen",
				fx->addr,	   "--no-verify", NULL };

	g_assert_false(exm_dp_configure_run(fx->config, &r, &error));
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG);
	g_assert_nonnull(error != NULL ? strstr(error->message, "mail.env") : NULL);
	exm_dp_configure_result_clear(&r);
	g_assert_cmpint(exm_test_run(argv, &out, &err), ==, 1);
	g_assert_true(g_str_has_prefix(err, "exordos-mail-configure: "));
	g_test_message("%s: %s", what, err);
	after = snapshot(fx);
	g_assert_cmpstr(before, ==, after);
	g_assert_cmpuint(exm_dp_fixture_restarts(fx), ==, 0);
}

static void
test_missing_env(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(NULL);

	expect_refused(fx, "missing");
}

static void
test_invalid_env(void)
{
	const gchar *bad[] = {
		"MAIL_DOMAIN=bad domain\n",
		"MAIL_DOMAIN=localhost\n",
		"MAIL_DOMAIN=$(touch /tmp/pwned).example.com\n",
		"MAIL_DOMAIN=example.com\nMAIL_DOMAIN=example.org\n",
		"MAIL_DOMAIN=example.com\nEVIL=1\n",
		"# nothing\n",
		"",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(NULL);
		g_autofree gchar *path = exm_dp_fixture_path(fx, EXM_DP_PATH_MAIL_ENV);
		g_autofree gchar *dir = g_path_get_dirname(path);

		g_mkdir_with_parents(dir, 0755);
		g_assert_true(g_file_set_contents(path, bad[i], -1, NULL));
		expect_refused(fx, bad[i]);
	}
}

/* exordos-mail-configure itself on the sandbox; its exit status. */
static gint
run_binary(ExmDpFixture *fx, gchar **out)
{
	g_autofree gchar *restart = g_strdup_printf("sh -c 'echo r >> %s'", fx->restarts);
	const gchar *argv[] = { EXM_CONFIGURE_BIN,
				"--root",
				fx->root,
				"--listen",
				fx->addr,
				"--restart-command",
				restart,
				"--exim",
				fx->config->exim_binary,
				fx->config->verify_config ? NULL : "--no-verify",
				NULL };

	return exm_test_run(argv, out, NULL);
}

static void
test_binary(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	const gchar *help[] = { EXM_CONFIGURE_BIN, "--help", NULL };
	g_autofree gchar *out = NULL;
	g_autofree gchar *out2 = NULL;
	g_autofree gchar *usage = NULL;

	g_assert_cmpint(run_binary(fx, &out), ==, 0);
	g_assert_true(g_str_has_prefix(out, "mail server configured: domain=example.com\n"));
	g_assert_cmpint(run_binary(fx, &out2), ==, 0);
	g_assert_true(g_str_has_prefix(out2, "mail server unchanged: domain=example.com\n"));
	g_assert_cmpuint(exm_dp_fixture_restarts(fx), ==, 1);
	g_assert_cmpint(exm_test_run(help, &usage, NULL), ==, 0);
	g_assert_nonnull(strstr(usage, "--root"));
}

static void
test_domain_change(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_autofree gchar *env = exm_dp_fixture_path(fx, EXM_DP_PATH_MAIL_ENV);
	g_autofree gchar *key_path = exm_dp_fixture_path(fx, EXM_DP_PATH_DKIM_KEY);
	g_autofree gchar *k1 = NULL;
	g_autofree gchar *k2 = NULL;
	ExmDpConfigureResult r = { 0 };
	g_autoptr(GError) error = NULL;

	g_assert_true(exm_dp_configure_run(fx->config, &r, &error));
	EXM_TEST_OK(error);
	exm_dp_configure_result_clear(&r);
	k1 = exm_test_read_file(key_path);
	g_assert_true(g_file_set_contents(env, "MAIL_DOMAIN=\"Example.ORG\"\n", -1, NULL));
	g_assert_true(exm_dp_configure_run(fx->config, &r, &error));
	EXM_TEST_OK(error);
	g_assert_cmpstr(r.domain, ==, "example.org");
	g_assert_true(r.cert_generated && r.config_written && r.restarted);
	g_assert_false(r.dkim_generated || r.tls_generated);
	exm_dp_configure_result_clear(&r);
	k2 = exm_test_read_file(key_path);
	g_assert_cmpstr(k1, ==, k2);
	check_cert(fx, "mail.example.org");
	check_platform_txt(fx, "example.org");
	g_assert_cmpuint(exm_dp_fixture_restarts(fx), ==, 2);
}

static void
test_restart_failure(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	ExmDpConfigureResult r = { 0 };
	g_autoptr(GError) error = NULL;

	g_autofree gchar *good = g_strdup(fx->config->restart_command);

	g_free(fx->config->restart_command);
	fx->config->restart_command = g_strdup("false");
	g_assert_false(exm_dp_configure_run(fx->config, &r, &error));
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED);
	g_assert_nonnull(error != NULL ? strstr(error->message, "restart command") : NULL);
	g_clear_error(&error);
	exm_dp_configure_result_clear(&r);
	/* nothing changes on the next run, but the failed restart is retried once */
	g_free(fx->config->restart_command);
	fx->config->restart_command = g_steal_pointer(&good);
	g_assert_true(exm_dp_configure_run(fx->config, &r, &error));
	EXM_TEST_OK(error);
	g_assert_true(r.restarted);
	g_assert_false(r.config_written || r.dkim_generated);
	exm_dp_configure_result_clear(&r);
	g_assert_true(exm_dp_configure_run(fx->config, &r, &error));
	EXM_TEST_OK(error);
	g_assert_false(r.restarted);
	exm_dp_configure_result_clear(&r);
	g_assert_cmpuint(exm_dp_fixture_restarts(fx), ==, 1);
}

static void
test_bad_template(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_autofree gchar *tmpl = g_build_filename(fx->root, "bad.conf.in", NULL);
	g_autofree gchar *conf = exm_dp_fixture_path(fx, EXM_DP_PATH_EXIM_CONF);
	ExmDpConfigureResult r = { 0 };
	g_autoptr(GError) error = NULL;

	if (!exm_dp_have(fx->config->exim_binary))
		return;
	g_assert_true(g_file_set_contents(
		tmpl, "primary_hostname = @DOMAIN@\nno_such_option = 1\n", -1, NULL));
	fx->config->template_path = g_strdup(tmpl);
	g_assert_false(exm_dp_configure_run(fx->config, &r, &error));
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG);
	g_assert_nonnull(error != NULL ? strstr(error->message, "exim rejects") : NULL);
	exm_dp_configure_result_clear(&r);
	g_assert_false(g_file_test(conf, G_FILE_TEST_EXISTS));
}

static void
test_template(void)
{
	g_autoptr(GHashTable) vars = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *bad = NULL;
	g_autofree gchar *unsafe = NULL;

	g_hash_table_insert(vars, "DOMAIN", "example.com");
	g_hash_table_insert(vars, "EVIL", "x\nspool_directory = /");
	g_hash_table_insert(vars, "EXPAND", "${run{/bin/sh}}");
	out = exm_dp_template_render("a = @DOMAIN@ {@}{$x@D} @@ @x@\n", vars, &error);
	EXM_TEST_OK(error);
	g_assert_cmpstr(out, ==, "a = example.com {@}{$x@D} @@ @x@\n");
	bad = exm_dp_template_render("@NOPE@", vars, &error);
	g_assert_null(bad);
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG);
	g_clear_error(&error);
	unsafe = exm_dp_template_render("@EVIL@", vars, &error);
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG);
	g_clear_error(&error);
	g_assert_null(exm_dp_template_render("@EXPAND@", vars, &error));
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG);
}

static void
test_config(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(NULL);
	g_autofree gchar *ini = g_build_filename(fx->root, "dp.conf", NULL);
	struct {
		const gchar *key, *value;
	} bad[] = {
		{ "root", "relative/dir" },
		{ "root", "/tmp/a b" },
		{ "root", "/tmp/../etc" },
		{ "listen", "not-an-ip" },
		{ "smarthost", "host.example:25" },
		{ "smarthost", "127.0.0.1" },
		{ "smtp_port", "587" },
		{ "message_size_limit", "25G" },
		{ "group", "a:b" },
		{ "restart_command", "'unterminated" },
		{ "extra_ignore_target_hosts", "10.0.0.0/33" },
		{ "extra_ignore_target_hosts", "::1/129" },
		{ "extra_ignore_target_hosts", "10.0.0.0/+8" },
		{ "extra_ignore_target_hosts", "10.0.0.0/" },
		{ "extra_ignore_target_hosts", "10.1" },
		{ "extra_ignore_target_hosts", "fe80::1%eth0" },
		{ "extra_ignore_target_hosts", "mx.example.com" },
		{ "extra_ignore_target_hosts", "10.0.0.0/8 ; *" },
		{ "extra_ignore_target_hosts", "10.0.0.0/8 : ${run{/bin/sh}}" },
		{ "extra_ignore_target_hosts", "10.0.0.0/8\\n  no_more" },
		{ "acme_http_listen", "0.0.0.0" },
		{ "acme_http_listen", "0.0.0.0:0" },
		{ "acme_http_listen", "example.com:80" },
		{ "acme_http_listen", "::1:80" },
		{ "acme_http_listen", "0.0.0.0:65536" },
		{ "acme_dir", "relative/acme" },
		{ "acme_dir", "/persist/../etc" },
		{ "acme_ca_file", "/tmp/ca file.pem" },
		{ "usage_report_interval", "-1" },
		{ "usage_report_interval", "3601" },
		{ "usage_report_interval", "30s" },
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(ExmDpConfig) c = exm_dp_config_new();

	g_assert_true(g_file_set_contents(ini,
					  "[universal_agent]\nuuid5_name = mailaas\n"
					  "[dataplane]\nroot = /srv/node\nlisten = 127.1.0.2, ::1\n"
					  "smtps_port = 10465\nverify_config = false\n"
					  "acme_http_listen = [::1]:8080\n"
					  "usage_report_interval = 0\n",
					  -1,
					  NULL));
	g_assert_true(exm_dp_config_load_file(c, ini, &error));
	EXM_TEST_OK(error);
	g_assert_cmpstr(c->root, ==, "/srv/node");
	g_assert_cmpint(c->smtps_port, ==, 10465);
	g_assert_false(c->verify_config);
	g_assert_cmpstr(c->acme_http_listen, ==, "[::1]:8080");
	g_assert_cmpstr(c->acme_dir, ==, EXM_DP_PATH_ACME_DIR);
	g_assert_cmpint(c->usage_report_interval, ==, 0);
	g_assert_true(exm_dp_config_validate(c, &error));
	EXM_TEST_OK(error);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(ExmDpConfig) b = exm_dp_config_new();
		g_autofree gchar *text =
			g_strdup_printf("[dataplane]\n%s = %s\n", bad[i].key, bad[i].value);

		g_assert_true(g_file_set_contents(ini, text, -1, NULL));
		if (exm_dp_config_load_file(b, ini, &error))
			g_assert_false(exm_dp_config_validate(b, &error));
		g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG);
		g_clear_error(&error);
	}
}

/* The platform's own ranges reach exim's ignore_target_hosts in canonical form,
 * after the built-in list; anything else is refused before rendering. */
static void
test_ignore_target_hosts(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	const gchar *extra[] = { "203.0.113.0/24", "2001:DB8:1:0::/48", "198.51.100.7", NULL };
	const gchar *evil[] = { "10.0.0.0/8 ; *", NULL };
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *refused = NULL;

	g_strfreev(fx->config->extra_ignore_target_hosts);
	fx->config->extra_ignore_target_hosts = g_strdupv((gchar **)extra);
	g_assert_true(exm_dp_config_validate(fx->config, &error));
	EXM_TEST_OK(error);
	text = exm_dp_configure_render(fx->config, EXM_DP_TEST_DOMAIN, &error);
	EXM_TEST_OK(error);
	g_assert_nonnull(strstr(text, "169.254.0.0/16"));
	g_assert_nonnull(strstr(text, "100.64.0.0/10"));
	g_assert_nonnull(strstr(text, "fc00::/7"));
	g_assert_nonnull(
		strstr(text, "ff00::/8 ; 203.0.113.0/24 ; 2001:db8:1::/48 ; 198.51.100.7/32\n"));
	g_strfreev(fx->config->extra_ignore_target_hosts);
	fx->config->extra_ignore_target_hosts = g_strdupv((gchar **)evil);
	refused = exm_dp_configure_render(fx->config, EXM_DP_TEST_DOMAIN, &error);
	g_assert_null(refused);
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG);
}

/* Paths the given unit may write, from data/dp-write-paths.txt (`<unit> <path>`). */
static GHashTable *
write_paths(const gchar *unit)
{
	g_autofree gchar *path =
		g_build_filename(EXM_SOURCE_ROOT, "data", "dp-write-paths.txt", NULL);
	g_autofree gchar *text = exm_test_read_file(path);
	g_auto(GStrv) lines = g_strsplit(text != NULL ? text : "", "\n", -1);
	GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) f = g_strsplit_set(g_strstrip(lines[i]), " \t", 2);

		if (f[0] != NULL && f[1] != NULL && f[0][0] != '#' &&
		    (g_str_equal(f[0], unit) || g_str_equal(f[0], "preexisting")))
			g_hash_table_add(set, g_strdup(g_strstrip(f[1])));
	}
	return set;
}

static gboolean
had_path(const gchar *const *lines, const gchar *rel)
{
	g_autofree gchar *prefix = g_strconcat(rel, " ", NULL);

	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], prefix))
			return TRUE;
	}
	return FALSE;
}

/* Every file written since @before (a snapshot) must be listed for @unit, and
 * its directory too (atomic writes create temp files there); every directory
 * created must be listed as `<dir>/`. */
static void
check_written(ExmDpFixture *fx, const gchar *before, const gchar *unit)
{
	g_autoptr(GHashTable) allowed = write_paths(unit);
	g_autofree gchar *after = snapshot(fx);
	g_auto(GStrv) old_lines = g_strsplit(before, "\n", -1);
	g_auto(GStrv) new_lines = g_strsplit(after, "\n", -1);

	for (guint i = 0; new_lines[i] != NULL; i++) {
		g_auto(GStrv) f = g_strsplit(new_lines[i], " ", 2);
		g_autofree gchar *abs = g_strconcat("/", f[0], NULL);
		g_autofree gchar *dir = g_path_get_dirname(abs);
		g_autofree gchar *dir_slash = g_strconcat(dir, "/", NULL);
		g_autofree gchar *self_slash = g_strconcat(abs, "/", NULL);
		gboolean is_dir = f[1] != NULL && g_str_has_prefix(f[1], "40");
		gboolean ok;

		if (g_strv_contains((const gchar *const *)old_lines, new_lines[i]) ||
		    g_str_has_prefix(abs, "/sink"))
			continue;
		if (is_dir) {
			/* a preexisting directory changes when files appear in it */
			ok = g_hash_table_contains(allowed, self_slash) ||
			     had_path((const gchar *const *)old_lines, f[0]);
		} else {
			ok = g_hash_table_contains(allowed, abs) &&
			     g_hash_table_contains(allowed, dir_slash);
		}
		if (!ok)
			g_test_fail_printf(
				"%s wrote %s, not covered by data/dp-write-paths.txt", unit, abs);
	}
}

static void
test_write_paths(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	/* exim4-daemon-light's own directories (the fixture has the image's) */
	const gchar *preexisting[] = { "/var/spool/exim4", "/var/log/exim4", "/run/exim4" };
	const gchar *accounts[] = {
		"alice",
		"$6$abcdefgh$oGoxMtczJ0/xYkNKQnGuC3pOdNoGsZRZNs7n5JzX8KfMJWEmD2Bx4wBt/"
		"tMCPvjE87aPyrlQPEKxEcxV6d4J6.",
		"1",
		NULL
	};
	g_autoptr(JsonNode) value =
		exm_dp_node_value("5e3f8a9c-1b2d-4c5e-8f70-0a1b2c3d4e5f", accounts);
	g_autoptr(ExmDpDriver) driver = NULL;
	g_autoptr(JsonNode) actual = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *s0 = NULL;
	g_autofree gchar *s1 = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(preexisting); i++) {
		g_autofree gchar *p = exm_dp_fixture_path(fx, preexisting[i]);
		g_mkdir_with_parents(p, 0755);
	}
	s0 = snapshot(fx);
	g_assert_true(exm_dp_fixture_configure(fx, &error));
	EXM_TEST_OK(error);
	check_written(fx, s0, "configure");
	s1 = snapshot(fx);
	driver = exm_dp_driver_new(fx->config, &error);
	EXM_TEST_OK(error);
	actual = exm_dp_driver_apply(driver, value, NULL, &error);
	EXM_TEST_OK(error);
	check_written(fx, s1, "agent");
}

/* A key directory that is a symlink is refused, and its target keeps its mode. */
static void
test_key_dir_symlink(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_autofree gchar *tls = exm_dp_fixture_path(fx, EXM_DP_PATH_TLS_DIR);
	g_autofree gchar *elsewhere = g_build_filename(fx->root, "elsewhere", NULL);
	g_autoptr(GError) error = NULL;
	struct stat st;

	g_assert_cmpint(g_mkdir(elsewhere, 0700), ==, 0);
	/* the bootstrap made it (empty); a node where it became a symlink */
	g_assert_cmpint(g_rmdir(tls), ==, 0);
	g_assert_cmpint(symlink(elsewhere, tls), ==, 0);
	g_assert_false(exm_dp_fixture_configure(fx, &error));
	g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED);
	g_assert_cmpint(stat(elsewhere, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0700);
	g_assert_cmpint(st.st_gid, ==, 0);
}

/* An existing DKIM key that is not a usable one (not PEM, RSA under 2048 bits,
 * not RSA) fails the run naming the file, and is never replaced silently. */
static void
test_refused_keys(void)
{
	g_autoptr(EVP_PKEY) small = EVP_RSA_gen(1024);
	g_autoptr(EVP_PKEY) ec = EVP_EC_gen("P-256");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *small_pem = exm_dp_keys_private_pem(small, NULL, &error);
	g_autofree gchar *ec_pem = exm_dp_keys_private_pem(ec, NULL, &error);
	const gchar *const pems[] = { "not a key\n", small_pem, ec_pem };

	EXM_TEST_OK(error);
	for (guint i = 0; i < G_N_ELEMENTS(pems); i++) {
		g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
		g_autofree gchar *path = exm_dp_fixture_path(fx, EXM_DP_PATH_DKIM_KEY);
		g_autofree gchar *dir = g_path_get_dirname(path);
		g_autofree gchar *after = NULL;

		g_assert_cmpint(g_mkdir_with_parents(dir, 0750), ==, 0);
		g_assert_true(g_file_set_contents(path, pems[i], -1, NULL));
		g_assert_false(exm_dp_fixture_configure(fx, &error));
		g_assert_error(error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED);
		g_assert_nonnull(strstr(error->message, path));
		g_clear_error(&error);
		after = exm_test_read_file(path);
		g_assert_cmpstr(after, ==, pems[i]);
		g_assert_cmpuint(exm_dp_fixture_restarts(fx), ==, 0);
	}
}

/* A node booted by the old image (/persist/exordos_mail 0700 root:root) gets
 * the key path opened to exim's group, and no wider. */
static void
test_existing_persist_dir(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_autofree gchar *persist = exm_dp_fixture_path(fx, EXM_DP_PATH_PERSIST);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(chmod(persist, 0777), ==, 0);
	g_assert_true(exm_dp_fixture_configure(fx, &error));
	EXM_TEST_OK(error);
	assert_mode(fx, EXM_DP_PATH_PERSIST, 0710, "Debian-exim");
}

/* A configure killed before its renames (issue 21 #6): the next run removes the
 * temp files of every file it writes — `.<name>.<8 hex>.tmp` beside it — and
 * nothing else, not even look-alikes or the agent's own files' temp files. */
static const gchar *const stale_of[] = {
	EXM_DP_PATH_EXIM_CONF, EXM_DP_PATH_PASSWD,  EXM_DP_PATH_DKIM_TXT,
	EXM_DP_PATH_DKIM_KEY,  EXM_DP_PATH_TLS_KEY, EXM_DP_PATH_TLS_CERT,
};

/* Plants @pre<name of @node_path>@post beside it. */
static gchar *
planted(ExmDpFixture *fx, const gchar *node_path, const gchar *pre, const gchar *post)
{
	g_autofree gchar *path = exm_dp_fixture_path(fx, node_path);
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *base = g_path_get_basename(path);
	g_autofree gchar *name = g_strconcat(pre, base, post, NULL);
	gchar *out = g_build_filename(dir, name, NULL);

	g_assert_true(g_file_set_contents(out, "-----BEGIN PRIVATE KEY-----\n", -1, NULL));
	return out;
}

static void
test_stale_temp_files(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_autoptr(GPtrArray) stale = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) decoys = g_ptr_array_new_with_free_func(g_free);

	g_assert_cmpint(run_binary(fx, NULL), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(stale_of); i++) {
		g_ptr_array_add(stale, planted(fx, stale_of[i], ".", ".0badc0de.tmp"));
		g_ptr_array_add(stale, planted(fx, stale_of[i], ".", ".12345678.tmp"));
		g_ptr_array_add(decoys, planted(fx, stale_of[i], ".", ".0BADC0DE.tmp"));
		g_ptr_array_add(decoys, planted(fx, stale_of[i], ".", ".0badc0de.tmp.bak"));
		g_ptr_array_add(decoys, planted(fx, stale_of[i], "", ".0badc0de.tmp"));
		g_ptr_array_add(decoys, planted(fx, stale_of[i], ".", ".badc0de.tmp"));
		g_ptr_array_add(decoys, planted(fx, stale_of[i], ".", "x.0badc0de.tmp"));
	}
	/* the agent's files, not configure's */
	g_ptr_array_add(decoys, planted(fx, EXM_DP_PATH_META, ".", ".0badc0de.tmp"));
	g_assert_cmpint(run_binary(fx, NULL), ==, 0);
	for (guint i = 0; i < stale->len; i++)
		if (g_file_test(stale->pdata[i], G_FILE_TEST_EXISTS))
			g_test_fail_printf("stale %s is still there", (gchar *)stale->pdata[i]);
	for (guint i = 0; i < decoys->len; i++)
		if (!g_file_test(decoys->pdata[i], G_FILE_TEST_IS_REGULAR))
			g_test_fail_printf("%s was removed", (gchar *)decoys->pdata[i]);
	g_test_message("%u stale temp files removed, %u look-alikes kept", stale->len, decoys->len);
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/configure/first-run", test_first_run);
	g_test_add_func("/dp/configure/key-dir-symlink", test_key_dir_symlink);
	g_test_add_func("/dp/configure/refused-keys", test_refused_keys);
	g_test_add_func("/dp/configure/existing-persist-dir", test_existing_persist_dir);
	g_test_add_func("/dp/configure/idempotent", test_idempotent);
	g_test_add_func("/dp/configure/missing-env", test_missing_env);
	g_test_add_func("/dp/configure/invalid-env", test_invalid_env);
	g_test_add_func("/dp/configure/binary", test_binary);
	g_test_add_func("/dp/configure/domain-change", test_domain_change);
	g_test_add_func("/dp/configure/restart-failure", test_restart_failure);
	g_test_add_func("/dp/configure/bad-template", test_bad_template);
	g_test_add_func("/dp/configure/template", test_template);
	g_test_add_func("/dp/configure/config", test_config);
	g_test_add_func("/dp/configure/ignore-target-hosts", test_ignore_target_hosts);
	g_test_add_func("/dp/configure/write-paths", test_write_paths);
	g_test_add_func("/dp/configure/stale-temp-files", test_stale_temp_files);
	return g_test_run();
}
