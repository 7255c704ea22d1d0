/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Data-plane settings shared by exordos-mail-configure and the mail agent: the
 * sandbox root every node path resolves under, owners, the exim binary, listen
 * address and ports, the restart command and the exim template.  Defaults are the
 * production node; an ini file (group [dataplane]) and command-line flags override.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "exm-ini.h"

/* Node paths, relative to the root. */
#define EXM_DP_PATH_MAIL_ENV	    "/etc/exordos_metapaas/mail.env"
#define EXM_DP_PATH_EXIM_CONF	    "/etc/exim4/exim4.conf"
#define EXM_DP_PATH_PASSWD	    "/etc/exim4/passwd"
#define EXM_DP_PATH_POLICY	    "/etc/exim4/policy"
#define EXM_DP_PATH_DKIM_TXT	    "/etc/exim4/dkim/platform.txt"
#define EXM_DP_PATH_RESTART_PENDING "/etc/exim4/.exordos-restart-pending"
#define EXM_DP_PATH_PERSIST	    "/persist/exordos_mail"
#define EXM_DP_PATH_DKIM_DIR	    "/persist/exordos_mail/dkim"
#define EXM_DP_PATH_DKIM_KEY	    "/persist/exordos_mail/dkim/platform.private"
#define EXM_DP_PATH_TLS_DIR	    "/persist/exordos_mail/tls"
#define EXM_DP_PATH_TLS_KEY	    "/persist/exordos_mail/tls/exim.key"
#define EXM_DP_PATH_TLS_CERT	    "/persist/exordos_mail/tls/exim.crt"
#define EXM_DP_PATH_TLS_CUSTOM	    "/persist/exordos_mail/tls/custom.pem"
/* ACME (docs/tls.md §5): the issued chain and key as one file, and the
 * default of acme_dir (the account key, uacme's files, the engine's state) */
#define EXM_DP_PATH_TLS_ACME "/persist/exordos_mail/tls/acme.pem"
#define EXM_DP_PATH_ACME_DIR "/persist/exordos_mail/tls/acme"
#define EXM_DP_PATH_WORK_DIR "/var/lib/exordos/universal_agent"
#define EXM_DP_PATH_META     "/var/lib/exordos/universal_agent/mail_meta.json"
#define EXM_DP_PATH_SPOOL    "/var/spool/exim4"
#define EXM_DP_PATH_LOG_DIR  "/var/log/exim4"
#define EXM_DP_PATH_PID_DIR  "/run/exim4"
#define EXM_DP_PATH_PID_FILE "/run/exim4/exim.pid"

/* Scale: the cdb twins of passwd and policy that exim looks up (exm-dp-index.h). */
#define EXM_DP_PATH_PASSWD_CDB "/etc/exim4/passwd.cdb"
#define EXM_DP_PATH_POLICY_CDB "/etc/exim4/policy.cdb"

/* The usage of the API across restarts (docs/usage.md §1.1), in a root 0700 directory. */
#define EXM_DP_PATH_USAGE_STATE "/persist/exordos_mail/usage/state.json"
/* the sandbox's captured messages (docs/sandbox.md §1), maildir style */
#define EXM_DP_PATH_CAPTURE_DIR "/persist/exordos_mail/capture"
/* The circuit breaker's state (docs/abuse-controls.md §7), next to it. */
#define EXM_DP_PATH_BREAKER_STATE "/persist/exordos_mail/usage/breaker.json"

/* /persist/exordos_mail: owner:group traverse only (dp_bootstrap.sh makes it so) */
#define EXM_DP_PERSIST_MODE 0710

#define EXM_DP_CONFIG_GROUP "dataplane"

/* A node whose usage moves reports its whole value (every account) at most
 * this often, in seconds, unless the files, the breaker or a capture moved
 * too (docs/usage.md §3, docs/scale.md §3). */
#define EXM_DP_USAGE_REPORT_INTERVAL 30

/**
 * ExmDpConfig:
 * @root: directory every node path resolves under ("/" in production)
 * @owner: owner of passwd and the private keys (`root`)
 * @group: group that exim runs as and that may read them (`Debian-exim`)
 * @exim_user: owner of exim's spool, log and pid directories (`Debian-exim`)
 * @exim_binary: the exim executable (`/usr/sbin/exim4`)
 * @listen: comma-separated IP addresses to listen on; "" = all interfaces
 * @smtp_port: plain SMTP with STARTTLS (25)
 * @submission_port: submission with STARTTLS (587)
 * @smtps_port: implicit TLS (465)
 * @restart_command: run (argv, no shell) when configure changed something
 * @template_path: (nullable): exim4.conf.in; %NULL = installed, then source tree
 * @smarthost: "" or `IP:PORT`: every message goes there (tests, local stand)
 * @message_size_limit: exim size, e.g. `25M`
 * @recipients_max: recipients per message
 * @smtp_accept_max: simultaneous connections
 * @smtp_accept_max_per_host: simultaneous connections per client host
 * @verify_config: run `exim -C <new config> -bV` before installing it
 * @extra_ignore_target_hosts: IP addresses and CIDR networks (the platform's
 *   own ranges) that MX or address records may never make the relay connect
 *   to, on top of the built-in private, loopback, link-local, CGNAT and
 *   reserved ranges of the exim template; see
 *   exm_dp_config_target_networks()
 * @metrics_listen: IP address of the node's `/metrics` (docs/metrics.md §5);
 *   empty = not served
 * @metrics_port: its port (0 = any free one)
 * @capture_listen: IP address of exim's capture listener, where sandboxed
 *   mail is sent, signed, to be kept (docs/sandbox.md §1; default 127.0.0.1)
 * @capture_port: its port (default 2526)
 * @acme_http_listen: `ADDR:PORT` of the ACME HTTP-01 responder (default
 *   `0.0.0.0:80`; docs/tls.md §5)
 * @acme_ca_file: "" or an absolute path: an extra trust anchor for the ACME
 *   directory's HTTPS (a test CA such as pebble's); "" = the system store
 * @acme_dir: node path (under @root) of the ACME account key and state
 *   (default %EXM_DP_PATH_ACME_DIR)
 * @usage_report_interval: seconds a change of the usage alone waits after
 *   the last report before the actual value is reported again (default
 *   %EXM_DP_USAGE_REPORT_INTERVAL; 0 = at the next iteration; docs/usage.md §3)
 */
typedef struct {
	gchar *root;
	gchar *owner;
	gchar *group;
	gchar *exim_user;
	gchar *exim_binary;
	gchar *listen;
	gint smtp_port;
	gint submission_port;
	gint smtps_port;
	gchar *restart_command;
	gchar *template_path;
	gchar *smarthost;
	gchar *message_size_limit;
	gint recipients_max;
	gint smtp_accept_max;
	gint smtp_accept_max_per_host;
	gboolean verify_config;
	gchar **extra_ignore_target_hosts;
	gchar *metrics_listen;
	gint metrics_port;
	gchar *capture_listen;
	gint capture_port;
	gchar *acme_http_listen;
	gchar *acme_ca_file;
	gchar *acme_dir;
	gint usage_report_interval;
} ExmDpConfig;

/**
 * exm_dp_config_new:
 *
 * Returns: (transfer full): the production defaults (root `/`, `root:Debian-exim`,
 * `/usr/sbin/exim4`, all interfaces, ports 25/587/465, `systemctl restart exim4`)
 */
ExmDpConfig *exm_dp_config_new(void);
/* Frees @config (NULL is fine). */
void exm_dp_config_free(ExmDpConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExmDpConfig, exm_dp_config_free)

/**
 * exm_dp_config_load_file:
 * @config: settings to override
 * @path: an ini file; keys of group `[dataplane]` override, other groups are ignored
 * @error: %EXM_DP_ERROR_CONFIG naming the file, group and key
 *
 * Keys: root, owner, group, exim_user, exim_binary, listen, smtp_port,
 * submission_port, smtps_port, restart_command, template, smarthost,
 * message_size_limit, recipients_max, smtp_accept_max, smtp_accept_max_per_host,
 * verify_config, extra_ignore_target_hosts (comma-separated), metrics_listen (an IP
 * address: the agent serves the node's `/metrics` there; empty = off, the
 * default), metrics_port (9465; 0 = any free port), acme_http_listen
 * (`ADDR:PORT`, default `0.0.0.0:80`), acme_ca_file (default "": the system
 * store), acme_dir (default %EXM_DP_PATH_ACME_DIR), usage_report_interval
 * (seconds, 0–3600, default %EXM_DP_USAGE_REPORT_INTERVAL).  Call
 * exm_dp_config_validate() afterwards.
 *
 * Returns: %TRUE on success
 */
gboolean exm_dp_config_load_file(ExmDpConfig *config, const gchar *path, GError **error);

/**
 * exm_dp_config_options_new:
 *
 * Returns: (transfer full): the command-line options (`--config FILE` and one
 * flag a setting, see exm_ini_options_entries()), not yet parsed
 */
ExmIniOptions *exm_dp_config_options_new(void);

/**
 * exm_dp_config_from_options:
 * @options: parsed options
 * @error: %EXM_DP_ERROR_CONFIG
 *
 * Defaults, then the ini file named by `--config` (if any), then the flags; the
 * result is validated.
 *
 * Returns: (transfer full): the settings, or %NULL
 */
ExmDpConfig *exm_dp_config_from_options(ExmIniOptions *options, GError **error);

/**
 * exm_dp_config_validate:
 *
 * Every value that ends up in the exim configuration or on a command line is
 * checked here: paths of a conservative character set, IP addresses, ports,
 * sizes.
 */
gboolean exm_dp_config_validate(const ExmDpConfig *config, GError **error);

/**
 * exm_dp_config_target_networks:
 * @items: addresses or networks, `ADDR` or `ADDR/PREFIX` (IPv4 or IPv6)
 * @error: %EXM_DP_ERROR_CONFIG naming the first item that is not one
 *
 * The one grammar for a list that reaches exim's `ignore_target_hosts`: only
 * hex digits, dots and colons, an address inet_pton() accepts and a decimal
 * prefix no longer than the address, at most 64 items.
 *
 * Returns: (transfer full): each item in canonical `ADDR/PREFIX` form, or %NULL
 */
GStrv exm_dp_config_target_networks(const gchar *const *items, GError **error);

/**
 * exm_dp_config_split_listen:
 * @text: `IPV4:PORT` or `[IPV6]:PORT`
 * @host: (out) (transfer full): the address
 * @port: (out): the port (0 allowed: any free one)
 *
 * Returns: %FALSE when @text is not of that form
 */
gboolean exm_dp_config_split_listen(const gchar *text, gchar **host, guint16 *port);

/**
 * exm_dp_config_path:
 * @node_path: an absolute node path such as %EXM_DP_PATH_PASSWD
 *
 * Returns: (transfer full): @node_path under the root
 */
gchar *exm_dp_config_path(const ExmDpConfig *config, const gchar *node_path);

/**
 * exm_dp_config_resolve:
 * @uid: (out): uid of @owner
 * @gid: (out): gid of @group
 * @exim_uid: (out) (optional): uid of @exim_user
 * @exim_gid: (out) (optional): primary gid of @exim_user
 *
 * Resolves the owner names with getpwnam/getgrnam.
 */
gboolean exm_dp_config_resolve(const ExmDpConfig *config,
			       uid_t *uid,
			       gid_t *gid,
			       uid_t *exim_uid,
			       gid_t *exim_gid,
			       GError **error);

/**
 * exm_dp_config_safe_path:
 *
 * Returns: %TRUE when @path is absolute, has no `..` component and only
 * characters of `[A-Za-z0-9/._+-]` (safe inside exim's configuration)
 */
gboolean exm_dp_config_safe_path(const gchar *path);

/**
 * exm_dp_config_template_path:
 *
 * Returns: (transfer full): @template_path, or the installed template, or the
 * source tree's (tests), the first that exists
 */
gchar *exm_dp_config_template_path(const ExmDpConfig *config);
