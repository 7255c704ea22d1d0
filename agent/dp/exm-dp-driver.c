/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-driver.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exm-dp-error.h"
#include "exm-dp-queue.h"
#include "exm-dp-usage.h"
#include "exm-dp-capture.h"
#include "exm-dp-index.h"
#include "exm-dp-listing.h"
#include "exm-stamp.h"
#include "exm-dp-tls.h"
#include "exm-json.h"
#include "exm-memprobe.h"
#include "exm-mail-dns.h"
#include "exm-mail-files.h"
#include "exm-mail-model.h"
#include "exm-mail-validate.h"
#include "exm-secret.h"

struct _ExmDpDriver {
	gchar *passwd_path;
	gchar *policy_path;
	gchar *meta_path;
	gchar *dkim_txt_path;
	/* the certificates exim may serve (docs/tls.md §4): the tenant's first */
	gchar *tls_cert_path;
	gchar *tls_custom_path;
	gchar *tls_acme_path;
	gchar *acme_state_path;
	ExmDpAcme *acme; /* (nullable): borrowed, docs/tls.md §5 */
	uid_t uid;
	gid_t gid;
	ExmAtomicFaultFunc fault;
	gpointer fault_data;
	guint *writes;
	/* usage for the API (issue 16), when the agent runs the driver */
	ExmDpLogStats *usage_log;
	ExmDpUsage *usage;
	ExmDpUsageStore *usage_store; /* (nullable): usage kept across restarts */
	gboolean usage_store_failing; /* warned once until a save works again */
	/* scale (docs/scale.md): the cdb twins exim looks up, and the stamp of
	 * every file the last list() read (%NULL after a write) */
	gchar *passwd_cdb_path;
	gchar *policy_cdb_path;
	ExmStamp *listed;
	/* the last listing's values, or the last put's (%NULL after a write),
	 * kept in listing_path (docs/scale.md §3) */
	ExmDpListing *listing;
	gchar *listing_path;
	gboolean listing_failing; /* warned once until a listing is kept again */
	/* the usage and breaker members as they stood when list() began, and
	 * when that was (monotonic µs): a change of the usage alone is held
	 * until usage_hold µs after it (docs/usage.md §3) */
	gchar *listed_usage;
	gint64 listed_at;
	gint64 usage_hold;
	/* the sandbox's captured messages (docs/sandbox.md), and their member
	 * as it stood when list() began */
	ExmDpCapture *capture;
	gchar *listed_capture;
	/* the circuit breaker (docs/abuse-controls.md §7), when the agent runs
	 * the driver: counted by the usage reader, enforced through policy and
	 * exim's queue commands */
	ExmDpBreaker *breaker;
	gchar *breaker_path;
	gboolean breaker_failing; /* warned once until a save works again */
	gint64 breaker_saved_at;  /* monotonic µs of the last save */
	gchar *exim_binary;
	gchar *exim_conf;
};

static ExmMailNode *node_from_json(JsonNode *value, GError **error);
static ExmStamp *stamp_inputs(ExmDpDriver *self);
static gchar *usage_text(ExmDpDriver *self);
static gchar *capture_text(ExmDpDriver *self);
static gboolean ensure_parent(const gchar *path, gint mode, GError **error);

/* Keeps @values as the last listing; a listing that cannot be kept costs the
 * next one its shortcut, nothing else. */
static void
keep_listing(ExmDpDriver *self,
	     ExmStamp *stamp,
	     const gchar *usage,
	     const gchar *capture,
	     GPtrArray *values,
	     const gchar *const *names,
	     gboolean plain)
{
	g_autoptr(GError) error = NULL;

	g_clear_pointer(&self->listing, exm_dp_listing_free);
	if (!ensure_parent(self->listing_path, 0700, &error)) {
		exm_stamp_free(stamp);
		if (!self->listing_failing)
			g_warning("listing not kept: %s", error->message);
		self->listing_failing = TRUE;
		return;
	}
	self->listing = exm_dp_listing_new(
		self->listing_path, stamp, usage, capture, values, names, plain, &error);
	if (self->listing == NULL && !self->listing_failing)
		g_warning("listing not kept: %s", error->message);
	else if (self->listing != NULL && self->listing_failing)
		g_message("listing kept again");
	self->listing_failing = self->listing == NULL;
}

/* Any write by the driver: the last listing is no longer what the files hold. */
static void
forget(ExmDpDriver *self)
{
	g_clear_pointer(&self->listed, exm_stamp_free);
	g_clear_pointer(&self->listing, exm_dp_listing_free);
}

typedef enum {
	PUT_CREATE,
	PUT_UPDATE,
	PUT_APPLY,
} PutMode;

/* A writer killed before its rename leaves its temp file (with hashes, for
 * passwd); the next driver removes those of its own files, nothing else. */
static void
remove_stale(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	guint n = 0;

	if (!exm_atomic_remove_stale(path, &n, &error))
		g_warning("stale temporary files of %s: %s", path, error->message);
	else if (n > 0)
		g_message("removed %u stale temporary file%s of %s", n, n == 1 ? "" : "s", path);
}

ExmDpDriver *
exm_dp_driver_new(const ExmDpConfig *config, GError **error)
{
	g_autoptr(ExmDpDriver) self = g_new0(ExmDpDriver, 1);

	if (!exm_dp_config_resolve(config, &self->uid, &self->gid, NULL, NULL, error))
		return NULL;
	self->passwd_path = exm_dp_config_path(config, EXM_DP_PATH_PASSWD);
	self->policy_path = exm_dp_config_path(config, EXM_DP_PATH_POLICY);
	self->meta_path = exm_dp_config_path(config, EXM_DP_PATH_META);
	{
		g_autofree gchar *dir = g_path_get_dirname(self->meta_path);

		self->listing_path = g_build_filename(dir, EXM_DP_DRIVER_LISTING_FILE, NULL);
	}
	self->dkim_txt_path = exm_dp_config_path(config, EXM_DP_PATH_DKIM_TXT);
	self->tls_cert_path = exm_dp_config_path(config, EXM_DP_PATH_TLS_CERT);
	self->tls_custom_path = exm_dp_config_path(config, EXM_DP_PATH_TLS_CUSTOM);
	self->tls_acme_path = exm_dp_config_path(config, EXM_DP_PATH_TLS_ACME);
	self->acme_state_path = exm_dp_acme_state_path(config);
	{
		g_autofree gchar *dir = exm_dp_config_path(config, EXM_DP_PATH_CAPTURE_DIR);

		self->capture = exm_dp_capture_new(dir);
	}
	self->exim_binary = g_strdup(config->exim_binary);
	self->exim_conf = exm_dp_config_path(config, EXM_DP_PATH_EXIM_CONF);
	exm_dp_driver_set_usage_hold(self, (guint)MAX(config->usage_report_interval, 0));
	self->passwd_cdb_path = exm_dp_index_path(self->passwd_path);
	self->policy_cdb_path = exm_dp_index_path(self->policy_path);
	remove_stale(self->passwd_cdb_path);
	remove_stale(self->policy_cdb_path);
	remove_stale(self->passwd_path);
	remove_stale(self->policy_path);
	remove_stale(self->meta_path);
	remove_stale(self->listing_path);
	return g_steal_pointer(&self);
}

void
exm_dp_driver_free(ExmDpDriver *self)
{
	if (self == NULL)
		return;
	g_free(self->passwd_path);
	g_free(self->policy_path);
	g_free(self->meta_path);
	g_free(self->dkim_txt_path);
	g_free(self->tls_cert_path);
	g_free(self->tls_custom_path);
	g_free(self->tls_acme_path);
	g_free(self->acme_state_path);
	g_free(self->passwd_cdb_path);
	g_free(self->policy_cdb_path);
	exm_stamp_free(self->listed);
	exm_dp_listing_free(self->listing);
	g_free(self->listing_path);
	g_free(self->listed_usage);
	exm_dp_capture_free(self->capture);
	g_free(self->listed_capture);
	g_free(self->breaker_path);
	g_free(self->exim_binary);
	g_free(self->exim_conf);
	g_free(self);
}

void
exm_dp_driver_set_hooks(ExmDpDriver *self,
			ExmAtomicFaultFunc fault,
			gpointer fault_data,
			guint *writes)
{
	self->fault = fault;
	self->fault_data = fault_data;
	self->writes = writes;
}

const gchar *const *
exm_dp_driver_kinds(void)
{
	static const gchar *const kinds[] = { EXM_DP_DRIVER_KIND, NULL };

	return kinds;
}

static gboolean
check_kind(const gchar *kind, GError **error)
{
	if (g_strcmp0(kind, EXM_DP_DRIVER_KIND) == 0)
		return TRUE;
	g_set_error(error,
		    EXM_DP_ERROR,
		    EXM_DP_ERROR_KIND,
		    "unsupported kind '%s'",
		    kind != NULL ? kind : "(null)");
	return FALSE;
}

/* Reads a file; a missing one is "" (upstream treats it as empty). */
static gchar *
read_optional(const gchar *path, GError **error)
{
	g_autoptr(GError) local = NULL;
	gchar *content = NULL;

	if (g_file_get_contents(path, &content, NULL, &local))
		return content;
	if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
		return g_strdup("");
	g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_FAILED, "%s", local->message);
	return NULL;
}

static gboolean
ensure_parent(const gchar *path, gint mode, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname(path);

	if (g_mkdir_with_parents(dir, mode) == 0)
		return TRUE;
	g_set_error(error,
		    EXM_DP_ERROR,
		    EXM_DP_ERROR_FAILED,
		    "cannot create %s: %s",
		    dir,
		    g_strerror(errno));
	return FALSE;
}

/* ---- mail_meta.json ---------------------------------------------------- */

static JsonNode *
meta_empty(void)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, EXM_DP_DRIVER_KIND);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "resources");
	json_builder_begin_object(b);
	json_builder_end_object(b);
	json_builder_end_object(b);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

/* The `resources` object inside @root, or %NULL when the layout is wrong. */
static JsonObject *
meta_resources(JsonNode *root)
{
	JsonNode *kind;
	JsonNode *res;

	/* json_object_get_object_member() would g_critical on a missing or
	 * non-object member, and this file is data, not a programmer's promise */
	if (!JSON_NODE_HOLDS_OBJECT(root))
		return NULL;
	kind = json_object_get_member(json_node_get_object(root), EXM_DP_DRIVER_KIND);
	if (kind == NULL || !JSON_NODE_HOLDS_OBJECT(kind))
		return NULL;
	res = json_object_get_member(json_node_get_object(kind), "resources");
	return res != NULL && JSON_NODE_HOLDS_OBJECT(res) ? json_node_get_object(res) : NULL;
}

/* Whether the meta file holds nothing but `resources` (the layout the
 * driver writes): then a put may rebuild it rather than read it. */
static gboolean
meta_plain(JsonNode *meta)
{
	JsonObject *root = json_node_get_object(meta);
	JsonNode *kind = json_object_get_member(root, EXM_DP_DRIVER_KIND);

	return json_object_get_size(root) == 1 &&
	       json_object_get_size(json_node_get_object(kind)) == 1;
}

/* Each resource's `accounts` is read as its raw text (docs/scale.md §3). */
static const gchar *const meta_raw[] = { "=*/resources/*/accounts", NULL };

static JsonNode *
meta_load(ExmDpDriver *self, GError **error)
{
	/* the value may carry the tenant's TLS key (tls_custom): wiped */
	g_autoptr(ExmSecret) content = read_optional(self->meta_path, error);
	g_autoptr(JsonNode) root = NULL;
	gsize len;

	if (content == NULL)
		return NULL;
	if (content[0] == '\0')
		return meta_empty();
	/* parsed where it lies (and wiped): a copy beside the tree was 14 MB
	 * more at 100 000 accounts */
	len = strlen(content);
	root = exm_json_parse_pruned_take(g_steal_pointer(&content), len, meta_raw, error);
	if (root == NULL) {
		g_prefix_error(error, "%s: ", self->meta_path);
		return NULL;
	}
	if (meta_resources(root) == NULL) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_FAILED,
			    "%s: no %s.resources object",
			    self->meta_path,
			    EXM_DP_DRIVER_KIND);
		return NULL;
	}
	return g_steal_pointer(&root);
}

static gboolean
meta_save(ExmDpDriver *self, JsonNode *root, GError **error)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0600);
	g_autoptr(ExmAtomicStream) stream = NULL;

	if (!ensure_parent(self->meta_path, 0700, error))
		return FALSE;
	forget(self);
	/* written as it is made: the text of every account (14 MB at
	 * 100 000) is not held beside the node (docs/scale.md §3) */
	stream = exm_atomic_stream_new(self->meta_path, &opts);
	return exm_json_canonical_to(root, exm_atomic_stream_piece, stream, error) &&
	       exm_atomic_stream_finish(stream, NULL, error);
}

/* ---- passwd ------------------------------------------------------------ */

/* The cdb twin @db (taken) at @cdb, which exim looks up, after the lsearch
 * file: the same owner and mode; a crash between the two reads back as
 * "differs" and is applied again. */
static gboolean
index_write(ExmDpDriver *self,
	    const gchar *cdb,
	    guint8 *db,
	    gsize len,
	    gboolean *changed,
	    GError **error)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
	gboolean index_changed = FALSE;

	opts.uid = self->uid;
	opts.gid = self->gid;
	forget(self);
	if (!exm_dp_index_write_db(cdb, db, len, &opts, &index_changed, error))
		return FALSE;
	if (changed != NULL)
		*changed = *changed || index_changed;
	return TRUE;
}

/* How the driver writes a lookup file: its owner, and for passwd the test
 * hooks. */
static ExmAtomicOptions
lookup_options(ExmDpDriver *self, const gchar *path)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);

	opts.uid = self->uid;
	opts.gid = self->gid;
	if (path == self->passwd_path) {
		opts.fault = self->fault;
		opts.fault_data = self->fault_data;
		opts.writes = self->writes;
	}
	return opts;
}

/* A lookup file whole, without its twin (the policy: passwd is written as
 * it is rendered, passwd_write()), with lookup_options()'s owner and mode. */
static gboolean
lookup_file_write(ExmDpDriver *self,
		  const gchar *path,
		  const gchar *content,
		  gboolean *changed,
		  GError **error)
{
	ExmAtomicOptions opts = lookup_options(self, path);

	if (!ensure_parent(path, 0755, error))
		return FALSE;
	forget(self);
	return exm_atomic_write(path, content, strlen(content), &opts, changed, error);
}

static gboolean
lookup_write(ExmDpDriver *self,
	     const gchar *path,
	     const gchar *content,
	     gboolean *changed,
	     GError **error)
{
	const gchar *cdb =
		path == self->passwd_path ? self->passwd_cdb_path : self->policy_cdb_path;
	guint8 *db;
	gsize len = 0;

	if (!lookup_file_write(self, path, content, changed, error))
		return FALSE;
	db = exm_dp_index_render(cdb, content, &len, error);
	return db != NULL && index_write(self, cdb, db, len, changed, error);
}

/* @local, a step of passwd's twin that failed, named with the twin. */
static gboolean
twin_failed(ExmDpDriver *self, const GError *local, GError **error)
{
	g_set_error(error,
		    EXM_DP_ERROR,
		    EXM_DP_ERROR_FAILED,
		    "%s: %s",
		    self->passwd_cdb_path,
		    local->message);
	return FALSE;
}

static gboolean
twin_header(gconstpointer bytes, gsize len, gpointer data, GError **error)
{
	return exm_atomic_stream_fill(data, bytes, len, error);
}

/* passwd's cdb twin for @node written as it is built (its header, which
 * comes last, into the range reserved for it): the same owner and mode as
 * passwd, which is written first; a crash between the two reads back as
 * "differs" and is applied again. */
static gboolean
passwd_twin_write(ExmDpDriver *self, const ExmMailNode *node, gboolean *changed, GError **error)
{
	static const ExmCdbSink sink = { exm_atomic_stream_piece, twin_header };
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0640);
	g_autoptr(ExmAtomicStream) stream = NULL;
	g_autoptr(GError) local = NULL;
	gboolean index_changed = FALSE;
	gsize len;

	opts.uid = self->uid;
	opts.gid = self->gid;
	forget(self);
	stream = exm_atomic_stream_new(self->passwd_cdb_path, &opts);
	if (!exm_atomic_stream_reserve(stream, EXM_CDB_HEADER_SIZE, &local) ||
	    !exm_mail_passwd_render_cdb_to(node, &sink, stream, &len, &local) ||
	    !exm_atomic_stream_finish(stream, &index_changed, &local))
		return twin_failed(self, local, error);
	if (changed != NULL)
		*changed = *changed || index_changed;
	return TRUE;
}

/* passwd written as it is rendered, a piece at a time, then its twin as it
 * is built from @node: neither passwd's text (13 MB at 100 000 accounts),
 * nor the twin (15 MB), nor the old files are held whole. */
static gboolean
passwd_write(ExmDpDriver *self, const ExmMailNode *node, gboolean *changed, GError **error)
{
	ExmAtomicOptions opts = lookup_options(self, self->passwd_path);
	g_autoptr(ExmAtomicStream) stream = NULL;

	if (!ensure_parent(self->passwd_path, 0755, error))
		return FALSE;
	forget(self);
	stream = exm_atomic_stream_new(self->passwd_path, &opts);
	if (!exm_mail_passwd_render_pieces(node, exm_atomic_stream_piece, stream, error) ||
	    !exm_atomic_stream_finish(stream, changed, error))
		return FALSE;
	g_clear_pointer(&stream, exm_atomic_stream_free);
	return passwd_twin_write(self, node, changed, error);
}

/* The policy as the driver writes it: the node's, with the breaker's holds. */
static gchar *
policy_render(ExmDpDriver *self, const ExmMailNode *node)
{
	g_autoptr(GHashTable) held = NULL;

	if (self->breaker == NULL)
		return exm_mail_policy_render(node);
	held = exm_dp_breaker_get_held(self->breaker);
	return exm_mail_policy_render_held(node, held);
}

/* The policy file, then passwd: a new account never logs in before its limits
 * and senders are in place. */
static gboolean
files_write(ExmDpDriver *self, const ExmMailNode *node, gboolean *changed, GError **error)
{
	g_autofree gchar *policy = policy_render(self, node);
	gboolean policy_changed = FALSE;

	if (!lookup_write(self, self->policy_path, policy, &policy_changed, error))
		return FALSE;
	g_clear_pointer(&policy, g_free);
	if (!passwd_write(self, node, changed, error))
		return FALSE;
	if (changed != NULL)
		*changed = *changed || policy_changed;
	return TRUE;
}

/* What the file shows: `{local: {password_hash: <after ':'>, active: true}}`. */
static JsonNode *
accounts_from_file(const gchar *content, GError **error)
{
	g_autoptr(GPtrArray) entries = exm_mail_passwd_parse(content, error);
	g_autoptr(JsonObject) accounts = NULL;
	JsonNode *node;

	if (entries == NULL)
		return NULL;
	accounts = json_object_new();
	for (guint i = 0; i < entries->len; i++) {
		const ExmMailPasswdEntry *e = g_ptr_array_index(entries, i);
		JsonObject *acc = json_object_new();

		json_object_set_string_member(acc, "password_hash", e->hash);
		json_object_set_boolean_member(acc, "active", TRUE);
		json_object_set_object_member(accounts, e->local, acc);
	}
	node = json_node_new(JSON_NODE_OBJECT);
	json_node_set_object(node, accounts);
	return node;
}

/* A policy file (or its cdb twin) other than the render of @last shows as
 * `"policy": "differs"`, so actual and target differ and the value is applied
 * again. */
static gboolean
policy_matches(ExmDpDriver *self, const ExmMailNode *last, JsonObject *obj, GError **error)
{
	g_autofree gchar *content = read_optional(self->policy_path, error);
	g_autofree gchar *rendered = NULL;
	gboolean indexed = FALSE;

	if (content == NULL)
		return FALSE;
	rendered = policy_render(self, last);
	if (g_str_equal(content, rendered) &&
	    !exm_dp_index_matches(self->policy_cdb_path, rendered, &indexed, error))
		return FALSE;
	if (!indexed)
		json_object_set_string_member(obj, "policy", "differs");
	return TRUE;
}

/* A file compared with content that comes in pieces: a missing file is
 * empty, and a read error differs (read_optional() then tells it). */
typedef struct {
	int fd;
	gsize size;
	gsize at;
	gboolean equal;
} PasswdCompare;

static gboolean
passwd_piece_compare(gconstpointer piece, gsize len, gpointer data, GError **error)
{
	PasswdCompare *c = data;

	(void)error;
	c->equal =
		c->equal && c->at + len <= c->size && exm_atomic_fd_holds(c->fd, c->at, piece, len);
	c->at += len;
	return TRUE;
}

static gboolean
twin_header_compare(gconstpointer bytes, gsize len, gpointer data, GError **error)
{
	PasswdCompare *c = data;

	(void)error;
	c->equal = c->equal && len <= c->size && exm_atomic_fd_holds(c->fd, 0, bytes, len);
	return TRUE;
}

/* Whether the twin is exactly the render of @last, compared as it is built
 * (neither held whole); a missing twin is not. */
static gboolean
passwd_twin_matches(ExmDpDriver *self, const ExmMailNode *last, gboolean *matches, GError **error)
{
	static const ExmCdbSink sink = { passwd_piece_compare, twin_header_compare };
	PasswdCompare c = { -1, 0, EXM_CDB_HEADER_SIZE, TRUE };
	g_autoptr(GError) local = NULL;
	gboolean ok, present;
	gsize len = 0;

	*matches = FALSE;
	ok = exm_atomic_file_open_compare(self->passwd_cdb_path, &c.fd, &c.size, &local);
	present = c.fd >= 0;
	ok = ok && (!present || exm_mail_passwd_render_cdb_to(last, &sink, &c, &len, &local));
	if (present)
		close(c.fd);
	if (!ok)
		return twin_failed(self, local, error);
	*matches = present && c.equal && len == c.size;
	return TRUE;
}

/* When passwd is the render of @last but its cdb twin is not, exim logs in
 * against the twin: the accounts are what the twin holds (*@seen). */
static gboolean
passwd_index_check(ExmDpDriver *self, const ExmMailNode *last, JsonNode **seen, GError **error)
{
	g_autofree gchar *twin = NULL;
	gboolean indexed = FALSE;

	if (!passwd_twin_matches(self, last, &indexed, error))
		return FALSE;
	if (indexed)
		return TRUE;
	twin = exm_dp_index_read(self->passwd_cdb_path, error);
	if (twin == NULL)
		return FALSE;
	*seen = accounts_from_file(twin, error);
	if (*seen == NULL)
		g_prefix_error(error, "%s: ", self->passwd_cdb_path);
	return *seen != NULL;
}

/* Whether passwd is exactly the render of @last, neither held whole. */
static gboolean
passwd_is_render(ExmDpDriver *self, const ExmMailNode *last)
{
	PasswdCompare c = { open(self->passwd_path, O_RDONLY | O_CLOEXEC | O_NOCTTY), 0, 0, TRUE };
	struct stat st;

	if (c.fd < 0 && errno != ENOENT)
		return FALSE;
	if (c.fd >= 0)
		c.equal = fstat(c.fd, &st) == 0 && S_ISREG(st.st_mode);
	c.size = c.fd >= 0 && c.equal ? (gsize)st.st_size : 0;
	(void)exm_mail_passwd_render_pieces(last, passwd_piece_compare, &c, NULL);
	if (c.fd >= 0)
		close(c.fd);
	return c.equal && c.at == c.size;
}

/* The accounts passwd and its twin show when they are not exactly the render
 * of @last (*@seen stays %NULL when they are).  The file is read whole only
 * when it differs, and freed before the caller builds the value's tree of
 * every account, not held beside it. */
static gboolean
passwd_seen(ExmDpDriver *self, const ExmMailNode *last, JsonNode **seen, GError **error)
{
	g_autofree gchar *content = NULL;

	/* the twin's render is built from @last: no text held beside it */
	if (passwd_is_render(self, last))
		return passwd_index_check(self, last, seen, error);
	content = read_optional(self->passwd_path, error);
	if (content == NULL)
		return FALSE;
	*seen = accounts_from_file(content, error);
	if (*seen == NULL)
		g_prefix_error(error, "%s: ", self->passwd_path);
	return *seen != NULL;
}

/* ---- the circuit breaker (docs/abuse-controls.md §7) ------------------- */

/* @force: a trip or an action, saved at once; counting alone is saved at
 * most every %EXM_DP_DRIVER_BREAKER_SAVE_SECONDS (a full state is 19 MB and
 * takes about a second to write), so a crash loses at most that much
 * counting, never a hold or a done token. */
static void
breaker_save(ExmDpDriver *self, gboolean force)
{
	g_autoptr(GError) error = NULL;
	gint64 now = g_get_monotonic_time();

	if (self->breaker_path == NULL ||
	    (!force && self->breaker_saved_at != 0 &&
	     now - self->breaker_saved_at < EXM_DP_DRIVER_BREAKER_SAVE_SECONDS * G_USEC_PER_SEC))
		return;
	self->breaker_saved_at = now;
	if (!exm_dp_breaker_save(self->breaker, self->breaker_path, NULL, &error)) {
		if (!self->breaker_failing)
			g_warning("breaker state not saved (kept in memory): %s", error->message);
		self->breaker_failing = TRUE;
	} else if (self->breaker_failing) {
		g_message("breaker state saved again");
		self->breaker_failing = FALSE;
	}
}

typedef struct {
	const gchar *account;
	GPtrArray *ids;
} Collect;

static void
collect_id(gpointer id, gpointer account, gpointer data)
{
	Collect *c = data;

	/* the log keeps the login as typed; the breaker's key is lower case */
	if (g_ascii_strcasecmp(account, c->account) == 0)
		g_ptr_array_add(c->ids, g_strdup(id));
}

/* The account's messages in the queue, as the log reader knows them. */
static GPtrArray *
account_messages(ExmDpDriver *self, const gchar *address)
{
	Collect c = { address, g_ptr_array_new_with_free_func(g_free) };

	if (self->usage_log != NULL)
		exm_dp_logstats_foreach_message(self->usage_log, collect_id, &c);
	return c.ids;
}

static void
queue_run(ExmDpDriver *self, ExmDpQueueOp op, GPtrArray *ids)
{
	g_autoptr(GError) error = NULL;

	if (!exm_dp_queue_run(self->exim_binary, self->exim_conf, op, ids, &error))
		g_warning("breaker: %s", error->message);
}

/* The node this driver serves, from the meta file; %NULL when none. */
static ExmMailNode *
served_node(ExmDpDriver *self)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) meta = meta_load(self, &error);
	g_autoptr(GList) names = NULL;
	JsonObject *resources = meta != NULL ? meta_resources(meta) : NULL;

	if (resources == NULL)
		return NULL;
	names = json_object_get_members(resources);
	if (names == NULL)
		return NULL;
	return node_from_json(json_object_get_member(resources, names->data), NULL);
}

static void
breaker_limits(ExmDpDriver *self, const ExmMailNode *node)
{
	exm_dp_breaker_set_limits(self->breaker,
				  node->limits.breaker_new_recipients_per_day,
				  node->limits.breaker_bounce_percent,
				  node->limits.breaker_bounce_min);
}

/* Accounts that tripped since the last look: their policy line gets held=1
 * (new mail frozen by exim) and their mail still in the queue is frozen, so
 * a burst in flight is held too.  Mail delivered before this ran is gone. */
static void
breaker_enforce(ExmDpDriver *self)
{
	g_autoptr(GPtrArray) trips = exm_dp_breaker_take_trips(self->breaker);
	g_autoptr(ExmMailNode) node = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *policy = NULL;

	if (trips->len == 0)
		return;
	node = served_node(self);
	if (node != NULL) {
		policy = policy_render(self, node);
		if (!lookup_write(self, self->policy_path, policy, NULL, &error))
			g_warning("breaker: policy not written: %s", error->message);
	}
	for (guint i = 0; i < trips->len; i++) {
		g_autoptr(GPtrArray) ids = account_messages(self, trips->pdata[i]);

		queue_run(self, EXM_DP_QUEUE_FREEZE, ids);
	}
	breaker_save(self, TRUE);
}

/* Reads what the log gained and keeps the counts with the position: a
 * failed save costs nothing but that (the next poll that moves tries again). */
static void
usage_poll(ExmDpDriver *self)
{
	g_autoptr(GError) error = NULL;

	exm_dp_logstats_poll(self->usage_log);
	if (self->breaker != NULL) {
		breaker_enforce(self);
		breaker_save(self, FALSE);
	}
	if (self->usage_store == NULL)
		return;
	if (!exm_dp_usage_store_save(
		    self->usage_store, self->usage_log, self->usage, NULL, &error)) {
		if (!self->usage_store_failing)
			g_warning("usage not saved (kept in memory): %s", error->message);
		self->usage_store_failing = TRUE;
	} else if (self->usage_store_failing) {
		g_message("usage saved again");
		self->usage_store_failing = FALSE;
	}
}

/* Sets @member of @obj to @value (taken), or removes it when %NULL. */
static void
member_set_or_remove(JsonObject *obj, const gchar *member, JsonNode *value)
{
	if (value != NULL)
		json_object_set_member(obj, member, value);
	else if (json_object_has_member(obj, member))
		json_object_remove_member(obj, member);
}

/* The members of the actual value @obj (of @domain, DKIM key @key) that the
 * node's files do not give but its main log and capture directory do (the
 * usage, the breaker and the captures, issue 16): each outside every target
 * key, so it never makes the node look unconverged, and absent when empty. */
static void
live_members(ExmDpDriver *self, JsonObject *obj, const gchar *domain, const gchar *key)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	exm_dp_capture_set_key(self->capture, domain, key);
	exm_dp_capture_poll(self->capture, now);
	member_set_or_remove(obj, EXM_DP_CAPTURE_MEMBER, exm_dp_capture_to_json(self->capture));
	/* usage changes only when mail moved */
	if (self->usage != NULL) {
		usage_poll(self);
		member_set_or_remove(
			obj, EXM_DP_USAGE_MEMBER, exm_dp_usage_to_json(self->usage, now));
	}
	/* held accounts and actions done */
	if (self->breaker != NULL)
		member_set_or_remove(obj,
				     EXM_DP_BREAKER_MEMBER,
				     exm_dp_breaker_to_json(self->breaker, self->usage_log));
}

/* The actual value: when passwd is exactly the render of @last, @last's accounts
 * (inactive and `{SCHEME}`-prefixed ones included, so actual equals target),
 * @shared when set (exm_mail_node_accounts_like()), else as their raw text
 * (exm_mail_node_accounts_raw()); otherwise what the file shows.  Plus the
 * DKIM key from platform.txt and the served certificate. */
static JsonNode *
actual_value(ExmDpDriver *self, const ExmMailNode *last, JsonNode *shared, GError **error)
{
	g_autoptr(JsonNode) seen = NULL;
	g_autoptr(JsonNode) raw = NULL;
	g_autofree gchar *txt = NULL;
	g_autofree gchar *key = NULL;
	g_autoptr(JsonNode) root = NULL;
	JsonObject *obj;

	if (!passwd_seen(self, last, &seen, error))
		return NULL;
	if (shared == NULL && seen == NULL)
		raw = exm_mail_node_accounts_raw(last);
	root = exm_mail_node_to_json_with(last, shared != NULL ? shared : raw);
	obj = json_node_get_object(root);
	if (seen != NULL)
		json_object_set_member(obj, "accounts", g_steal_pointer(&seen));
	if (!policy_matches(self, last, obj, error))
		return NULL;
	/* the tenant's certificate is reported applied only while the file
	 * holds exactly that pair: otherwise the agent applies it again */
	if (last->tls_custom_chain != NULL &&
	    !exm_dp_tls_holds(self->tls_custom_path, last->tls_custom_chain, last->tls_custom_key))
		json_object_remove_member(obj, "tls_custom");
	txt = read_optional(self->dkim_txt_path, error);
	if (txt == NULL)
		return NULL;
	key = exm_mail_dkim_txt_parse(txt);
	json_object_set_string_member(obj, "dkim_public_key", key);
	json_object_set_string_member(
		obj, "dkim_selector", key[0] != '\0' ? EXM_MAIL_DEFAULT_SELECTOR : "");
	/* the served certificate (issue 22): like usage, outside every target key */
	json_object_set_member(obj,
			       EXM_DP_TLS_MEMBER,
			       exm_dp_tls_status(self->tls_cert_path,
						 self->tls_custom_path,
						 self->tls_acme_path,
						 self->acme_state_path));
	live_members(self, obj, last->domain, key);
	return g_steal_pointer(&root);
}

static ExmMailNode *
node_from_json(JsonNode *value, GError **error)
{
	g_autoptr(GError) local = NULL;
	ExmMailNode *node;

	if (value == NULL || !JSON_NODE_HOLDS_OBJECT(value)) {
		g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_INVALID, "value is not an object");
		return NULL;
	}
	node = exm_mail_node_from_json(value, &local);
	if (node == NULL)
		g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_INVALID, "%s", local->message);
	return node;
}

/* The node serves one instance: another uuid in the meta file is a conflict. */
static gboolean
check_put(JsonObject *resources, const gchar *uuid, PutMode mode, GError **error)
{
	gboolean exists = json_object_has_member(resources, uuid);

	if (mode == PUT_CREATE && exists) {
		g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_EXISTS, "resource %s exists", uuid);
		return FALSE;
	}
	if (mode == PUT_UPDATE && !exists) {
		g_set_error(error, EXM_DP_ERROR, EXM_DP_ERROR_NOT_FOUND, "no resource %s", uuid);
		return FALSE;
	}
	if (!exists && json_object_get_size(resources) > 0) {
		g_autoptr(GList) names = json_object_get_members(resources);
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_EXISTS,
			    "this node already serves instance %s",
			    (const gchar *)names->data);
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	ExmMailBreakerOp op;
	GPtrArray *ids;
} Pending;

static void
pending_free(gpointer p)
{
	Pending *pending = p;

	g_ptr_array_unref(pending->ids);
	g_free(pending);
}

/* The node's release and discard actions not performed yet: each resets its
 * account's breaker (so the policy about to be written no longer holds it)
 * and is recorded as done before exim touches the mail, so a token is done
 * at most once.  Done tokens of accounts without an action are forgotten. */
static GPtrArray *
breaker_actions(ExmDpDriver *self, const ExmMailNode *node)
{
	GPtrArray *pending = g_ptr_array_new_with_free_func(pending_free);
	g_autoptr(GHashTable) keep = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	if (self->breaker == NULL)
		return pending;
	breaker_limits(self, node);
	if (self->usage_log != NULL)
		exm_dp_logstats_poll(self->usage_log); /* the newest messages too */
	for (guint i = 0; i < node->accounts->len; i++) {
		const ExmMailNodeAccount *a = g_ptr_array_index(node->accounts, i);
		g_autofree gchar *address = NULL;
		Pending *p;

		if (a->breaker_op == EXM_MAIL_BREAKER_NONE || a->breaker_token == NULL)
			continue;
		address = g_strdup_printf("%s@%s", a->username, node->domain);
		g_hash_table_add(keep, g_strdup(address));
		if (g_strcmp0(exm_dp_breaker_get_done(self->breaker, address), a->breaker_token) ==
		    0)
			continue;
		p = g_new0(Pending, 1);
		p->op = a->breaker_op;
		p->ids = account_messages(self, address);
		g_ptr_array_add(pending, p);
		exm_dp_breaker_reset(self->breaker, address, a->breaker_token);
		g_message("breaker: %s %s (%u messages)",
			  exm_mail_node_breaker_op_to_string(a->breaker_op),
			  address,
			  p->ids->len);
	}
	exm_dp_breaker_keep_done(self->breaker, keep);
	breaker_save(self, TRUE);
	return pending;
}

/* After the policy no longer holds the accounts: a release thaws and
 * delivers, a discard removes. */
static void
breaker_perform(ExmDpDriver *self, GPtrArray *pending)
{
	for (guint i = 0; i < pending->len; i++) {
		const Pending *p = g_ptr_array_index(pending, i);

		if (p->op == EXM_MAIL_BREAKER_RELEASE) {
			queue_run(self, EXM_DP_QUEUE_THAW, p->ids);
			queue_run(self, EXM_DP_QUEUE_DELIVER, p->ids);
		} else {
			queue_run(self, EXM_DP_QUEUE_REMOVE, p->ids);
		}
	}
}

/* ACME (docs/tls.md §5): the node value's `acme` member, on every apply
 * (cheap when unchanged); absent = off. */
static void
acme_target(ExmDpDriver *self, const ExmMailNode *node)
{
	g_autofree gchar *host = NULL;
	g_autoptr(GError) error = NULL;

	if (self->acme == NULL)
		return;
	host = exm_mail_dns_primary_hostname(node->domain);
	if (!exm_dp_acme_set_target(
		    self->acme, host, node->acme_directory_url, node->acme_contact, &error))
		g_warning("%s", error->message);
}

/* The tenant's certificate (docs/tls.md §3): installed when the value
 * carries a pair the file does not hold yet (the node checks it again),
 * removed when the value carries none; the file is the driver's alone. */
static gboolean
tls_custom_apply(ExmDpDriver *self, const ExmMailNode *node, gboolean *changed, GError **error)
{
	gboolean moved = FALSE;

	if (node->tls_custom_chain == NULL) {
		if (!exm_dp_tls_remove_at(self->tls_custom_path, &moved, error))
			return FALSE;
	} else if (!exm_dp_tls_holds(
			   self->tls_custom_path, node->tls_custom_chain, node->tls_custom_key)) {
		if (!exm_dp_tls_install_at(self->tls_custom_path,
					   self->uid,
					   self->gid,
					   node->domain,
					   node->tls_custom_chain,
					   node->tls_custom_key,
					   strlen(node->tls_custom_key),
					   &moved,
					   error)) {
			g_prefix_error(error, "tls_custom: ");
			return FALSE;
		}
		g_message("tls: the tenant's certificate installed");
	}
	if (moved)
		forget(self);
	if (changed != NULL)
		*changed = *changed || moved;
	return TRUE;
}

/* The meta file's tree for a put of @uuid.  When no input changed since the
 * last listing, which found the file plain and holding no resource but
 * @uuid's, the tree is rebuilt rather than read and parsed again: the put
 * replaces that resource anyway. */
static JsonNode *
meta_for_put(ExmDpDriver *self, const gchar *uuid, GError **error)
{
	g_autoptr(ExmStamp) now = NULL;
	JsonNode *meta;

	if (self->listing == NULL || !exm_dp_listing_holds_only(self->listing, uuid))
		return meta_load(self, error);
	now = stamp_inputs(self);
	if (!exm_dp_listing_files_fresh(self->listing, now))
		return meta_load(self, error);
	meta = meta_empty();
	if (exm_dp_listing_holds(self->listing, uuid))
		json_object_set_null_member(meta_resources(meta), uuid);
	return meta;
}

/* The actual value after a put, read back from the files; kept as the last
 * listing when @alone (the meta file, of the driver's layout, serves @node
 * alone: what a listing would return), so the next iteration's listing does
 * not read them again. */
static JsonNode *
put_result(ExmDpDriver *self,
	   const ExmMailNode *node,
	   JsonNode *shared,
	   gboolean alone,
	   GError **error)
{
	g_autoptr(ExmStamp) before = stamp_inputs(self);
	g_autofree gchar *usage = usage_text(self);
	g_autofree gchar *capture = capture_text(self);
	g_autoptr(GPtrArray) values = NULL;
	const gchar *names[] = { node->uuid, NULL };
	JsonNode *actual = actual_value(self, node, shared, error);

	if (actual == NULL || !alone)
		return actual;
	values = g_ptr_array_new();
	g_ptr_array_add(values, actual);
	keep_listing(self, g_steal_pointer(&before), usage, capture, values, names, TRUE);
	exm_memprobe_point("put: listing kept");
	return actual;
}

/* passwd first, then the meta file: a crash in between leaves the file ahead of
 * the meta, which reads back as "not converged" and is applied again. */
static JsonNode *
driver_put(ExmDpDriver *self,
	   const gchar *kind,
	   JsonNode *value,
	   PutMode mode,
	   gboolean *changed,
	   GError **error)
{
	g_autoptr(ExmMailNode) node = NULL;
	g_autoptr(JsonNode) meta = NULL;
	g_autoptr(GPtrArray) pending = NULL;
	g_autoptr(JsonNode) accounts = NULL;
	JsonObject *resources;
	gboolean alone;

	if (!check_kind(kind, error))
		return NULL;
	node = node_from_json(value, error);
	if (node == NULL)
		return NULL;
	exm_memprobe_point("put: node built");
	meta = meta_for_put(self, node->uuid, error);
	if (meta == NULL)
		return NULL;
	resources = meta_resources(meta);
	if (!check_put(resources, node->uuid, mode, error))
		return NULL;
	pending = breaker_actions(self, node);
	if (!files_write(self, node, changed, error) ||
	    !tls_custom_apply(self, node, changed, error))
		return NULL;
	exm_memprobe_point("put: files written");
	breaker_perform(self, pending);
	acme_target(self, node);
	/* the meta entry and the actual value hold the target's accounts when
	 * they are what they would write, not a copy each; else their raw text */
	accounts = exm_mail_node_accounts_like(node, value);
	accounts = accounts != NULL ? json_node_ref(accounts) : exm_mail_node_accounts_raw(node);
	json_object_set_member(resources, node->uuid, exm_mail_node_to_json_with(node, accounts));
	if (!meta_save(self, meta, error))
		return NULL;
	exm_memprobe_point("put: meta saved");
	alone = meta_plain(meta) && json_object_get_size(resources) == 1;
	/* an unshared tree of every account: not held beside the value's */
	g_clear_pointer(&meta, json_node_unref);
	return put_result(self, node, accounts, alone, error);
}

JsonNode *
exm_dp_driver_create(ExmDpDriver *self, const gchar *kind, JsonNode *value, GError **error)
{
	return driver_put(self, kind, value, PUT_CREATE, NULL, error);
}

JsonNode *
exm_dp_driver_update(ExmDpDriver *self, const gchar *kind, JsonNode *value, GError **error)
{
	return driver_put(self, kind, value, PUT_UPDATE, NULL, error);
}

JsonNode *
exm_dp_driver_apply(ExmDpDriver *self, JsonNode *value, gboolean *changed, GError **error)
{
	return driver_put(self, EXM_DP_DRIVER_KIND, value, PUT_APPLY, changed, error);
}

/* The metadata, once @kind is known to be the driver's. */
static JsonNode *
meta_load_kind(ExmDpDriver *self, const gchar *kind, GError **error)
{
	if (!check_kind(kind, error))
		return NULL;
	return meta_load(self, error);
}

/* The metadata of @kind when it holds resource @uuid, else %NOT_FOUND. */
static JsonNode *
meta_load_with(ExmDpDriver *self, const gchar *kind, const gchar *uuid, GError **error)
{
	g_autoptr(JsonNode) meta = meta_load_kind(self, kind, error);

	if (meta == NULL)
		return NULL;
	if (uuid == NULL || !json_object_has_member(meta_resources(meta), uuid)) {
		g_set_error(error,
			    EXM_DP_ERROR,
			    EXM_DP_ERROR_NOT_FOUND,
			    "no resource %s",
			    uuid != NULL ? uuid : "(null)");
		return NULL;
	}
	return g_steal_pointer(&meta);
}

gboolean
exm_dp_driver_delete(ExmDpDriver *self, const gchar *kind, const gchar *uuid, GError **error)
{
	g_autoptr(JsonNode) meta = meta_load_with(self, kind, uuid, error);

	if (meta == NULL)
		return FALSE;
	if (!lookup_write(self, self->passwd_path, "", NULL, error) ||
	    !lookup_write(self, self->policy_path, "", NULL, error))
		return FALSE;
	json_object_remove_member(meta_resources(meta), uuid);
	return meta_save(self, meta, error);
}

/* The actual value of the meta file's resource @uuid (a string the caller
 * owns: the member is taken out of @resources once read, docs/scale.md §3).
 * Its accounts, read raw, are the value's when they are what the node
 * writes (exm_mail_node_accounts_like()): one text, not a second one made
 * beside the node (13.9 MB at 100 000 accounts). */
static JsonNode *
actual_of_member(ExmDpDriver *self, JsonObject *resources, const gchar *uuid, GError **error)
{
	JsonNode *member = json_object_get_member(resources, uuid);
	g_autoptr(ExmMailNode) node = node_from_json(member, error);
	g_autoptr(JsonNode) shared = NULL;

	if (node == NULL) {
		g_prefix_error(error, "%s: resource %s: ", self->meta_path, uuid);
		return NULL;
	}
	shared = exm_mail_node_accounts_like(node, member);
	if (shared != NULL)
		json_node_ref(shared);
	json_object_remove_member(resources, uuid);
	if (self->breaker != NULL)
		breaker_limits(self, node);
	return actual_value(self, node, shared, error);
}

/* Every file the actual value is read from.  A file the value comes to
 * depend on must be added here, or an idle agent would not notice it change. */
static ExmStamp *
stamp_inputs(ExmDpDriver *self)
{
	const gchar *paths[] = { self->meta_path,
				 self->passwd_path,
				 self->passwd_cdb_path,
				 self->policy_path,
				 self->policy_cdb_path,
				 self->dkim_txt_path,
				 self->tls_cert_path,
				 self->tls_custom_path,
				 self->tls_acme_path,
				 self->acme_state_path,
				 NULL };

	return exm_stamp_take(paths);
}

/* The usage member now (the log read up to its end), as text, then a
 * newline and the breaker's member (usage_held() tells the two apart there:
 * compact JSON holds no raw newline); %NULL when the driver reports no usage.
 * Mail moving, or an hour with counts leaving the window, changes it: a file
 * stamp cannot see either. */
static gchar *
usage_text(ExmDpDriver *self)
{
	g_autoptr(JsonNode) usage = NULL;
	g_autoptr(JsonNode) breaker = NULL;
	g_autofree gchar *usage_s = NULL;
	g_autofree gchar *breaker_s = NULL;

	if (self->usage == NULL)
		return NULL;
	usage_poll(self);
	usage = exm_dp_usage_to_json(self->usage, g_get_real_time() / G_USEC_PER_SEC);
	usage_s = json_to_string(usage, FALSE);
	/* the breaker's member moves with the log too (a trip, a held message) */
	if (self->breaker != NULL)
		breaker = exm_dp_breaker_to_json(self->breaker, self->usage_log);
	breaker_s = breaker != NULL ? json_to_string(breaker, FALSE) : g_strdup("");
	return g_strconcat(usage_s, "\n", breaker_s, NULL);
}

/* The captured member now, as text ("" when none): a new capture, or one
 * pruned, changes it. */
static gchar *
capture_text(ExmDpDriver *self)
{
	g_autoptr(JsonNode) captured = NULL;

	exm_dp_capture_poll(self->capture, g_get_real_time() / G_USEC_PER_SEC);
	captured = exm_dp_capture_to_json(self->capture);
	return captured != NULL ? json_to_string(captured, FALSE) : g_strdup("");
}

void
exm_dp_driver_set_usage_hold(ExmDpDriver *self, guint seconds)
{
	self->usage_hold = (gint64)seconds * G_USEC_PER_SEC;
}

/* Is @usage (usage_text() now, not the listed one) a change of the usage
 * member alone that waits: the breaker's part is as listed (a trip is told
 * at once) and the last listing is younger than the hold?  A node with mail
 * moving would otherwise report its whole value, every account, at every
 * iteration: 28 MB at 100 000 accounts (docs/scale.md §3). */
static gboolean
usage_held(ExmDpDriver *self, const gchar *usage)
{
	const gchar *breaker = usage != NULL ? strchr(usage, '\n') : NULL;
	const gchar *listed = self->listed_usage != NULL ? strchr(self->listed_usage, '\n') : NULL;

	if (breaker == NULL || listed == NULL || strcmp(breaker, listed) != 0)
		return FALSE;
	return g_get_monotonic_time() - self->listed_at < self->usage_hold;
}

/* After a put, the listing it kept (put_result()) is what a listing would
 * return: the files as the put left them, read back. */
gboolean
exm_dp_driver_keys_unchanged(ExmDpDriver *self, const gchar *kind)
{
	g_autoptr(ExmStamp) now = NULL;

	if ((self->listed == NULL && self->listing == NULL) || !check_kind(kind, NULL))
		return FALSE;
	now = stamp_inputs(self);
	return (self->listed != NULL && exm_stamp_equal(now, self->listed)) ||
	       exm_dp_listing_files_fresh(self->listing, now);
}

gboolean
exm_dp_driver_unchanged(ExmDpDriver *self, const gchar *kind)
{
	g_autofree gchar *usage = NULL;
	g_autofree gchar *captured = NULL;

	/* after a list() only: a put's result is no listing of the live
	 * members (a list() keeps its listing with its own stamp, so then the
	 * two answer alike) */
	if (self->listed == NULL || !exm_dp_driver_keys_unchanged(self, kind))
		return FALSE;
	usage = usage_text(self);
	captured = capture_text(self);
	if (g_strcmp0(captured, self->listed_capture) != 0)
		return FALSE;
	return g_strcmp0(usage, self->listed_usage) == 0 || usage_held(self, usage);
}

/* The listing read from the files: every resource of the meta file, in
 * uuid order; kept as the driver's last listing with the inputs' @stamp,
 * @usage and @capture as they stood before the read. */
static GPtrArray *
list_read(ExmDpDriver *self,
	  ExmStamp *stamp,
	  const gchar *usage,
	  const gchar *capture,
	  GError **error)
{
	g_autoptr(ExmStamp) owned = stamp;
	g_autoptr(JsonNode) meta = NULL;
	g_autoptr(GPtrArray) out = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GList) members = NULL;
	JsonObject *resources;
	gboolean plain;

	g_clear_pointer(&self->listing, exm_dp_listing_free);
	meta = meta_load(self, error);
	if (meta == NULL)
		return NULL;
	exm_memprobe_point("list: meta read");
	resources = meta_resources(meta);
	plain = meta_plain(meta);
	out = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
	/* copies: actual_of_member() takes each member out as it reads it */
	members = g_list_sort(json_object_get_members(resources), (GCompareFunc)g_strcmp0);
	for (GList *l = members; l != NULL; l = l->next)
		g_ptr_array_add(names, g_strdup(l->data));
	for (guint i = 0; i < names->len; i++) {
		JsonNode *actual = actual_of_member(self, resources, names->pdata[i], error);
		if (actual == NULL)
			return NULL;
		g_ptr_array_add(out, actual);
	}
	g_ptr_array_add(names, NULL);
	exm_memprobe_point("list: values built");
	keep_listing(self,
		     g_steal_pointer(&owned),
		     usage,
		     capture,
		     out,
		     (const gchar *const *)names->pdata,
		     plain);
	return g_steal_pointer(&out);
}

/* The kept listing's values with their live members as they are now: when
 * only mail moved (or a capture came), the files give what they gave, and
 * reading, validating and rendering 100 000 accounts again to learn it cost
 * a full iteration's CPU at every poll of a node with traffic (docs/scale.md
 * §3).  %NULL when the kept values are not the driver's own layout. */
static GPtrArray *
kept_values_live(ExmDpDriver *self)
{
	g_autoptr(GPtrArray) out = exm_dp_listing_values(self->listing, NULL);

	for (guint i = 0; out != NULL && i < out->len; i++) {
		JsonNode *value = out->pdata[i];
		JsonObject *obj =
			JSON_NODE_HOLDS_OBJECT(value) ? json_node_get_object(value) : NULL;
		const gchar *domain = NULL;
		const gchar *key = NULL;

		if (obj == NULL ||
		    !exm_json_get_string(obj, "domain", FALSE, &domain, NULL, NULL) ||
		    !exm_json_get_string(obj, "dkim_public_key", FALSE, &key, NULL, NULL) ||
		    domain == NULL || key == NULL)
			return NULL;
		live_members(self, obj, domain, key);
	}
	return g_steal_pointer(&out);
}

/* While no input changed since the last listing (or put), its values are
 * parsed back from their text: at 100 000 accounts, reading, validating and
 * rendering them again cost about 1.5 s of CPU (docs/scale.md §3). */
GPtrArray *
exm_dp_driver_list(ExmDpDriver *self, const gchar *kind, GError **error)
{
	/* taken before reading: a change while reading makes the next check differ */
	g_autoptr(ExmStamp) before = stamp_inputs(self);
	g_autofree gchar *usage_before = usage_text(self);
	g_autofree gchar *capture_before = capture_text(self);
	g_autoptr(GPtrArray) out = NULL;

	g_clear_pointer(&self->listed, exm_stamp_free);
	if (!check_kind(kind, error))
		return NULL;
	/* a kept file touched since its write is not used: the files are read */
	if (exm_dp_listing_fresh(self->listing, before, usage_before, capture_before))
		out = exm_dp_listing_values(self->listing, NULL);
	else if (exm_dp_listing_files_fresh(self->listing, before))
		out = kept_values_live(self);
	if (out == NULL)
		out = list_read(self, exm_stamp_copy(before), usage_before, capture_before, error);
	if (out == NULL)
		return NULL;
	self->listed = g_steal_pointer(&before);
	self->listed_at = g_get_monotonic_time();
	g_free(self->listed_usage);
	self->listed_usage = g_steal_pointer(&usage_before);
	g_free(self->listed_capture);
	self->listed_capture = g_steal_pointer(&capture_before);
	return g_steal_pointer(&out);
}

JsonNode *
exm_dp_driver_get(ExmDpDriver *self, const gchar *kind, const gchar *uuid, GError **error)
{
	g_autoptr(JsonNode) meta = meta_load_with(self, kind, uuid, error);

	if (meta == NULL)
		return NULL;
	return actual_of_member(self, meta_resources(meta), uuid, error);
}

void
exm_dp_driver_set_usage(ExmDpDriver *self, ExmDpLogStats *log, ExmDpUsage *usage)
{
	self->usage_log = log;
	self->usage = usage;
	self->usage_store = NULL;
}

void
exm_dp_driver_set_usage_store(ExmDpDriver *self, ExmDpUsageStore *store)
{
	self->usage_store = store;
}

void
exm_dp_driver_set_breaker(ExmDpDriver *self, ExmDpBreaker *breaker, const gchar *path)
{
	g_autoptr(ExmMailNode) node = NULL;

	/* the breaker left behind keeps what it counted since its last save */
	if (self->breaker != NULL)
		breaker_save(self, TRUE);
	self->breaker = breaker;
	self->breaker_saved_at = 0;
	g_free(self->breaker_path);
	self->breaker_path = g_strdup(path);
	if (breaker == NULL)
		return;
	/* the thresholds before the first line is counted, not at the first list */
	node = served_node(self);
	if (node != NULL)
		breaker_limits(self, node);
}

void
exm_dp_driver_set_acme(ExmDpDriver *self, ExmDpAcme *acme)
{
	self->acme = acme;
}

void
exm_dp_driver_breaker_tick(ExmDpDriver *self)
{
	if (self->breaker == NULL || self->usage_log == NULL)
		return;
	/* the usage is saved on the agent's iteration, as before; the breaker
	 * when a trip changed it */
	exm_dp_logstats_poll(self->usage_log);
	breaker_enforce(self);
}
