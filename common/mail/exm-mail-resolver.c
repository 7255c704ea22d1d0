/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A bounded DNS stub resolver over libunbound (exm-mail-resolver.h).  Each
 * query runs asynchronously on the context's own thread; this thread polls
 * its descriptor until the answer arrives or the resolver's deadline passes,
 * then cancels it.  Record data is parsed here with explicit bounds.
 */
#include "exm-mail-resolver.h"

#include <gio/gio.h>
#include <poll.h>
#include <string.h>
#include <unbound.h>

#define TYPE_A	 1
#define TYPE_PTR 12
#define TYPE_MX	 15
#define TYPE_TXT 16

struct _ExmMailResolver {
	struct ub_ctx *ctx;
	gint64 deadline; /* monotonic µs */
	guint queries;
};

typedef struct {
	gboolean done;
	int err;
	struct ub_result *result;
} Pending;

/* libunbound answers the reverse zones of the documentation ranges (RFC 5737)
 * itself; the check asks the server instead, which answers NXDOMAIN on the
 * Internet and the test's zone on a test server.  unblock-lan-zones does the
 * same for the private ranges (nodes on a private network). */
static const gchar *const asked_zones[] = {
	"2.0.192.in-addr.arpa.",
	"100.51.198.in-addr.arpa.",
	"113.0.203.in-addr.arpa.",
};

static int
set_options(struct ub_ctx *ctx)
{
	/* the check may be pointed at a server on a loopback address */
	int rc = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no");

	if (rc == 0)
		rc = ub_ctx_set_option(ctx, "unblock-lan-zones:", "yes");
	for (gsize k = 0; rc == 0 && k < G_N_ELEMENTS(asked_zones); k++) {
		g_autofree gchar *zone = g_strdup_printf("%s nodefault", asked_zones[k]);

		rc = ub_ctx_set_option(ctx, "local-zone:", zone);
	}
	return rc;
}

static gboolean
configure(struct ub_ctx *ctx, const gchar *server, GError **error)
{
	int rc = set_options(ctx);

	if (rc == 0)
		rc = ub_ctx_async(ctx, 1);
	if (rc == 0)
		rc = server != NULL && *server != '\0' ? ub_ctx_set_fwd(ctx, server)
						       : ub_ctx_resolvconf(ctx, NULL);
	if (rc != 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "dns resolver %s: %s",
			    server != NULL && *server != '\0' ? server : "from /etc/resolv.conf",
			    ub_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

ExmMailResolver *
exm_mail_resolver_new(const gchar *server, guint timeout_ms, GError **error)
{
	g_autofree ExmMailResolver *self = g_new0(ExmMailResolver, 1);

	self->ctx = ub_ctx_create();
	if (self->ctx == NULL) {
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autofree frees self
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_FAILED,
				    "dns resolver: cannot create a context");
		return NULL;
	}
	if (!configure(self->ctx, server, error)) {
		ub_ctx_delete(self->ctx);
		return NULL;
	}
	self->deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	return g_steal_pointer(&self);
}

void
exm_mail_resolver_free(ExmMailResolver *self)
{
	if (self == NULL)
		return;
	ub_ctx_delete(self->ctx);
	g_free(self);
}

static void
on_result(void *data, int err, struct ub_result *result)
{
	Pending *p = data;

	p->done = TRUE;
	p->err = err;
	p->result = result;
}

/* Waits for @p until the deadline; %FALSE when it passed (query cancelled). */
static gboolean
wait_for(ExmMailResolver *self, Pending *p, int id)
{
	while (!p->done) {
		gint64 left = self->deadline - g_get_monotonic_time();
		struct pollfd pfd = { .fd = ub_fd(self->ctx), .events = POLLIN };

		if (left <= 0) {
			ub_cancel(self->ctx, id);
			return FALSE;
		}
		if (poll(&pfd, 1, (int)MIN(left / 1000 + 1, 1000)) > 0)
			ub_process(self->ctx);
	}
	return TRUE;
}

static int
type_code(const gchar *type)
{
	static const struct {
		const gchar *name;
		int code;
	} types[] = {
		{ "A", TYPE_A }, { "PTR", TYPE_PTR }, { "MX", TYPE_MX }, { "TXT", TYPE_TXT }
	};

	for (gsize k = 0; k < G_N_ELEMENTS(types); k++) {
		if (g_str_equal(type, types[k].name))
			return types[k].code;
	}
	return -1;
}

/* An uncompressed wire name (libunbound expands names in rdata) as text with a
 * final dot; bytes outside the hostname alphabet become '?'.  %NULL when it
 * overruns @len or is longer than a DNS name may be. */
static gchar *
wire_name(const guint8 *d, gsize len)
{
	GString *s = g_string_new(NULL);
	gsize at = 0;

	while (at < len && d[at] != 0) {
		gsize l = d[at++];

		if (l > 63 || at + l > len || s->len + l + 1 > 254) {
			g_string_free(s, TRUE);
			return NULL;
		}
		for (gsize k = 0; k < l; k++) {
			guchar c = d[at + k];

			g_string_append_c(s,
					  g_ascii_isalnum(c) || c == '-' || c == '_'
						  ? g_ascii_tolower(c)
						  : '?');
		}
		g_string_append_c(s, '.');
		at += l;
	}
	if (at >= len) {
		g_string_free(s, TRUE);
		return NULL;
	}
	if (s->len == 0)
		g_string_append_c(s, '.');
	return g_string_free(s, FALSE);
}

static gchar *
txt_text(const guint8 *d, gsize len)
{
	g_autoptr(GString) s = g_string_new(NULL);

	for (gsize at = 0; at < len;) {
		gsize l = d[at++];

		l = MIN(l, len - at);
		g_string_append_len(s, (const gchar *)d + at, (gssize)l);
		at += l;
		if (s->len > EXM_MAIL_RESOLVER_MAX_TXT) {
			g_string_truncate(s, EXM_MAIL_RESOLVER_MAX_TXT);
			break;
		}
	}
	return g_utf8_make_valid(s->str, (gssize)s->len);
}

static gchar *
rdata_text(int type, const guint8 *d, gsize len)
{
	g_autofree gchar *name = NULL;

	switch (type) {
	case TYPE_A:
		return len == 4 ? g_strdup_printf("%u.%u.%u.%u", d[0], d[1], d[2], d[3]) : NULL;
	case TYPE_TXT: {
		g_autofree gchar *t = txt_text(d, len);

		return g_steal_pointer(&t);
	}
	case TYPE_MX:
		if (len < 3 || (name = wire_name(d + 2, len - 2)) == NULL)
			return NULL;
		return g_strdup_printf("%u %s", (guint)(d[0] << 8 | d[1]), name);
	default:
		return wire_name(d, len);
	}
}

static gboolean
collect(struct ub_result *res, int type, GPtrArray *out, GError **error)
{
	/* 2 SERVFAIL, 5 REFUSED and the like: the answer is not known */
	if (res->rcode != 0 && !res->nxdomain) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "dns lookup of %s failed (rcode %d)",
			    res->qname,
			    res->rcode);
		return FALSE;
	}
	for (guint k = 0; res->havedata && res->data[k] != NULL; k++) {
		gchar *text;

		if (k >= EXM_MAIL_RESOLVER_MAX_RECORDS)
			break;
		text = rdata_text(type, (const guint8 *)res->data[k], (gsize)MAX(res->len[k], 0));
		if (text != NULL)
			g_ptr_array_add(out, text);
	}
	return TRUE;
}

static gboolean
query_failed(GError **error, gint code, const gchar *name, const gchar *why)
{
	g_set_error(error, G_IO_ERROR, code, "dns lookup of %s: %s", name, why);
	return FALSE;
}

gboolean
exm_mail_resolver_lookup(gpointer resolver,
			 const gchar *name,
			 const gchar *type,
			 GPtrArray *out,
			 GError **error)
{
	ExmMailResolver *self = resolver;
	int code = type_code(type);
	Pending p = { 0 };
	int id = 0;
	gboolean ok;

	if (code < 0)
		return query_failed(error, G_IO_ERROR_INVALID_ARGUMENT, name, "unsupported type");
	if (self->queries++ >= EXM_MAIL_RESOLVER_MAX_QUERIES)
		return query_failed(
			error, G_IO_ERROR_FAILED, name, "too many queries in one check");
	if (g_get_monotonic_time() >= self->deadline)
		return query_failed(error, G_IO_ERROR_TIMED_OUT, name, "timed out");
	p.err = ub_resolve_async(self->ctx, name, code, 1, &p, on_result, &id);
	if (p.err != 0)
		return query_failed(error, G_IO_ERROR_FAILED, name, ub_strerror(p.err));
	if (!wait_for(self, &p, id))
		return query_failed(error, G_IO_ERROR_TIMED_OUT, name, "timed out");
	if (p.err != 0)
		return query_failed(error, G_IO_ERROR_FAILED, name, ub_strerror(p.err));
	ok = collect(p.result, code, out, error);
	ub_resolve_free(p.result);
	return ok;
}
