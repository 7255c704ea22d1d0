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

ExmDpConfig *
exm_dp_config_new(void)
{
	ExmDpConfig *c = g_new0(ExmDpConfig, 1);

	c->root = g_strdup("/");
	c->owner = g_strdup("root");
	c->group = g_strdup("Debian-exim");
	c->exim_user = g_strdup("Debian-exim");
	c->exim_binary = g_strdup("/usr/sbin/exim4");
	c->listen = g_strdup("");
	c->smtp_port = 25;
	c->submission_port = 587;
	c->smtps_port = 465;
	c->restart_command = g_strdup("systemctl restart exim4");
	c->smarthost = g_strdup("");
	c->message_size_limit = g_strdup("25M");
	c->recipients_max = 100;
	c->smtp_accept_max = 100;
	c->smtp_accept_max_per_host = 20;
	c->verify_config = TRUE;
	return c;
}

void
exm_dp_config_free(ExmDpConfig *c)
{
	if (c == NULL)
		return;
	g_free(c->root);
	g_free(c->owner);
	g_free(c->group);
	g_free(c->exim_user);
	g_free(c->exim_binary);
	g_free(c->listen);
	g_free(c->restart_command);
	g_free(c->template_path);
	g_free(c->smarthost);
	g_free(c->message_size_limit);
	g_free(c);
}

/* %FALSE with a %EXM_DP_ERROR_CONFIG naming @key, from GKeyFile's @local. */
static gboolean
key_error(const gchar *key, const GError *local, GError **error)
{
	g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG, "key %s: %s", key, local->message);
	return FALSE;
}

static gboolean
load_string(GKeyFile *kf, const gchar *key, gchar **field, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autofree gchar *value = g_key_file_get_string(kf, EXM_DP_CONFIG_GROUP, key, &local);

	if (value == NULL) {
		if (g_error_matches(local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND))
			return TRUE;
		return key_error(key, local, error);
	}
	g_free(*field);
	*field = g_strstrip(g_steal_pointer(&value));
	return TRUE;
}

/* GKeyFile's integer and boolean getters share this shape (gboolean is a
 * gint), so one loader serves both: an absent key keeps the default. */
typedef gint (*KeyGetter)(GKeyFile *kf, const gchar *group, const gchar *key, GError **error);

static gboolean
load_number(GKeyFile *kf, const gchar *key, KeyGetter get, gint *field, GError **error)
{
	g_autoptr(GError) local = NULL;
	gint value;

	if (!g_key_file_has_key(kf, EXM_DP_CONFIG_GROUP, key, NULL))
		return TRUE;
	value = get(kf, EXM_DP_CONFIG_GROUP, key, &local);
	if (local != NULL)
		return key_error(key, local, error);
	*field = value;
	return TRUE;
}

static gboolean
load_int(GKeyFile *kf, const gchar *key, gint *field, GError **error)
{
	return load_number(kf, key, g_key_file_get_integer, field, error);
}

static gboolean
load_bool(GKeyFile *kf, const gchar *key, gboolean *field, GError **error)
{
	return load_number(kf, key, g_key_file_get_boolean, field, error);
}

gboolean
exm_dp_config_load_file(ExmDpConfig *c, const gchar *path, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local = NULL;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_CONFIG,
			    "cannot load %s: %s",
			    path,
			    local->message);
		return FALSE;
	}
	if (!load_string(kf, "root", &c->root, error) ||
	    !load_string(kf, "owner", &c->owner, error) ||
	    !load_string(kf, "group", &c->group, error) ||
	    !load_string(kf, "exim_user", &c->exim_user, error) ||
	    !load_string(kf, "exim_binary", &c->exim_binary, error) ||
	    !load_string(kf, "listen", &c->listen, error) ||
	    !load_int(kf, "smtp_port", &c->smtp_port, error) ||
	    !load_int(kf, "submission_port", &c->submission_port, error) ||
	    !load_int(kf, "smtps_port", &c->smtps_port, error) ||
	    !load_string(kf, "restart_command", &c->restart_command, error) ||
	    !load_string(kf, "template", &c->template_path, error) ||
	    !load_string(kf, "smarthost", &c->smarthost, error) ||
	    !load_string(kf, "message_size_limit", &c->message_size_limit, error) ||
	    !load_int(kf, "recipients_max", &c->recipients_max, error) ||
	    !load_int(kf, "smtp_accept_max", &c->smtp_accept_max, error) ||
	    !load_int(kf, "smtp_accept_max_per_host", &c->smtp_accept_max_per_host, error) ||
	    !load_bool(kf, "verify_config", &c->verify_config, error)) {
		g_prefix_error(error, "[%s] ", EXM_DP_CONFIG_GROUP);
		return FALSE;
	}
	return TRUE;
}

GOptionEntry *
exm_dp_config_flags_entries(ExmDpConfigFlags *f)
{
	const GOptionEntry entries[] = {
		{ "config",
		  'c',
		  0,
		  G_OPTION_ARG_FILENAME,
		  &f->config_file,
		  "ini file with a [dataplane] group",
		  "FILE" },
		{ "root",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &f->root,
		  "directory every node path resolves under (default /)",
		  "DIR" },
		{ "owner",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &f->owner,
		  "owner of passwd and private keys (default root)",
		  "USER" },
		{ "group",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &f->group,
		  "group exim reads them as (default Debian-exim)",
		  "GROUP" },
		{ "exim-user",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &f->exim_user,
		  "owner of exim's spool and log directories (default Debian-exim)",
		  "USER" },
		{ "exim",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &f->exim_binary,
		  "exim binary (default /usr/sbin/exim4)",
		  "PATH" },
		{ "listen",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &f->listen,
		  "comma-separated addresses to listen on (default all)",
		  "ADDR" },
		{ "smtp-port",
		  0,
		  0,
		  G_OPTION_ARG_INT,
		  &f->smtp_port,
		  "SMTP port (default 25)",
		  "PORT" },
		{ "submission-port",
		  0,
		  0,
		  G_OPTION_ARG_INT,
		  &f->submission_port,
		  "submission port (default 587)",
		  "PORT" },
		{ "smtps-port",
		  0,
		  0,
		  G_OPTION_ARG_INT,
		  &f->smtps_port,
		  "implicit TLS port (default 465)",
		  "PORT" },
		{ "restart-command",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &f->restart_command,
		  "command that restarts exim (default: systemctl restart exim4)",
		  "CMD" },
		{ "template",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &f->template_path,
		  "exim configuration template",
		  "FILE" },
		{ "smarthost",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &f->smarthost,
		  "send every message to IP:PORT",
		  "IP:PORT" },
		{ "no-verify",
		  0,
		  0,
		  G_OPTION_ARG_NONE,
		  &f->no_verify,
		  "do not check the rendered configuration with exim -bV",
		  NULL },
		{ NULL }
	};

	f->smtp_port = f->submission_port = f->smtps_port = -1;
	return g_memdup2(entries, sizeof(entries));
}

void
exm_dp_config_flags_clear(ExmDpConfigFlags *f)
{
	g_free(f->config_file);
	g_free(f->root);
	g_free(f->owner);
	g_free(f->group);
	g_free(f->exim_user);
	g_free(f->exim_binary);
	g_free(f->listen);
	g_free(f->restart_command);
	g_free(f->template_path);
	g_free(f->smarthost);
	memset(f, 0, sizeof(*f));
}

static void
override(gchar **field, const gchar *value)
{
	if (value == NULL)
		return;
	g_free(*field);
	*field = g_strdup(value);
}

ExmDpConfig *
exm_dp_config_from_flags(const ExmDpConfigFlags *f, GError **error)
{
	g_autoptr(ExmDpConfig) c = exm_dp_config_new();

	if (f->config_file != NULL && !exm_dp_config_load_file(c, f->config_file, error))
		return NULL;
	override(&c->root, f->root);
	override(&c->owner, f->owner);
	override(&c->group, f->group);
	override(&c->exim_user, f->exim_user);
	override(&c->exim_binary, f->exim_binary);
	override(&c->listen, f->listen);
	override(&c->restart_command, f->restart_command);
	override(&c->template_path, f->template_path);
	override(&c->smarthost, f->smarthost);
	if (f->smtp_port >= 0)
		c->smtp_port = f->smtp_port;
	if (f->submission_port >= 0)
		c->submission_port = f->submission_port;
	if (f->smtps_port >= 0)
		c->smtps_port = f->smtps_port;
	if (f->no_verify)
		c->verify_config = FALSE;
	if (!exm_dp_config_validate(c, error))
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

gboolean
exm_dp_config_validate(const ExmDpConfig *c, GError **error)
{
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
	if (!validate_smarthost(c->smarthost, error))
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
	struct passwd *pw = getpwnam(c->owner);
	struct group *gr;

	if (pw == NULL) {
		g_set_error(
			error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG, "unknown user '%s'", c->owner);
		return FALSE;
	}
	*uid = pw->pw_uid;
	gr = getgrnam(c->group);
	if (gr == NULL) {
		g_set_error(
			error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG, "unknown group '%s'", c->group);
		return FALSE;
	}
	*gid = gr->gr_gid;
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
