/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-config.h"

#include <gio/gio.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>

#include "exm-config.h"
#include "exm-dp-error.h"
#include "exm-ini.h"

static GQuark
dp_error(void)
{
	return EXM_DP_ERROR;
}

#define DP_KEY(name, field, t)                                                                     \
	.group = EXM_DP_CONFIG_GROUP, .key = (name), .type = (t),                                  \
	.offset = G_STRUCT_OFFSET(ExmDpConfig, field)

/* Every setting once: its key, default and option (the defaults are the
 * production node; validation of the combination is exm_dp_config_validate()). */
/* clang-format off */
static const ExmIniKey dp_keys[] = {
	{ DP_KEY("root", root, EXM_INI_STRING), .def = "/", .flags = EXM_INI_FILENAME,
	  .option = "root", .arg = "DIR",
	  .help = "directory every node path resolves under (default /)" },
	{ DP_KEY("owner", owner, EXM_INI_STRING), .def = "root", .option = "owner", .arg = "USER",
	  .help = "owner of passwd and private keys (default root)" },
	{ DP_KEY("group", group, EXM_INI_STRING), .def = "Debian-exim", .option = "group",
	  .arg = "GROUP", .help = "group exim reads them as (default Debian-exim)" },
	{ DP_KEY("exim_user", exim_user, EXM_INI_STRING), .def = "Debian-exim",
	  .option = "exim-user", .arg = "USER",
	  .help = "owner of exim's spool and log directories (default Debian-exim)" },
	{ DP_KEY("exim_binary", exim_binary, EXM_INI_STRING), .def = "/usr/sbin/exim4",
	  .flags = EXM_INI_FILENAME, .option = "exim", .arg = "PATH",
	  .help = "exim binary (default /usr/sbin/exim4)" },
	{ DP_KEY("listen", listen, EXM_INI_STRING), .def = "", .option = "listen", .arg = "ADDR",
	  .help = "comma-separated addresses to listen on (default all)" },
	{ DP_KEY("smtp_port", smtp_port, EXM_INI_INT), .def = "25", .option = "smtp-port",
	  .arg = "PORT", .help = "SMTP port (default 25)" },
	{ DP_KEY("submission_port", submission_port, EXM_INI_INT), .def = "587",
	  .option = "submission-port", .arg = "PORT", .help = "submission port (default 587)" },
	{ DP_KEY("smtps_port", smtps_port, EXM_INI_INT), .def = "465", .option = "smtps-port",
	  .arg = "PORT", .help = "implicit TLS port (default 465)" },
	{ DP_KEY("restart_command", restart_command, EXM_INI_STRING),
	  .def = "systemctl restart exim4", .option = "restart-command", .arg = "CMD",
	  .help = "command that restarts exim (default: systemctl restart exim4)" },
	{ DP_KEY("template", template_path, EXM_INI_STRING), .flags = EXM_INI_FILENAME,
	  .option = "template", .arg = "FILE", .help = "exim configuration template" },
	{ DP_KEY("smarthost", smarthost, EXM_INI_STRING), .def = "", .option = "smarthost",
	  .arg = "IP:PORT", .help = "send every message to IP:PORT" },
	{ DP_KEY("message_size_limit", message_size_limit, EXM_INI_STRING), .def = "25M" },
	{ DP_KEY("recipients_max", recipients_max, EXM_INI_INT), .def = "100" },
	{ DP_KEY("smtp_accept_max", smtp_accept_max, EXM_INI_INT), .def = "100" },
	{ DP_KEY("smtp_accept_max_per_host", smtp_accept_max_per_host, EXM_INI_INT),
	  .def = "20" },
	{ DP_KEY("verify_config", verify_config, EXM_INI_BOOL), .def = "true",
	  .flags = EXM_INI_INVERT, .option = "no-verify",
	  .help = "do not check the rendered configuration with exim -bV" },
	{ DP_KEY("metrics_listen", metrics_listen, EXM_INI_STRING), .def = "" },
	{ DP_KEY("metrics_port", metrics_port, EXM_INI_INT), .def = "9465", .min = 0,
	  .max = 65535 },
	{ DP_KEY("capture_listen", capture_listen, EXM_INI_STRING), .def = "127.0.0.1" },
	{ DP_KEY("capture_port", capture_port, EXM_INI_INT), .def = "2526", .min = 1,
	  .max = 65535 },
	{ DP_KEY("acme_http_listen", acme_http_listen, EXM_INI_STRING), .def = "0.0.0.0:80" },
	{ DP_KEY("acme_ca_file", acme_ca_file, EXM_INI_STRING), .def = "" },
	{ DP_KEY("acme_dir", acme_dir, EXM_INI_STRING), .def = EXM_DP_PATH_ACME_DIR },
	{ DP_KEY("extra_ignore_target_hosts", extra_ignore_target_hosts, EXM_INI_STRV),
	  .def = "", .separator = ',' },
	{ DP_KEY("usage_report_interval", usage_report_interval, EXM_INI_INT),
	  .def = G_STRINGIFY(EXM_DP_USAGE_REPORT_INTERVAL), .min = 0, .max = 3600 },
};
/* clang-format on */
static const ExmIniSchema dp_schema = EXM_INI_SCHEMA(dp_keys, dp_error, EXM_DP_ERROR_CONFIG);

ExmDpConfig *
exm_dp_config_new(void)
{
	ExmDpConfig *c = g_new0(ExmDpConfig, 1);

	exm_ini_defaults(&dp_schema, c);
	return c;
}

void
exm_dp_config_free(ExmDpConfig *c)
{
	if (c == NULL)
		return;
	exm_ini_clear(&dp_schema, c);
	g_free(c);
}

gboolean
exm_dp_config_load_file(ExmDpConfig *c, const gchar *path, GError **error)
{
	return exm_ini_load_file(&dp_schema, c, path, error);
}

ExmIniOptions *
exm_dp_config_options_new(void)
{
	return exm_ini_options_new(&dp_schema, "config", 'c', "ini file with a [dataplane] group");
}

ExmDpConfig *
exm_dp_config_from_options(ExmIniOptions *options, GError **error)
{
	g_autoptr(ExmDpConfig) c = exm_dp_config_new();
	const gchar *file = exm_ini_options_config_file(options);

	if (file != NULL && !exm_dp_config_load_file(c, file, error))
		return NULL;
	if (!exm_ini_options_apply(options, c, error) || !exm_dp_config_validate(c, error))
		return NULL;
	return g_steal_pointer(&c);
}

gboolean
exm_dp_config_safe_path(const gchar *path)
{
	g_auto(GStrv) parts = NULL;

	if (path == NULL || path[0] != '/' || strlen(path) > 1024)
		return FALSE;
	for (const gchar *p = path; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && strchr("/._+-", *p) == NULL)
			return FALSE;
	}
	parts = g_strsplit(path, "/", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		if (g_str_equal(parts[i], ".."))
			return FALSE;
	}
	return TRUE;
}

static gboolean
safe_name(const gchar *name)
{
	if (name == NULL || name[0] == '\0' || strlen(name) > 64 || name[0] == '-')
		return FALSE;
	for (const gchar *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && strchr("._-", *p) == NULL)
			return FALSE;
	}
	return TRUE;
}

static gboolean
valid_port(gint port)
{
	return port >= 1 && port <= 65535;
}

/* An IPv4 or IPv6 literal; nothing else may reach local_interfaces. */
static gboolean
valid_ip(const gchar *text)
{
	g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(text);

	return addr != NULL;
}

static gboolean
validate_listen(const gchar *listen, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(listen, ",", -1);

	for (guint i = 0; parts[i] != NULL; i++) {
		g_strstrip(parts[i]);
		if (!valid_ip(parts[i])) {
			g_set_error(error,
				    EXM_DP_ERROR,
				    EXM_DP_ERROR_CONFIG,
				    "listen: '%s' is not an IP address",
				    parts[i]);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
validate_smarthost(const gchar *smarthost, GError **error)
{
	const gchar *colon = strrchr(smarthost, ':');
	g_autofree gchar *host = NULL;
	guint64 port = 0;

	if (smarthost[0] == '\0')
		return TRUE;
	if (colon != NULL) {
		host = g_strndup(smarthost, colon - smarthost);
		if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL))
			colon = NULL;
	}
	if (colon == NULL || !valid_ip(host) || strchr(host, ':') != NULL) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_CONFIG,
			    "smarthost: expected IPV4:PORT, got '%s'",
			    smarthost);
		return FALSE;
	}
	return TRUE;
}

#define TARGET_NETWORKS_MAX 64

/* `ADDR[/PREFIX]` in canonical form, or %NULL. */
gboolean
exm_dp_config_split_listen(const gchar *text, gchar **host, guint16 *port)
{
	const gchar *colon = strrchr(text, ':');
	g_autofree gchar *h = NULL;
	guint64 p = 0;

	if (colon == NULL || !g_ascii_string_to_unsigned(colon + 1, 10, 0, 65535, &p, NULL))
		return FALSE;
	h = g_strndup(text, colon - text);
	/* [v6]:port */
	if (h[0] == '[' && g_str_has_suffix(h, "]")) {
		gchar *inner = g_strndup(h + 1, strlen(h) - 2);

		g_free(h);
		h = inner;
	} else if (strchr(h, ':') != NULL) {
		return FALSE;
	}
	if (!valid_ip(h))
		return FALSE;
	*host = g_steal_pointer(&h);
	*port = (guint16)p;
	return TRUE;
}

static gchar *
target_network(const gchar *item)
{
	const gchar *slash = strchr(item, '/');
	g_autofree gchar *text =
		g_strndup(item, slash != NULL ? (gsize)(slash - item) : strlen(item));
	g_autoptr(GInetAddress) addr = NULL;
	g_autofree gchar *canon = NULL;
	guint64 bits;
	guint64 prefix;

	if (text[0] == '\0' || strspn(text, "0123456789abcdefABCDEF.:") != strlen(text))
		return NULL;
	addr = g_inet_address_new_from_string(text);
	if (addr == NULL)
		return NULL;
	bits = g_inet_address_get_native_size(addr) * 8;
	prefix = bits;
	if (slash != NULL && !g_ascii_string_to_unsigned(slash + 1, 10, 0, bits, &prefix, NULL))
		return NULL;
	canon = g_inet_address_to_string(addr);
	return g_strdup_printf("%s/%u", canon, (guint)prefix);
}

GStrv
exm_dp_config_target_networks(const gchar *const *items, GError **error)
{
	g_autoptr(GStrvBuilder) out = g_strv_builder_new();
	guint n = items != NULL ? g_strv_length((gchar **)items) : 0;

	if (n > TARGET_NETWORKS_MAX) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_CONFIG,
			    "extra_ignore_target_hosts: %u items, at most %d",
			    n,
			    TARGET_NETWORKS_MAX);
		return NULL;
	}
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *net = target_network(items[i]);

		if (net == NULL) {
			g_set_error(error,
				    EXM_DP_ERROR,
				    EXM_DP_ERROR_CONFIG,
				    "extra_ignore_target_hosts: '%s' is not an IP address or "
				    "ADDR/PREFIX network",
				    items[i]);
			return NULL;
		}
		g_strv_builder_add(out, net);
	}
	return g_strv_builder_end(out);
}

static gboolean
validate_size(const gchar *size)
{
	gsize len = strlen(size);

	if (len == 0 || len > 12)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isdigit(size[i]) && !(i == len - 1 && i > 0 && strchr("KM", size[i])))
			return FALSE;
	}
	return TRUE;
}

static gboolean
config_fail(GError **error, const gchar *what)
{
	g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG, "invalid %s", what);
	return FALSE;
}

/* The ACME settings (docs/tls.md §5): an `ADDR:PORT` for the responder,
 * node and trust-anchor paths of the conservative set. */
static gboolean
validate_acme(const ExmDpConfig *c, GError **error)
{
	g_autofree gchar *host = NULL;
	guint16 port = 0;

	if (!exm_dp_config_split_listen(c->acme_http_listen, &host, &port) || port == 0)
		return config_fail(error, "acme_http_listen (ADDR:PORT expected)");
	if (!exm_dp_config_safe_path(c->acme_dir))
		return config_fail(error, "acme_dir (absolute path of [A-Za-z0-9/._+-] expected)");
	if (c->acme_ca_file[0] != '\0' && !exm_dp_config_safe_path(c->acme_ca_file))
		return config_fail(error,
				   "acme_ca_file (absolute path of [A-Za-z0-9/._+-] expected)");
	return TRUE;
}

gboolean
exm_dp_config_validate(const ExmDpConfig *c, GError **error)
{
	g_auto(GStrv) nets = NULL;

	if (!exm_dp_config_safe_path(c->root))
		return config_fail(error, "root (absolute path of [A-Za-z0-9/._+-] expected)");
	if (!exm_dp_config_safe_path(c->exim_binary))
		return config_fail(error, "exim binary path");
	if (c->template_path != NULL && c->template_path[0] == '\0')
		return config_fail(error, "template path");
	if (!safe_name(c->owner) || !safe_name(c->group) || !safe_name(c->exim_user))
		return config_fail(error, "owner, group or exim user name");
	if (!valid_port(c->smtp_port) || !valid_port(c->submission_port) ||
	    !valid_port(c->smtps_port) || c->smtp_port == c->submission_port ||
	    c->smtp_port == c->smtps_port || c->submission_port == c->smtps_port)
		return config_fail(error, "ports (three distinct ports in 1..65535)");
	if (c->listen[0] != '\0' && !validate_listen(c->listen, error))
		return FALSE;
	if (!valid_ip(c->capture_listen) || strchr(c->capture_listen, ':') != NULL)
		return config_fail(error, "capture_listen (an IPv4 address)");
	if (c->capture_port == c->smtp_port || c->capture_port == c->submission_port ||
	    c->capture_port == c->smtps_port)
		return config_fail(error, "capture_port (a port of its own)");
	if (!validate_smarthost(c->smarthost, error))
		return FALSE;
	if (!validate_acme(c, error))
		return FALSE;
	nets = exm_dp_config_target_networks((const gchar *const *)c->extra_ignore_target_hosts,
					     error);
	if (nets == NULL)
		return FALSE;
	if (!validate_size(c->message_size_limit))
		return config_fail(error, "message_size_limit (e.g. 25M)");
	if (c->recipients_max < 1 || c->smtp_accept_max < 1 || c->smtp_accept_max_per_host < 1)
		return config_fail(error, "limit (recipients and connection limits must be >= 1)");
	if (c->restart_command[0] != '\0' &&
	    !g_shell_parse_argv(c->restart_command, NULL, NULL, NULL))
		return config_fail(error, "restart command");
	return TRUE;
}

gchar *
exm_dp_config_path(const ExmDpConfig *c, const gchar *node_path)
{
	return g_build_filename(c->root, node_path, NULL);
}

gboolean
exm_dp_config_resolve(const ExmDpConfig *c,
		      uid_t *uid,
		      gid_t *gid,
		      uid_t *exim_uid,
		      gid_t *exim_gid,
		      GError **error)
{
	// cppcheck-suppress getpwnamCalled ; only the main thread reads it
	struct passwd *pw = getpwnam(c->owner);
	struct group *gr;

	if (pw == NULL) {
		g_set_error(
			error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG, "unknown user '%s'", c->owner);
		return FALSE;
	}
	*uid = pw->pw_uid;
	// cppcheck-suppress getgrnamCalled ; only the main thread reads it
	gr = getgrnam(c->group);
	if (gr == NULL) {
		g_set_error(
			error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG, "unknown group '%s'", c->group);
		return FALSE;
	}
	*gid = gr->gr_gid;
	// cppcheck-suppress getpwnamCalled ; only the main thread reads it
	pw = getpwnam(c->exim_user);
	if (pw == NULL) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_CONFIG,
			    "unknown user '%s'",
			    c->exim_user);
		return FALSE;
	}
	if (exim_uid != NULL)
		*exim_uid = pw->pw_uid;
	if (exim_gid != NULL)
		*exim_gid = pw->pw_gid;
	return TRUE;
}

gchar *
exm_dp_config_template_path(const ExmDpConfig *c)
{
	const gchar *candidates[] = {
		EXM_DATADIR "/exim4/exim4.conf.in",
		EXM_SOURCE_ROOT "/data/exim4/exim4.conf.in",
	};

	if (c->template_path != NULL)
		return g_strdup(c->template_path);
	for (guint i = 0; i < G_N_ELEMENTS(candidates); i++) {
		if (g_file_test(candidates[i], G_FILE_TEST_IS_REGULAR))
			return g_strdup(candidates[i]);
	}
	return g_strdup(candidates[0]);
}
