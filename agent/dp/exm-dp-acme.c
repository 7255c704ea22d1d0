/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * ACME on the node (docs/tls.md §5).  A run is one or two uacme children
 * (`new` once per directory, then `issue --force`), started from the
 * agent's tick and watched by the main context: the loop never waits.
 * During a run the engine answers HTTP-01 on acme_http_listen from the
 * challenge directory uacme's hook (data/acme/exm-acme-hook) fills; the
 * responder is bound only while a run needs it.  A success is checked and
 * written as one file by an atomic rename; a failure keeps the installed
 * certificate, records the error and backs off.
 */
#include "exm-dp-acme.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "exm-atomic.h"
#include "exm-config.h"
#include "exm-dp-error.h"
#include "exm-dp-tls.h"
#include "exm-json.h"
#include "exm-secret.h"

/* the trust store libcurl-gnutls (uacme's HTTPS) reads; a run with
 * acme_ca_file sees a copy with that anchor added, bound over it in a
 * mount namespace of uacme's own */
#define SYSTEM_BUNDLE	   "/etc/ssl/certs/ca-certificates.crt"
#define UACME		   "/usr/bin/uacme"
#define HOOK_INSTALLED	   EXM_LIBEXECDIR "/exordos-mail/exm-acme-hook"
#define HOOK_SOURCE	   EXM_SOURCE_ROOT "/data/acme/exm-acme-hook"
#define CHALLENGE_PREFIX   "/.well-known/acme-challenge/"
#define TOKEN_MAX	   128
#define KEY_AUTH_MAX	   512
#define URL_MAX		   1024
#define CHALLENGE_ENV	   "EXM_ACME_CHALLENGE_DIR"
#define MOUNT_FAILURE_TEXT "exm-acme: cannot bind the extra trust anchor (mount namespace)\n"

typedef enum {
	STEP_NEW,
	STEP_ISSUE,
} Step;

struct _ExmDpAcme {
	/* settings */
	gchar *acme_pem;
	gchar *dir;
	gchar *confdir;
	gchar *challenge_dir;
	gchar *state_path;
	gchar *trust_path; /* (nullable): only with acme_ca_file */
	gchar *ca_file;	   /* (nullable) */
	gchar *listen_host;
	guint16 listen_port;
	gchar *hook;
	uid_t uid;
	gid_t gid;
	ExmDpAcmeClock clock;
	gpointer clock_data;
	gint64 backoff_min;
	gint64 backoff_max;
	/* the target (directory_url %NULL = off) */
	gchar *hostname;
	gchar *directory_url;
	gchar *contact;
	gint64 renew_at; /* of the installed certificate; 0 = none for hostname */
	/* the state kept in state.json */
	gchar *account_directory; /* the directory the account was made at */
	gchar *state_target;	  /* "HOST URL" the error and back-off are of */
	gchar *error;
	guint failures;
	gint64 retry_at;
	/* a run in flight */
	GSubprocess *proc;
	GCancellable *cancel;
	guint timeout_source;
	gboolean timed_out;
	Step step;
	SoupServer *server;
	guint runs;
};

static gint64
wall_clock(gpointer unused)
{
	return g_get_real_time() / G_USEC_PER_SEC;
}

static gint64
acme_now(ExmDpAcme *self)
{
	return self->clock(self->clock_data);
}

/* ---- state ------------------------------------------------------------- */

gchar *
exm_dp_acme_state_path(const ExmDpConfig *config)
{
	return g_build_filename(config->root, config->acme_dir, EXM_DP_ACME_STATE_FILE, NULL);
}

static JsonObject *
state_read(const gchar *path)
{
	g_autofree gchar *text = NULL;
	g_autoptr(JsonNode) node = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return NULL;
	node = json_from_string(text, NULL);
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		return NULL;
	return json_object_ref(json_node_get_object(node));
}

gchar *
exm_dp_acme_read_error(const gchar *state_path)
{
	g_autoptr(JsonObject) o = state_read(state_path);
	const gchar *error = NULL;

	if (o == NULL || !exm_json_get_string(o, "error", TRUE, &error, NULL, NULL))
		return NULL;
	return g_strdup(error);
}

static void
state_load(ExmDpAcme *self)
{
	g_autoptr(JsonObject) o = state_read(self->state_path);
	const gchar *account = NULL;
	const gchar *error = NULL;

	if (o == NULL)
		return;
	if (exm_json_get_string(o, "account_directory", TRUE, &account, NULL, NULL))
		self->account_directory = g_strdup(account);
	if (exm_json_get_string(o, "error", TRUE, &error, NULL, NULL))
		self->error = g_strdup(error);
	if (exm_json_get_string(o, "target", TRUE, &error, NULL, NULL))
		self->state_target = g_strdup(error);
	self->failures =
		(guint)CLAMP(json_object_get_int_member_with_default(o, "failures", 0), 0, 64);
	self->retry_at = json_object_get_int_member_with_default(o, "retry_at", 0);
}

/* Written by an atomic rename, root 0600: the next agent resumes the
 * back-off and the status reads the error. */
static void
state_save(ExmDpAcme *self)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0600);
	g_autoptr(JsonObject) o = json_object_new();
	g_autoptr(JsonNode) node = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;

	if (self->account_directory != NULL)
		json_object_set_string_member(o, "account_directory", self->account_directory);
	if (self->error != NULL)
		json_object_set_string_member(o, "error", self->error);
	if (self->state_target != NULL)
		json_object_set_string_member(o, "target", self->state_target);
	json_object_set_int_member(o, "failures", self->failures);
	json_object_set_int_member(o, "retry_at", self->retry_at);
	node = json_node_init_object(json_node_alloc(), o);
	text = json_to_string(node, FALSE);
	if (!exm_atomic_write(self->state_path, text, strlen(text), &opts, NULL, &error))
		g_warning("acme: state not saved: %s", error->message);
}

/* ---- the installed certificate ----------------------------------------- */

static gint64
asn1_seconds(const ASN1_TIME *t)
{
	struct tm tm = { 0 };

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (gint64)timegm(&tm);
}

/* The first certificate of @pem when it is for @host and valid at @now;
 * its notBefore and notAfter. */
static X509 *
leaf_for(const gchar *pem, gsize len, const gchar *host, gint64 now, gint64 *nb, gint64 *na)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)MIN(len, (gsize)G_MAXINT));
	X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);

	BIO_free(bio);
	if (leaf == NULL)
		return NULL;
	*nb = asn1_seconds(X509_get0_notBefore(leaf));
	*na = asn1_seconds(X509_get0_notAfter(leaf));
	if (X509_check_host(leaf, host, 0, 0, NULL) != 1 || now < *nb || now >= *na || *na <= *nb) {
		X509_free(leaf);
		return NULL;
	}
	return leaf;
}

/* When the installed acme.pem is due: two thirds into its lifetime; 0 when
 * there is none for the hostname (or it is not valid now). */
static gint64
installed_renew_at(ExmDpAcme *self)
{
	g_autoptr(ExmSecret) pem = NULL; /* it holds the key too */
	gsize len = 0;
	gint64 nb = 0;
	gint64 na = 0;
	X509 *leaf;

	if (self->hostname == NULL || !g_file_get_contents(self->acme_pem, &pem, &len, NULL))
		return 0;
	leaf = leaf_for(pem, len, self->hostname, acme_now(self), &nb, &na);
	if (leaf == NULL)
		return 0;
	X509_free(leaf);
	return nb + (na - nb) * 2 / 3;
}

gint64
exm_dp_acme_next_run(ExmDpAcme *self)
{
	if (self->directory_url == NULL)
		return G_MAXINT64;
	if (self->failures > 0)
		return MAX(self->renew_at, self->retry_at);
	return self->renew_at;
}

/* ---- target ------------------------------------------------------------ */

static gboolean
valid_hostname(const gchar *host)
{
	gsize len = host != NULL ? strlen(host) : 0;

	if (len == 0 || len > 253 || host[0] == '.' || host[0] == '-' ||
	    strstr(host, "..") != NULL || strchr(host, '.') == NULL)
		return FALSE;
	for (const gchar *p = host; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '.' && *p != '-')
			return FALSE;
	return TRUE;
}

static gboolean
valid_url(const gchar *url)
{
	gsize len = strlen(url);

	if (!g_str_has_prefix(url, "https://") || len <= 8 || len > URL_MAX)
		return FALSE;
	for (const gchar *p = url; *p != '\0'; p++)
		if ((guchar)*p <= 0x20 || (guchar)*p >= 0x7f)
			return FALSE;
	return TRUE;
}

/* `mailto:ADDRESS` of a conservative character set (uacme adds `mailto:`). */
static gboolean
valid_contact(const gchar *contact)
{
	const gchar *addr = contact + strlen("mailto:");

	if (!g_str_has_prefix(contact, "mailto:") || strlen(addr) > 254 ||
	    strchr(addr, '@') == NULL || addr[0] == '-')
		return FALSE;
	for (const gchar *p = addr; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && strchr("@.+_-", *p) == NULL)
			return FALSE;
	return TRUE;
}

static void run_stop(ExmDpAcme *self);

/* ACME switched off: exim goes back to the tenant's or self-signed file. */
static void
acme_off(ExmDpAcme *self)
{
	g_autoptr(GError) error = NULL;

	run_stop(self);
	if (!exm_dp_tls_remove_at(self->acme_pem, NULL, &error))
		g_warning("acme: %s", error->message);
	g_clear_pointer(&self->error, g_free);
	g_clear_pointer(&self->state_target, g_free);
	self->failures = 0;
	self->retry_at = 0;
	if (g_file_test(self->state_path, G_FILE_TEST_EXISTS))
		state_save(self);
}

/* The back-off and error kept are of one target: a restarted agent resumes
 * them for the same one; another target decides afresh. */
static void
target_backoff(ExmDpAcme *self)
{
	g_autofree gchar *key = g_strconcat(self->hostname, " ", self->directory_url, NULL);

	if (g_strcmp0(key, self->state_target) == 0)
		return;
	g_free(self->state_target);
	self->state_target = g_steal_pointer(&key);
	g_clear_pointer(&self->error, g_free);
	self->failures = 0;
	self->retry_at = 0;
	if (g_file_test(self->state_path, G_FILE_TEST_EXISTS))
		state_save(self);
}

gboolean
exm_dp_acme_set_target(ExmDpAcme *self,
		       const gchar *hostname,
		       const gchar *directory_url,
		       const gchar *contact,
		       GError **error)
{
	if (directory_url != NULL && (!valid_hostname(hostname) || !valid_url(directory_url) ||
				      (contact != NULL && !valid_contact(contact)))) {
		g_set_error(
			error,
			EXM_DP_ERROR,
			EXM_DP_ERROR_INVALID,
			"acme: invalid hostname, directory_url (https://) or contact (mailto:)");
		return FALSE;
	}
	if (g_strcmp0(hostname, self->hostname) == 0 &&
	    g_strcmp0(directory_url, self->directory_url) == 0 &&
	    g_strcmp0(contact, self->contact) == 0)
		return TRUE;
	g_free(self->hostname);
	g_free(self->directory_url);
	g_free(self->contact);
	self->hostname = g_strdup(hostname);
	self->directory_url = g_strdup(directory_url);
	self->contact = g_strdup(contact);
	if (directory_url == NULL) {
		acme_off(self);
		return TRUE;
	}
	run_stop(self);
	target_backoff(self);
	self->renew_at = installed_renew_at(self);
	return TRUE;
}

/* ---- the HTTP-01 responder --------------------------------------------- */

static gboolean
valid_token(const gchar *token)
{
	gsize len = strlen(token);

	if (len == 0 || len > TOKEN_MAX)
		return FALSE;
	for (const gchar *p = token; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
			return FALSE;
	return TRUE;
}

/* GET /.well-known/acme-challenge/<token>: the key authorization the hook
 * wrote; nothing else is served. */
static void
responder(SoupServer *unused_server,
	  SoupServerMessage *msg,
	  const char *path,
	  GHashTable *unused_query,
	  gpointer data)
{
	ExmDpAcme *self = data;
	const gchar *token =
		g_str_has_prefix(path, CHALLENGE_PREFIX) ? path + strlen(CHALLENGE_PREFIX) : NULL;
	g_autofree gchar *file = NULL;
	gchar *text = NULL;
	gsize len = 0;

	if (g_strcmp0(soup_server_message_get_method(msg), "GET") != 0 || token == NULL ||
	    !valid_token(token)) {
		soup_server_message_set_status(msg, 404, NULL);
		return;
	}
	file = g_build_filename(self->challenge_dir, token, NULL);
	if (!g_file_get_contents(file, &text, &len, NULL) || len > KEY_AUTH_MAX) {
		g_free(text);
		soup_server_message_set_status(msg, 404, NULL);
		return;
	}
	soup_server_message_set_status(msg, 200, NULL);
	soup_message_headers_set_content_type(
		soup_server_message_get_response_headers(msg), "text/plain", NULL);
	soup_message_body_append_take(
		soup_server_message_get_response_body(msg), (guchar *)text, len);
}

static gboolean
responder_start(ExmDpAcme *self, GError **error)
{
	g_autoptr(GInetAddress) address = g_inet_address_new_from_string(self->listen_host);
	g_autoptr(GSocketAddress) sockaddr = g_inet_socket_address_new(address, self->listen_port);

	self->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(self->server, NULL, responder, self, NULL);
	if (!soup_server_listen(self->server, sockaddr, 0, error)) {
		g_prefix_error(error,
			       "http-01 responder on %s:%u: ",
			       self->listen_host,
			       self->listen_port);
		g_clear_object(&self->server);
		return FALSE;
	}
	return TRUE;
}

static void
responder_stop(ExmDpAcme *self)
{
	if (self->server == NULL)
		return;
	soup_server_disconnect(self->server);
	g_clear_object(&self->server);
}

/* ---- new ---------------------------------------------------------------- */

static gboolean
resolve_listen(ExmDpAcme *self, const ExmDpConfig *config, GError **error)
{
	if (!exm_dp_config_split_listen(
		    config->acme_http_listen, &self->listen_host, &self->listen_port)) {
		g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_CONFIG, "invalid acme_http_listen");
		return FALSE;
	}
	return TRUE;
}

ExmDpAcme *
exm_dp_acme_new(const ExmDpConfig *config, GError **error)
{
	g_autoptr(ExmDpAcme) self = g_new0(ExmDpAcme, 1);

	if (!exm_dp_config_resolve(config, &self->uid, &self->gid, NULL, NULL, error) ||
	    !resolve_listen(self, config, error))
		return NULL;
	self->acme_pem = exm_dp_config_path(config, EXM_DP_PATH_TLS_ACME);
	self->dir = exm_dp_config_path(config, config->acme_dir);
	self->confdir = g_build_filename(self->dir, "uacme", NULL);
	self->challenge_dir = g_build_filename(self->dir, "challenge", NULL);
	self->state_path = exm_dp_acme_state_path(config);
	if (config->acme_ca_file[0] != '\0') {
		self->ca_file = g_strdup(config->acme_ca_file);
		self->trust_path = g_build_filename(self->dir, "trust.pem", NULL);
	}
	self->hook =
		g_strdup(g_file_test(HOOK_INSTALLED, G_FILE_TEST_IS_EXECUTABLE) ? HOOK_INSTALLED
										: HOOK_SOURCE);
	self->clock = wall_clock;
	self->backoff_min = EXM_DP_ACME_BACKOFF_MIN_SECONDS;
	self->backoff_max = EXM_DP_ACME_BACKOFF_MAX_SECONDS;
	state_load(self);
	return g_steal_pointer(&self);
}

void
exm_dp_acme_free(ExmDpAcme *self)
{
	if (self == NULL)
		return;
	run_stop(self);
	g_free(self->acme_pem);
	g_free(self->dir);
	g_free(self->confdir);
	g_free(self->challenge_dir);
	g_free(self->state_path);
	g_free(self->trust_path);
	g_free(self->ca_file);
	g_free(self->listen_host);
	g_free(self->hook);
	g_free(self->hostname);
	g_free(self->directory_url);
	g_free(self->contact);
	g_free(self->account_directory);
	g_free(self->state_target);
	g_free(self->error);
	g_free(self);
}

void
exm_dp_acme_set_clock(ExmDpAcme *self, ExmDpAcmeClock clock, gpointer data)
{
	self->clock = clock != NULL ? clock : wall_clock;
	self->clock_data = data;
	self->renew_at = installed_renew_at(self);
}

void
exm_dp_acme_set_backoff(ExmDpAcme *self, gint64 min_seconds, gint64 max_seconds)
{
	self->backoff_min = MAX(min_seconds, 1);
	self->backoff_max = MAX(max_seconds, self->backoff_min);
}

void
exm_dp_acme_set_hook(ExmDpAcme *self, const gchar *hook)
{
	g_free(self->hook);
	self->hook = g_strdup(hook);
}

gboolean
exm_dp_acme_running(ExmDpAcme *self)
{
	return self->proc != NULL || self->server != NULL;
}

guint
exm_dp_acme_get_runs(ExmDpAcme *self)
{
	return self->runs;
}

const gchar *
exm_dp_acme_get_error(ExmDpAcme *self)
{
	return self->error;
}

/* ---- a run --------------------------------------------------------------- */

/* Kills uacme (its communicate callback then sees the cancellation and
 * touches nothing) and unbinds the responder. */
static void
run_stop(ExmDpAcme *self)
{
	g_clear_handle_id(&self->timeout_source, g_source_remove);
	if (self->proc != NULL) {
		g_cancellable_cancel(self->cancel);
		g_subprocess_force_exit(self->proc);
	}
	g_clear_object(&self->proc);
	g_clear_object(&self->cancel);
	responder_stop(self);
}

/* Removes what the hook left (a killed run's tokens). */
static void
challenge_clear(ExmDpAcme *self)
{
	g_autoptr(GDir) dir = g_dir_open(self->challenge_dir, 0, NULL);
	const gchar *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(self->challenge_dir, name, NULL);

		g_unlink(path);
	}
}

/* One line of printable ASCII, bounded: what the status may carry. */
static gchar *
error_text(const gchar *text)
{
	GString *out = g_string_new(NULL);

	for (const gchar *p = text; *p != '\0' && out->len < EXM_DP_ACME_ERROR_MAX; p++)
		g_string_append_c(out, ((guchar)*p < 0x20 || (guchar)*p >= 0x7f) ? ' ' : *p);
	g_strstrip(out->str);
	if (out->str[0] == '\0')
		g_string_assign(out, "failed");
	return g_string_free(out, FALSE);
}

static void
run_finish(ExmDpAcme *self, const gchar *failure)
{
	gint64 now = acme_now(self);

	run_stop(self);
	challenge_clear(self);
	self->runs++;
	g_clear_pointer(&self->error, g_free);
	if (failure == NULL) {
		self->failures = 0;
		self->retry_at = 0;
	} else {
		gint64 wait = self->backoff_min;

		self->failures++;
		for (guint i = 1; i < self->failures && wait < self->backoff_max; i++)
			wait *= 2;
		self->retry_at = now + MIN(wait, self->backoff_max);
		self->error = error_text(failure);
		/* a message, not a warning: a failed run is an expected event the
		 * status reports; the agent goes on serving the old certificate */
		g_message("acme: %s: %s (next try in %" G_GINT64_FORMAT " s)",
			  self->hostname,
			  self->error,
			  self->retry_at - now);
	}
	self->renew_at = installed_renew_at(self);
	state_save(self);
}

/* The chain and key uacme wrote, checked (for the hostname, valid now, the
 * key matches) and installed as one file, 0640 root:Debian-exim like the
 * DKIM key, by an atomic rename: exim serves it from the next handshake. */
static gboolean
install(ExmDpAcme *self, GError **error)
{
	g_autofree gchar *cert_path =
		g_build_filename(self->confdir, self->hostname, "cert.pem", NULL);
	g_autofree gchar *key_path =
		g_build_filename(self->confdir, "private", self->hostname, "key.pem", NULL);
	g_autofree gchar *chain = NULL;
	g_autoptr(ExmSecret) key = NULL;
	g_autoptr(ExmSecret) both = NULL;
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
	gsize chain_len = 0;
	gsize key_len = 0;
	gint64 nb = 0;
	gint64 na = 0;
	X509 *leaf = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	gboolean ok;

	if (!g_file_get_contents(cert_path, &chain, &chain_len, error) ||
	    !g_file_get_contents(key_path, &key, &key_len, error))
		return FALSE;
	leaf = leaf_for(chain, chain_len, self->hostname, acme_now(self), &nb, &na);
	bio = BIO_new_mem_buf(key, (int)MIN(key_len, (gsize)G_MAXINT));
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ok = leaf != NULL && pkey != NULL && X509_check_private_key(leaf, pkey) == 1;
	X509_free(leaf);
	EVP_PKEY_free(pkey);
	if (!ok) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_FAILED,
			    "the issued certificate is not valid now for %s or its key does not "
			    "match",
			    self->hostname);
		return FALSE;
	}
	both = g_strconcat(chain, g_str_has_suffix(chain, "\n") ? "" : "\n", key, NULL);
	opts.uid = self->uid;
	opts.gid = self->gid;
	return exm_atomic_write(self->acme_pem, both, strlen(both), &opts, NULL, error);
}

/* The extra trust anchor: the system's bundle plus acme_ca_file, 0600. */
static gboolean
trust_prepare(ExmDpAcme *self, GError **error)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0600);
	g_autofree gchar *system = NULL;
	g_autofree gchar *extra = NULL;
	g_autofree gchar *both = NULL;

	if (self->trust_path == NULL)
		return TRUE;
	if (!g_file_get_contents(SYSTEM_BUNDLE, &system, NULL, error) ||
	    !g_file_get_contents(self->ca_file, &extra, NULL, error))
		return FALSE;
	both = g_strconcat(system, "\n", extra, NULL);
	return exm_atomic_write(self->trust_path, both, strlen(both), &opts, NULL, error);
}

static gboolean
dir_private(const gchar *path, GError **error)
{
	if (g_mkdir_with_parents(path, 0700) != 0 || g_chmod(path, 0700) != 0) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_FAILED,
			    "%s: %s",
			    path,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* In uacme's child, before exec: it dies with the agent; and with
 * acme_ca_file the bundle with the extra anchor is bound over the system's
 * in a mount namespace of its own (libcurl-gnutls reads no variable naming
 * another).  Async-signal-safe calls only. */
static void
child_setup(gpointer data)
{
	const gchar *trust = data;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (trust == NULL)
		return;
	if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	    mount(trust, SYSTEM_BUNDLE, NULL, MS_BIND, NULL) == 0)
		return;
	if (write(STDERR_FILENO, MOUNT_FAILURE_TEXT, strlen(MOUNT_FAILURE_TEXT)) < 0) {
		/* nothing more to say */
	}
	_exit(2);
}

static GPtrArray *
step_argv(ExmDpAcme *self, Step step)
{
	GPtrArray *argv = g_ptr_array_new();

	g_ptr_array_add(argv, (gpointer)UACME);
	g_ptr_array_add(argv, (gpointer) "--yes");
	g_ptr_array_add(argv, (gpointer) "--confdir");
	g_ptr_array_add(argv, self->confdir);
	g_ptr_array_add(argv, (gpointer) "--acme-url");
	g_ptr_array_add(argv, self->directory_url);
	if (step == STEP_NEW) {
		g_ptr_array_add(argv, (gpointer) "new");
		if (self->contact != NULL)
			g_ptr_array_add(argv, self->contact + strlen("mailto:"));
	} else {
		/* the engine decides when (--force); no OCSP query of the CA */
		g_ptr_array_add(argv, (gpointer) "--verbose");
		g_ptr_array_add(argv, (gpointer) "--force");
		g_ptr_array_add(argv, (gpointer) "--no-ocsp");
		g_ptr_array_add(argv, (gpointer) "--hook");
		g_ptr_array_add(argv, self->hook);
		g_ptr_array_add(argv, (gpointer) "issue");
		g_ptr_array_add(argv, self->hostname);
	}
	g_ptr_array_add(argv, NULL);
	return argv;
}

static void step_done(GObject *source, GAsyncResult *result, gpointer data);

static gboolean
step_timeout(gpointer data)
{
	ExmDpAcme *self = data;

	self->timeout_source = 0;
	self->timed_out = TRUE;
	g_subprocess_force_exit(self->proc);
	return G_SOURCE_REMOVE;
}

static gboolean
step_spawn(ExmDpAcme *self, Step step, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
		G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GPtrArray) argv = step_argv(self, step);

	g_subprocess_launcher_setenv(launcher, CHALLENGE_ENV, self->challenge_dir, TRUE);
	g_subprocess_launcher_set_child_setup(launcher, child_setup, self->trust_path, NULL);
	self->proc =
		g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, error);
	if (self->proc == NULL)
		return FALSE;
	self->step = step;
	self->timed_out = FALSE;
	self->cancel = g_cancellable_new();
	g_subprocess_communicate_utf8_async(self->proc, NULL, self->cancel, step_done, self);
	self->timeout_source =
		g_timeout_add_seconds(EXM_DP_ACME_TIMEOUT_SECONDS, step_timeout, self);
	return TRUE;
}

/* The last non-empty line uacme printed. */
static gchar *
last_line(const gchar *text)
{
	g_auto(GStrv) lines = g_strsplit(text != NULL ? text : "", "\n", -1);
	guint n = g_strv_length(lines);

	while (n > 0 && g_strstrip(lines[n - 1])[0] == '\0')
		n--;
	return g_strdup(n > 0 ? lines[n - 1] : "uacme failed without a message");
}

/* Why uacme failed: the ACME server's problem `detail` when it printed
 * one (say, what the validation of the challenge met), else its last line. */
static gchar *
failure_reason(const gchar *text)
{
	static const gchar key[] = "\"detail\": \"";
	const gchar *detail = text != NULL ? g_strrstr(text, key) : NULL;
	const gchar *end;
	g_autofree gchar *raw = NULL;

	if (detail == NULL)
		return last_line(text);
	detail += strlen(key);
	end = strchr(detail, '\n');
	raw = g_strndup(detail, end != NULL ? (gsize)(end - detail) : strlen(detail));
	g_strchomp(raw);
	if (g_str_has_suffix(raw, "\","))
		raw[strlen(raw) - 2] = '\0';
	else if (g_str_has_suffix(raw, "\""))
		raw[strlen(raw) - 1] = '\0';
	/* JSON's \" inside the detail, as text */
	{
		g_autofree gchar *plain = g_strcompress(raw);

		return g_strdup_printf("the ACME server says: %s", plain);
	}
}

/* What one step's exit means: %NULL when the run goes on or succeeded. */
static gchar *
step_outcome(ExmDpAcme *self, gint status, const gchar *err)
{
	g_autoptr(GError) error = NULL;

	if (self->timed_out)
		return g_strdup_printf("uacme timed out after %d s", EXM_DP_ACME_TIMEOUT_SECONDS);
	if (self->step == STEP_NEW) {
		/* an account this key already has is what `new` wants */
		if (status != 0 && (err == NULL || strstr(err, "already exists") == NULL))
			return last_line(err);
		g_free(self->account_directory);
		self->account_directory = g_strdup(self->directory_url);
		g_clear_object(&self->proc);
		g_clear_object(&self->cancel);
		if (!step_spawn(self, STEP_ISSUE, &error))
			return g_strdup(error->message);
		return NULL;
	}
	if (status != 0) {
		g_message("acme: uacme exited with %d:\n%s", status, err != NULL ? err : "");
		return failure_reason(err);
	}
	if (!install(self, &error))
		return g_strdup(error->message);
	g_message("acme: installed a certificate for %s", self->hostname);
	return NULL;
}

static void
step_done(GObject *source, GAsyncResult *result, gpointer data)
{
	ExmDpAcme *self;
	g_autofree gchar *err = NULL;
	g_autofree gchar *failure = NULL;
	g_autoptr(GError) error = NULL;
	gint status;

	if (!g_subprocess_communicate_utf8_finish(
		    G_SUBPROCESS(source), result, NULL, &err, &error) &&
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return; /* stopped: @data may be gone */
	self = data;
	g_clear_handle_id(&self->timeout_source, g_source_remove);
	status = g_subprocess_get_if_exited(G_SUBPROCESS(source))
			 ? g_subprocess_get_exit_status(G_SUBPROCESS(source))
			 : -1;
	failure = error != NULL ? g_strdup(error->message) : step_outcome(self, status, err);
	if (failure == NULL && self->step == STEP_ISSUE && (GObject *)self->proc == source)
		run_finish(self, NULL);
	else if (failure != NULL)
		run_finish(self, failure);
}

static gboolean
run_start(ExmDpAcme *self, GError **error)
{
	if (!dir_private(self->dir, error) || !dir_private(self->confdir, error) ||
	    !dir_private(self->challenge_dir, error) || !trust_prepare(self, error))
		return FALSE;
	challenge_clear(self);
	if (!responder_start(self, error))
		return FALSE;
	return step_spawn(self,
			  g_strcmp0(self->account_directory, self->directory_url) == 0 ? STEP_ISSUE
										       : STEP_NEW,
			  error);
}

void
exm_dp_acme_tick(ExmDpAcme *self)
{
	g_autoptr(GError) error = NULL;

	if (exm_dp_acme_running(self) || acme_now(self) < exm_dp_acme_next_run(self))
		return;
	g_message("acme: requesting a certificate for %s from %s",
		  self->hostname,
		  self->directory_url);
	if (!run_start(self, &error))
		run_finish(self, error->message);
}
