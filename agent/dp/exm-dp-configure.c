/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-configure.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exm-atomic.h"
#include "exm-cdb.h"
#include "exm-cleanup.h"
#include "exm-dp-error.h"
#include "exm-dp-keys.h"
#include "exm-mail-cdb.h"
#include "exm-dp-template.h"
#include "exm-mail-dns.h"
#include "exm-mail-files.h"
#include "exm-mail-validate.h"

typedef struct {
	const ExmDpConfig *config;
	uid_t uid;
	gid_t gid;
	uid_t exim_uid;
	gid_t exim_gid;
	ExmDpConfigureResult *result;
} Ctx;

void
exm_dp_configure_result_clear(ExmDpConfigureResult *r)
{
	g_clear_pointer(&r->domain, g_free);
	memset(r, 0, sizeof(*r));
}

static gchar *
read_domain(const ExmDpConfig *config, GError **error)
{
	g_autofree gchar *path = exm_dp_config_path(config, EXM_DP_PATH_MAIL_ENV);
	g_autofree gchar *content = NULL;
	g_autoptr(GError) local = NULL;
	gchar *domain;

	if (!g_file_get_contents(path, &content, NULL, &local)) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_CONFIG,
			    "cannot read %s: %s",
			    path,
			    local->message);
		return NULL;
	}
	domain = exm_mail_env_parse(content, &local);
	if (domain == NULL) {
		g_set_error(
			error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG, "%s: %s", path, local->message);
		return NULL;
	}
	return domain;
}

/* exim's default when local_interfaces is unset: every IPv6 and IPv4 address. */
static gchar *
local_interfaces(const ExmDpConfig *c)
{
	g_auto(GStrv) parts = NULL;
	g_autofree gchar *joined = NULL;

	/* the capture listener (docs/sandbox.md §1): its own address and port
	 * only, in exim's `<address>.<port>` form */
	if (c->listen[0] == '\0')
		return g_strdup_printf(
			"<; ::0 ; 0.0.0.0 ; %s.%d", c->capture_listen, c->capture_port);
	parts = g_strsplit(c->listen, ",", -1);
	for (guint i = 0; parts[i] != NULL; i++)
		g_strstrip(parts[i]);
	joined = g_strjoinv(" ; ", parts);
	return g_strdup_printf("<; %s ; %s.%d", joined, c->capture_listen, c->capture_port);
}

static gchar *
smarthost_macros(const ExmDpConfig *c)
{
	const gchar *colon = strrchr(c->smarthost, ':');

	if (c->smarthost[0] == '\0' || colon == NULL)
		return g_strdup("# no smarthost: deliveries look up MX records");
	return g_strdup_printf("EXM_SMARTHOST_HOST = %.*s\nEXM_SMARTHOST_PORT = %s",
			       (int)(colon - c->smarthost),
			       c->smarthost,
			       colon + 1);
}

/* The platform's own ranges, appended to the template's built-in `<;` list. */
static gchar *
extra_ignore_target_hosts(gchar **nets)
{
	g_autofree gchar *joined = NULL;

	if (nets[0] == NULL)
		return g_strdup("");
	joined = g_strjoinv(" ; ", nets);
	return g_strdup_printf(" ; %s", joined);
}

static void
set_var(GHashTable *vars, const gchar *name, gchar *value)
{
	g_hash_table_insert(vars, g_strdup(name), value);
}

static void
set_path(GHashTable *vars, const ExmDpConfig *c, const gchar *name, const gchar *node_path)
{
	set_var(vars, name, exm_dp_config_path(c, node_path));
}

static GHashTable *
template_vars(const ExmDpConfig *c, const gchar *domain, gchar **nets)
{
	GHashTable *vars = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

	set_var(vars, "DOMAIN", g_strdup(domain));
	/* issue 22: the node's one name (exm-mail-dns.h keeps it with the DNS guidance) */
	set_var(vars, "SMTP_HOSTNAME", exm_mail_dns_primary_hostname(domain));
	set_path(vars, c, "PASSWD_FILE", EXM_DP_PATH_PASSWD);
	set_path(vars, c, "POLICY_FILE", EXM_DP_PATH_POLICY);
	set_path(vars, c, "TLS_CERT", EXM_DP_PATH_TLS_CERT);
	set_path(vars, c, "TLS_KEY", EXM_DP_PATH_TLS_KEY);
	set_path(vars, c, "TLS_CUSTOM", EXM_DP_PATH_TLS_CUSTOM);
	set_path(vars, c, "TLS_ACME", EXM_DP_PATH_TLS_ACME);
	set_path(vars, c, "DKIM_KEY", EXM_DP_PATH_DKIM_KEY);
	set_path(vars, c, "SPOOL_DIR", EXM_DP_PATH_SPOOL);
	set_path(vars, c, "LOG_DIR", EXM_DP_PATH_LOG_DIR);
	set_path(vars, c, "PID_FILE", EXM_DP_PATH_PID_FILE);
	set_var(vars, "EXIM_BINARY", g_strdup(c->exim_binary));
	set_var(vars, "SMARTHOST_MACROS", smarthost_macros(c));
	set_var(vars, "LOCAL_INTERFACES", local_interfaces(c));
	set_var(vars, "CAPTURE_ADDR", g_strdup(c->capture_listen));
	set_var(vars, "EXIM_USER", g_strdup(c->exim_user));
	set_var(vars, "CAPTURE_PORT", g_strdup_printf("%d", c->capture_port));
	set_path(vars, c, "CAPTURE_DIR", EXM_DP_PATH_CAPTURE_DIR);
	set_var(vars, "EXTRA_IGNORE_TARGET_HOSTS", extra_ignore_target_hosts(nets));
	set_var(vars,
		"SMTP_PORTS",
		g_strdup_printf("%d : %d : %d", c->smtp_port, c->smtps_port, c->submission_port));
	set_var(vars, "TLS_ON_CONNECT_PORTS", g_strdup_printf("%d", c->smtps_port));
	set_var(vars, "MESSAGE_SIZE_LIMIT", g_strdup(c->message_size_limit));
	set_var(vars, "RECIPIENTS_MAX", g_strdup_printf("%d", c->recipients_max));
	set_var(vars, "SMTP_ACCEPT_MAX", g_strdup_printf("%d", c->smtp_accept_max));
	set_var(vars,
		"SMTP_ACCEPT_MAX_PER_HOST",
		g_strdup_printf("%d", c->smtp_accept_max_per_host));
	return vars;
}

gchar *
exm_dp_configure_render(const ExmDpConfig *c, const gchar *domain, GError **error)
{
	g_autofree gchar *path = exm_dp_config_template_path(c);
	g_autofree gchar *text = NULL;
	g_autoptr(GHashTable) vars = NULL;
	g_autoptr(GError) local = NULL;
	g_autofree gchar *normal = exm_mail_validate_normalize_domain(domain, error);
	g_auto(GStrv) nets = NULL;
	gchar *out;

	if (normal == NULL)
		return NULL;
	nets = exm_dp_config_target_networks((const gchar *const *)c->extra_ignore_target_hosts,
					     error);
	if (nets == NULL)
		return NULL;
	if (!g_str_equal(normal, domain)) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_CONFIG,
			    "domain '%s' is not in normal form",
			    domain);
		return NULL;
	}
	if (!g_file_get_contents(path, &text, NULL, &local)) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_CONFIG,
			    "cannot read the exim template %s: %s",
			    path,
			    local->message);
		return NULL;
	}
	vars = template_vars(c, domain, nets);
	out = exm_dp_template_render(text, vars, error);
	if (out == NULL)
		g_prefix_error(error, "%s: ", path);
	return out;
}

/* Runs `exim -C <file> -bV` on a private copy beside exim4.conf (the atomic
 * temp-file name, so a killed run's copy is swept at the next start), so a
 * broken template never replaces a working configuration. */
static gboolean
verify_config(const ExmDpConfig *c, const gchar *text, GError **error)
{
	g_autofree gchar *conf = exm_dp_config_path(c, EXM_DP_PATH_EXIM_CONF);
	g_autoptr(ExmAtomicTemp) tmp = exm_atomic_temp_new(conf, text, strlen(text), 0644, error);
	g_autofree gchar *err_out = NULL;
	g_autoptr(GError) local = NULL;
	gint status = 0;
	const gchar *argv[] = { c->exim_binary, "-C", NULL, "-bV", NULL };

	if (tmp == NULL) {
		g_prefix_error(error, "copy to verify: ");
		return FALSE;
	}
	argv[2] = tmp->path;
	if (!g_spawn_sync(NULL,
			  (gchar **)argv,
			  NULL,
			  G_SPAWN_STDOUT_TO_DEV_NULL,
			  NULL,
			  NULL,
			  NULL,
			  &err_out,
			  &status,
			  &local) ||
	    !g_spawn_check_wait_status(status, &local)) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_CONFIG,
			    "exim rejects the rendered configuration: %s%s%s",
			    local->message,
			    err_out != NULL ? ": " : "",
			    err_out != NULL ? g_strstrip(err_out) : "");
		return FALSE;
	}
	return TRUE;
}

/* exim4.conf already holds @text: it was verified when written, and an
 * unchanged run must not touch its directory with a copy. */
static gboolean
config_unchanged(const ExmDpConfig *c, const gchar *text)
{
	g_autofree gchar *conf = exm_dp_config_path(c, EXM_DP_PATH_EXIM_CONF);
	g_autofree gchar *old = NULL;

	return g_file_get_contents(conf, &old, NULL, NULL) && g_str_equal(old, text);
}

/* Every file configure writes; their stale temp files go at start. */
static const gchar *const configure_files[] = {
	EXM_DP_PATH_EXIM_CONF,	EXM_DP_PATH_PASSWD,	     EXM_DP_PATH_POLICY,
	EXM_DP_PATH_DKIM_TXT,	EXM_DP_PATH_RESTART_PENDING, EXM_DP_PATH_DKIM_KEY,
	EXM_DP_PATH_TLS_KEY,	EXM_DP_PATH_TLS_CERT,	     EXM_DP_PATH_PASSWD_CDB,
	EXM_DP_PATH_POLICY_CDB,
};

/* A run killed before its renames leaves temp files (private keys among
 * them); this run removes those of its own files, nothing else. */
static void
remove_stale(const ExmDpConfig *c)
{
	for (guint i = 0; i < G_N_ELEMENTS(configure_files); i++) {
		g_autofree gchar *path = exm_dp_config_path(c, configure_files[i]);
		g_autoptr(GError) error = NULL;
		guint n = 0;

		if (!exm_atomic_remove_stale(path, &n, &error))
			g_warning("stale temporary files of %s: %s", path, error->message);
		else if (n > 0)
			g_message("removed %u stale temporary file%s of %s",
				  n,
				  n == 1 ? "" : "s",
				  path);
	}
}

/* Creates @node_path under the root, each missing component 0755, the last with
 * @mode and owner; an existing directory is left as it is. */
static gboolean
ensure_dir(Ctx *ctx, const gchar *node_path, mode_t mode, uid_t uid, gid_t gid, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(node_path, "/", -1);
	g_autofree gchar *path = g_strdup(ctx->config->root);
	guint last = g_strv_length(parts) - 1;

	for (guint i = 0; parts[i] != NULL; i++) {
		gchar *next;
		gboolean is_last = i == last;

		if (parts[i][0] == '\0')
			continue;
		next = g_build_filename(path, parts[i], NULL);
		g_free(path);
		path = next;
		if (g_file_test(path, G_FILE_TEST_IS_DIR))
			continue;
		if (g_mkdir(path, 0700) != 0 ||
		    chown(path, is_last ? uid : 0, is_last ? gid : 0) != 0 ||
		    chmod(path, is_last ? mode : 0755) != 0) {
			g_set_error(error,
				    EXM_DP_ERROR,
				    EXM_DP_ERROR_FAILED,
				    "cannot create directory %s: %s",
				    path,
				    g_strerror(errno));
			return FALSE;
		}
		ctx->result->changed = TRUE;
	}
	return TRUE;
}

/* Gives the existing directory @node_path exactly @mode and the key owner and
 * group: exim (the group) must traverse every directory on a key path, nobody
 * else may.  A symlink in the last component is refused (O_NOFOLLOW). */
static gboolean
fix_key_dir(Ctx *ctx, const gchar *node_path, mode_t mode, GError **error)
{
	g_autofree gchar *path = exm_dp_config_path(ctx->config, node_path);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	gboolean ok = fd >= 0 && fstat(fd, &st) == 0;
	int saved;

	if (ok &&
	    (st.st_uid != ctx->uid || st.st_gid != ctx->gid || (st.st_mode & 07777) != mode)) {
		ok = fchown(fd, ctx->uid, ctx->gid) == 0 && fchmod(fd, mode) == 0;
		ctx->result->changed = TRUE;
	}
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (!ok)
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_FAILED,
			    "cannot secure key directory %s: %s",
			    path,
			    g_strerror(saved));
	return ok;
}

static gboolean
ensure_key_dir(Ctx *ctx, const gchar *node_path, mode_t mode, GError **error)
{
	return ensure_dir(ctx, node_path, mode, ctx->uid, ctx->gid, error) &&
	       fix_key_dir(ctx, node_path, mode, error);
}

static gboolean
ensure_dirs(Ctx *ctx, GError **error)
{
	if (!g_file_test(ctx->config->root, G_FILE_TEST_IS_DIR)) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_CONFIG,
			    "root %s is not a directory",
			    ctx->config->root);
		return FALSE;
	}
	return ensure_dir(ctx, "/etc/exim4/dkim", 0755, 0, 0, error) &&
	       ensure_key_dir(ctx, EXM_DP_PATH_PERSIST, EXM_DP_PERSIST_MODE, error) &&
	       ensure_key_dir(ctx, EXM_DP_PATH_DKIM_DIR, 0750, error) &&
	       ensure_key_dir(ctx, EXM_DP_PATH_TLS_DIR, 0750, error) &&
	       ensure_dir(ctx, EXM_DP_PATH_SPOOL, 0750, ctx->exim_uid, ctx->exim_gid, error) &&
	       ensure_dir(ctx, EXM_DP_PATH_LOG_DIR, 0750, ctx->exim_uid, ctx->exim_gid, error) &&
	       ensure_dir(ctx, EXM_DP_PATH_PID_DIR, 0755, ctx->exim_uid, ctx->exim_gid, error) &&
	       ensure_dir(ctx, EXM_DP_PATH_CAPTURE_DIR, 0750, ctx->exim_uid, ctx->exim_gid, error);
}

static gboolean
write_file(Ctx *ctx,
	   const gchar *node_path,
	   const gchar *data,
	   gsize len,
	   mode_t mode,
	   gid_t gid,
	   gboolean *changed,
	   GError **error)
{
	g_autofree gchar *path = exm_dp_config_path(ctx->config, node_path);
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(mode);
	gboolean did = FALSE;

	opts.uid = ctx->uid;
	opts.gid = gid;
	if (!exm_atomic_write(path, data, len, &opts, &did, error))
		return FALSE;
	if (did)
		ctx->result->changed = TRUE;
	if (changed != NULL)
		*changed = did;
	return TRUE;
}

/* Loads the RSA key at @node_path, or generates and stores one when absent.  An
 * existing key that does not load is an error: keys are never replaced silently. */
static EVP_PKEY *
load_or_generate_key(Ctx *ctx, const gchar *node_path, gboolean *generated, GError **error)
{
	g_autofree gchar *path = exm_dp_config_path(ctx->config, node_path);
	g_autoptr(ExmSecret) pem = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	gsize len = 0;

	if (g_file_test(path, G_FILE_TEST_EXISTS)) {
		if (!g_file_get_contents(path, &pem, &len, error))
			return NULL;
		key = exm_dp_keys_load_rsa(pem, len, error);
		if (key == NULL)
			g_prefix_error(error, "%s: ", path);
		return g_steal_pointer(&key);
	}
	key = exm_dp_keys_generate_rsa(EXM_DP_KEYS_RSA_BITS, error);
	if (key == NULL)
		return NULL;
	pem = exm_dp_keys_private_pem(key, &len, error);
	if (pem == NULL || !write_file(ctx, node_path, pem, len, 0640, ctx->gid, NULL, error))
		return NULL;
	*generated = TRUE;
	return g_steal_pointer(&key);
}

static gboolean
configure_dkim(Ctx *ctx, const gchar *domain, GError **error)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autofree gchar *b64 = NULL;
	g_autofree gchar *data = NULL;
	g_autofree gchar *txt = NULL;

	key = load_or_generate_key(ctx, EXM_DP_PATH_DKIM_KEY, &ctx->result->dkim_generated, error);
	if (key == NULL)
		return FALSE;
	b64 = exm_dp_keys_public_b64(key, error);
	if (b64 == NULL)
		return FALSE;
	data = exm_mail_dkim_record_data(b64);
	txt = exm_mail_dkim_txt_render(EXM_MAIL_DEFAULT_SELECTOR, domain, data);
	return write_file(ctx, EXM_DP_PATH_DKIM_TXT, txt, strlen(txt), 0644, 0, NULL, error);
}

static gboolean
configure_tls(Ctx *ctx, const gchar *domain, GError **error)
{
	g_autofree gchar *host = exm_mail_dns_primary_hostname(domain);
	g_autofree gchar *cert_path = exm_dp_config_path(ctx->config, EXM_DP_PATH_TLS_CERT);
	g_autofree gchar *pem = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) cert = NULL;
	gsize len = 0;

	key = load_or_generate_key(ctx, EXM_DP_PATH_TLS_KEY, &ctx->result->tls_generated, error);
	if (key == NULL)
		return FALSE;
	if (g_file_get_contents(cert_path, &pem, &len, NULL) &&
	    exm_dp_keys_cert_matches(pem, len, key, host))
		return TRUE;
	g_clear_pointer(&pem, g_free);
	cert = exm_dp_keys_self_signed(key, host, domain, EXM_DP_KEYS_CERT_DAYS, error);
	if (cert == NULL)
		return FALSE;
	pem = exm_dp_keys_cert_pem(cert, &len, error);
	if (pem == NULL)
		return FALSE;
	ctx->result->cert_generated = TRUE;
	return write_file(ctx, EXM_DP_PATH_TLS_CERT, pem, len, 0644, 0, NULL, error);
}

/* exim defers (451) rather than refuses when a lookup file is missing: passwd
 * and policy exist (empty: no account, every default) before exim starts. */
static gboolean
ensure_lookup_file(Ctx *ctx, const gchar *node_path, GError **error)
{
	g_autofree gchar *path = exm_dp_config_path(ctx->config, node_path);

	if (g_file_test(path, G_FILE_TEST_EXISTS))
		return TRUE;
	return write_file(ctx, node_path, "", 0, 0640, ctx->gid, NULL, error);
}

/* Scale: exim looks up the cdb twin, so it exists too, made from the lsearch
 * file when missing (a node upgraded with accounts keeps its logins). */
static gboolean
ensure_index(Ctx *ctx, const gchar *node_path, const gchar *node_cdb, GError **error)
{
	g_autofree gchar *path = exm_dp_config_path(ctx->config, node_path);
	g_autofree gchar *cdb = exm_dp_config_path(ctx->config, node_cdb);
	g_autofree gchar *text = NULL;
	g_autoptr(GError) local = NULL;
	gsize len = 0;
	guint8 *db;
	gboolean ok;

	if (g_file_test(cdb, G_FILE_TEST_EXISTS))
		return TRUE;
	if (!g_file_get_contents(path, &text, NULL, error))
		return FALSE;
	db = exm_mail_cdb_from_lsearch(text, &len, &local);
	if (db == NULL) {
		g_set_error(
			error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED, "%s: %s", path, local->message);
		return FALSE;
	}
	ok = write_file(ctx, node_cdb, (const gchar *)db, len, 0640, ctx->gid, NULL, error);
	exm_cdb_free(db, len);
	return ok;
}

static gboolean
ensure_passwd(Ctx *ctx, GError **error)
{
	return ensure_lookup_file(ctx, EXM_DP_PATH_PASSWD, error) &&
	       ensure_lookup_file(ctx, EXM_DP_PATH_POLICY, error) &&
	       ensure_index(ctx, EXM_DP_PATH_PASSWD, EXM_DP_PATH_PASSWD_CDB, error) &&
	       ensure_index(ctx, EXM_DP_PATH_POLICY, EXM_DP_PATH_POLICY_CDB, error);
}

gboolean
exm_dp_configure_restart(const ExmDpConfig *c, GError **error)
{
	g_auto(GStrv) argv = NULL;
	g_autofree gchar *err_out = NULL;
	g_autoptr(GError) local = NULL;
	gint status = 0;

	if (c->restart_command[0] == '\0')
		return TRUE;
	if (!g_shell_parse_argv(c->restart_command, NULL, &argv, &local) ||
	    !g_spawn_sync(NULL,
			  argv,
			  NULL,
			  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
			  NULL,
			  NULL,
			  NULL,
			  &err_out,
			  &status,
			  &local) ||
	    !g_spawn_check_wait_status(status, &local)) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_FAILED,
			    "restart command '%s' failed: %s%s%s",
			    c->restart_command,
			    local->message,
			    err_out != NULL && err_out[0] != '\0' ? ": " : "",
			    err_out != NULL ? g_strstrip(err_out) : "");
		return FALSE;
	}
	return TRUE;
}

/* A restart that failed must be retried by the next run even though the files
 * are already up to date: a marker next to exim4.conf remembers it. */
static gboolean
restart_if_needed(Ctx *ctx, GError **error)
{
	const ExmDpConfig *c = ctx->config;
	g_autofree gchar *marker = exm_dp_config_path(c, EXM_DP_PATH_RESTART_PENDING);

	if (!ctx->result->changed && !g_file_test(marker, G_FILE_TEST_EXISTS))
		return TRUE;
	if (c->restart_command[0] == '\0') {
		g_unlink(marker);
		return TRUE;
	}
	if (!write_file(ctx, EXM_DP_PATH_RESTART_PENDING, "", 0, 0600, 0, NULL, error) ||
	    !exm_dp_configure_restart(c, error))
		return FALSE;
	if (g_unlink(marker) != 0) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_FAILED,
			    "cannot remove %s: %s",
			    marker,
			    g_strerror(errno));
		return FALSE;
	}
	ctx->result->restarted = TRUE;
	return TRUE;
}

gboolean
exm_dp_configure_run(const ExmDpConfig *c, ExmDpConfigureResult *result, GError **error)
{
	Ctx ctx = { .config = c, .result = result };
	g_autofree gchar *text = NULL;

	memset(result, 0, sizeof(*result));
	result->domain = read_domain(c, error);
	if (result->domain == NULL ||
	    !exm_dp_config_resolve(c, &ctx.uid, &ctx.gid, &ctx.exim_uid, &ctx.exim_gid, error))
		return FALSE;
	remove_stale(c);
	text = exm_dp_configure_render(c, result->domain, error);
	/* The directories first: the copy exim verifies lives beside exim4.conf. */
	if (text == NULL || !ensure_dirs(&ctx, error) ||
	    (c->verify_config && !config_unchanged(c, text) && !verify_config(c, text, error)))
		return FALSE;
	if (!configure_dkim(&ctx, result->domain, error) ||
	    !configure_tls(&ctx, result->domain, error) || !ensure_passwd(&ctx, error) ||
	    !write_file(&ctx,
			EXM_DP_PATH_EXIM_CONF,
			text,
			strlen(text),
			0644,
			0,
			&result->config_written,
			error))
		return FALSE;
	return restart_if_needed(&ctx, error);
}
