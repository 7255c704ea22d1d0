/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-logstats.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exm-prom.h"

#define CHUNK 65536
/* a line longer than this is exim's business, not a count: it is skipped */
#define MAX_LINE 65536

static const gchar *const outcome_names[EXM_DP_LOG_N_OUTCOMES] = {
	[EXM_DP_LOG_RECEIVED] = "received", [EXM_DP_LOG_DELIVERED] = "delivered",
	[EXM_DP_LOG_DEFERRED] = "deferred", [EXM_DP_LOG_BOUNCED] = "bounced",
	[EXM_DP_LOG_HELD] = "held",
};

/* Refusals of the send limits and the login defence, by the text of their
 * reply (data/exim4/exim4.conf.in); the first match names the limit.  */
/* check-source: table */
static const struct {
	const gchar *needle;
	const gchar *limit;
} limit_texts[] = {
	{ "instance limit of ", "instance_ceiling" },
	{ " messages per hour reached for ", "messages_per_hour" },
	{ " recipients per day reached for ", "recipients_per_day" },
	{ "AUTH refused before verification", "auth_lockout" },
};
/* check-source: end */
#define N_LIMITS G_N_ELEMENTS(limit_texts)

/* TLS versions as exim names them (the first six), any other name, and none
 * (a delivery in clear): the metric's bounded label set. */
static const gchar *const tls_versions[] = { "TLS1.3", "TLS1.2", "TLS1.1", "TLS1.0",
					     "TLS1",   "SSL3",	 "other",  "none" };
#define N_VERSIONS G_N_ELEMENTS(tls_versions)
#define V_OTHER	   6

typedef struct {
	guint64 n[EXM_DP_LOG_N_OUTCOMES];
} Counts;

struct _ExmDpLogStats {
	gchar *path;
	gint fd;
	dev_t dev;
	ino_t ino;
	gboolean seek_end; /* only the first file, and only when asked */
	gboolean resume;   /* the first file: at resume_ino/resume_offset */
	guint64 resume_ino;
	guint64 resume_offset;
	guint64 pos;	      /* the file offset of the next byte read */
	guint64 line_end;     /* the file offset just past the last complete line */
	GString *partial;     /* an incomplete last line */
	gboolean skipping;    /* inside an over-long line */
	GHashTable *accounts; /* account → Counts */
	GHashTable *messages; /* message id → account (a key of accounts) */
	GHashTable *tls;      /* version → guint64 */
	guint64 auth_failures;
	guint64 logins[2]; /* with the current, the previous secret */
	ExmDpLoginObserver login_observer;
	gpointer login_observer_data;
	guint64 limit_hits[N_LIMITS];
	guint64 deliveries_tls[N_VERSIONS][2]; /* [version][dane] */
	guint64 dane_failures;
	guint64 lines;
	ExmDpLogObserver observer;
	gpointer observer_data;
};

ExmDpLogStats *
exm_dp_logstats_new(const gchar *path, gboolean from_start)
{
	ExmDpLogStats *stats = g_new0(ExmDpLogStats, 1);

	stats->path = g_strdup(path);
	stats->fd = -1;
	stats->seek_end = !from_start;
	stats->partial = g_string_new(NULL);
	stats->accounts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	stats->messages = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	stats->tls = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return stats;
}

void
exm_dp_logstats_free(ExmDpLogStats *stats)
{
	if (stats == NULL)
		return;
	if (stats->fd >= 0)
		close(stats->fd);
	g_string_free(stats->partial, TRUE);
	g_hash_table_unref(stats->messages);
	g_hash_table_unref(stats->accounts);
	g_hash_table_unref(stats->tls);
	g_free(stats->path);
	g_free(stats);
}

/* The account's counts; past the cap new accounts share `other`. */
static const gchar *
account_key(ExmDpLogStats *stats, const gchar *account, Counts **out)
{
	gpointer key = NULL;
	gpointer value = NULL;

	if (!g_hash_table_contains(stats->accounts, account) &&
	    g_hash_table_size(stats->accounts) >= EXM_DP_LOGSTATS_MAX_ACCOUNTS)
		account = "other";
	if (!g_hash_table_lookup_extended(stats->accounts, account, &key, &value)) {
		key = g_strdup(account);
		value = g_new0(Counts, 1);
		g_hash_table_insert(stats->accounts, key, value);
	}
	*out = value;
	return key;
}

static const gchar *
owner(ExmDpLogStats *stats, const gchar *id)
{
	const gchar *account = g_hash_table_lookup(stats->messages, id);

	return account != NULL ? account : "unknown";
}

void
exm_dp_logstats_set_observer(ExmDpLogStats *stats, ExmDpLogObserver observer, gpointer data)
{
	stats->observer = observer;
	stats->observer_data = data;
}

void
exm_dp_logstats_set_login_observer(ExmDpLogStats *stats, ExmDpLoginObserver observer, gpointer data)
{
	stats->login_observer = observer;
	stats->login_observer_data = data;
}

/* A fingerprint as exim writes it: exactly 16 lower-case hex digits. */
static gboolean
is_fingerprint(const gchar *s, gsize len)
{
	if (len != 16)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isdigit(s[i]) && (s[i] < 'a' || s[i] > 'f'))
			return FALSE;
	}
	return TRUE;
}

/* `DATE TIME AUTH with the current|previous secret <fp>: login <address>`;
 * %FALSE for any other line.  The address is one word with one `@`, as exim
 * verified it (only a successful login writes the line). */
static gboolean
login_line(ExmDpLogStats *stats, const gchar *const *tok, const gchar *text)
{
	static const gchar head[] = "AUTH with the ";
	const gchar *p = strstr(text, head), *fp, *addr;
	g_autofree gchar *time = NULL;
	gboolean previous;

	if (g_strv_length((gchar **)tok) < 5 || p != text + strlen(tok[0]) + strlen(tok[1]) + 2)
		return FALSE;
	p += strlen(head);
	previous = g_str_has_prefix(p, "previous secret ");
	if (!previous && !g_str_has_prefix(p, "current secret "))
		return FALSE;
	fp = strchr(p, ' ') + strlen(" secret ");
	if (!is_fingerprint(fp, strcspn(fp, ":")) || !g_str_has_prefix(fp + 16, ": login "))
		return FALSE;
	addr = fp + 16 + strlen(": login ");
	if (addr[0] == '\0' || strchr(addr, ' ') != NULL || strchr(addr, '@') == NULL ||
	    strlen(addr) > 320)
		return FALSE;
	stats->logins[previous ? 1 : 0]++;
	if (stats->login_observer != NULL) {
		g_autofree gchar *secret = g_strndup(fp, 16);
		ExmDpLoginEvent event = { NULL, addr, secret, previous };

		time = g_strdup_printf("%s %s", tok[0], tok[1]);
		event.time = time;
		stats->login_observer(&event, stats->login_observer_data);
	}
	return TRUE;
}

static void
notify(ExmDpLogStats *stats,
       ExmDpLogOutcome outcome,
       const gchar *const *tok,
       const gchar *account,
       gboolean authenticated,
       const gchar *rest,
       const ExmDpDeliveryTls *tls)
{
	g_autofree gchar *time = NULL;
	ExmDpLogEvent event = { outcome, NULL, account, authenticated, rest, tok[2], tls };

	if (stats->observer == NULL)
		return;
	time = g_strdup_printf("%s %s", tok[0], tok[1]);
	event.time = time;
	stats->observer(&event, stats->observer_data);
}

static void
count(ExmDpLogStats *stats,
      const gchar *const *tok,
      ExmDpLogOutcome outcome,
      const gchar *rest,
      const ExmDpDeliveryTls *tls)
{
	Counts *c = NULL;
	const gchar *key = account_key(stats, owner(stats, tok[2]), &c);

	c->n[outcome]++;
	notify(stats, outcome, tok, key, FALSE, rest, tls);
}

/* A refused MAIL/RCPT or AUTH: which limit, if any. */
static void
count_limit(ExmDpLogStats *stats, const gchar *text)
{
	if (strstr(text, "rejected") == NULL && strstr(text, "AUTH refused") == NULL)
		return;
	for (guint i = 0; i < N_LIMITS; i++) {
		if (strstr(text, limit_texts[i].needle) != NULL) {
			stats->limit_hits[i]++;
			return;
		}
	}
}

/* The value of ` <name>=` in @rest, up to the next space (or @stop). */
static gchar *
field(const gchar *rest, const gchar *name, gchar stop)
{
	g_autofree gchar *needle = g_strdup_printf(" %s=", name);
	const gchar *at = strstr(rest, needle);
	const gchar *end;

	if (at == NULL)
		return NULL;
	at += strlen(needle);
	end = at;
	while (*end != '\0' && *end != ' ' && *end != stop)
		end++;
	return g_strndup(at, (gsize)(end - at));
}

gboolean
exm_dp_logstats_is_message_id(const gchar *s)
{
	gsize len = strlen(s);
	guint dashes = 0;

	if (len < 16 || len > 23)
		return FALSE;
	for (const gchar *p = s; *p != '\0'; p++) {
		if (*p == '-')
			dashes++;
		else if (!g_ascii_isalnum(*p))
			return FALSE;
	}
	return dashes == 2;
}

/* The version of exim's `X=` value (`TLS1.3:<cipher>:<bits>`); an unknown
 * one is `other`. */
static const gchar *
tls_label(const gchar *x)
{
	g_autofree gchar *version = g_strndup(x, strcspn(x, ":"));

	for (guint i = 0; i < V_OTHER; i++) {
		if (g_str_equal(version, tls_versions[i]))
			return tls_versions[i];
	}
	return tls_versions[V_OTHER];
}

static guint
version_index(const gchar *version)
{
	for (guint i = 0; i < N_VERSIONS; i++) {
		if (g_str_equal(version, tls_versions[i]))
			return i;
	}
	return V_OTHER;
}

/* The end of the word at @p: the first space outside double quotes (a
 * backslash escapes the next character), as in a quoted local part. */
static const gchar *
word_end(const gchar *p)
{
	gboolean quoted = FALSE;

	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == ' ' && !quoted)
			break;
	}
	return p;
}

/* exim's own fields of a delivery line: after the recipient (its original
 * `<…>` and `F=<sender>` when present), before the peer's `DN="` and `C="`. */
static gchar *
own_fields(const gchar *rest)
{
	const gchar *p = word_end(rest + strspn(rest, " "));
	const gchar *end;
	const gchar *dn;

	while (p[0] == ' ' && (p[1] == '<' || g_str_has_prefix(p + 1, "F=<")))
		p = word_end(p + 1);
	end = strstr(p, " C=\"");
	dn = strstr(p, " DN=\"");
	if (end == NULL || (dn != NULL && dn < end))
		end = dn;
	return end != NULL ? g_strndup(p, (gsize)(end - p)) : g_strdup(p);
}

gboolean
exm_dp_logstats_delivery_tls(const gchar *rest, ExmDpDeliveryTls *out)
{
	g_autofree gchar *fields = own_fields(rest);
	g_auto(GStrv) words = g_strsplit(fields, " ", -1);
	gboolean remote = FALSE;

	*out = (ExmDpDeliveryTls){ tls_versions[N_VERSIONS - 1], FALSE, FALSE };
	for (guint i = 0; words[i] != NULL; i++) {
		const gchar *w = words[i];

		if (g_str_equal(w, "T=sandbox_smtp"))
			return FALSE; /* the node's own capture listener, in clear */
		if (g_str_has_prefix(w, "H=")) {
			remote = TRUE;
			out->dnssec = words[i + 1] != NULL && g_str_equal(words[i + 1], "DS");
		} else if (g_str_has_prefix(w, "X=")) {
			out->version = tls_label(w + 2);
		} else if (g_str_equal(w, "CV=dane")) {
			out->dane = TRUE;
		}
	}
	return remote;
}

/* A `=>`/`->` line: one recipient delivered; remote ones by TLS and DANE. */
static void
delivered(ExmDpLogStats *stats, const gchar *const *tok, const gchar *rest)
{
	ExmDpDeliveryTls tls;
	gboolean remote = exm_dp_logstats_delivery_tls(rest, &tls);

	if (remote)
		stats->deliveries_tls[version_index(tls.version)][tls.dane ? 1 : 0]++;
	count(stats, tok, EXM_DP_LOG_DELIVERED, rest, remote ? &tls : NULL);
}

static void
received(ExmDpLogStats *stats, const gchar *const *tok, const gchar *line_rest)
{
	const gchar *id = tok[2];
	/* the subject (T="…", written after A= and X=) is the sender's text */
	const gchar *subject = strstr(line_rest, " T=\"");
	g_autofree gchar *rest = subject != NULL
					 ? g_strndup(line_rest, (gsize)(subject - line_rest))
					 : g_strdup(line_rest);
	g_autofree gchar *auth = field(rest, "A", '\0');
	g_autofree gchar *x = field(rest, "X", '\0');
	const gchar *colon = auth != NULL ? strchr(auth, ':') : NULL;
	const gchar *account = colon != NULL && colon[1] != '\0' ? colon + 1 : "unknown";
	Counts *c = NULL;
	const gchar *key = account_key(stats, account, &c);

	c->n[EXM_DP_LOG_RECEIVED]++;
	notify(stats,
	       EXM_DP_LOG_RECEIVED,
	       tok,
	       key,
	       colon != NULL && colon[1] != '\0',
	       line_rest,
	       NULL);
	if (g_hash_table_size(stats->messages) < EXM_DP_LOGSTATS_MAX_MESSAGES)
		g_hash_table_insert(stats->messages, g_strdup(id), (gpointer)key);
	if (colon != NULL && x != NULL) {
		const gchar *v = tls_label(x);
		guint64 *n = g_hash_table_lookup(stats->tls, v);

		if (n == NULL) {
			n = g_new0(guint64, 1);
			g_hash_table_insert(stats->tls, g_strdup(v), n);
		}
		(*n)++;
	}
}

/* From the space before field @n (0-based) on, "" when there is none. */
static const gchar *
rest_of(const gchar *text, guint n)
{
	const gchar *p = text;

	for (guint i = 0; i < n; i++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return "";
		p++;
	}
	return p - 1;
}

/* exim's lines of a delivery attempt DANE refused: `ID DANE attempt failed;
 * …` (the certificate matched no TLSA record) and `ID H=<host> [<ip>]: a TLS
 * session is required, but the server did not offer TLS support` (no
 * STARTTLS; only DANE requires TLS in this configuration). */
static gboolean
dane_refused(const gchar *const *tok)
{
	static const gchar no_tls[] =
		"]: a TLS session is required, but the server did not offer TLS support";

	const gchar *ip_end;

	if (tok[4] == NULL)
		return FALSE;
	if (g_str_equal(tok[3], "DANE"))
		return g_str_has_prefix(tok[4], "attempt failed;");
	/* right after the address: exim's words, not a remote's reply */
	ip_end = tok[4][0] == '[' ? strchr(tok[4], ']') : NULL;
	return g_str_has_prefix(tok[3], "H=") && ip_end != NULL && g_str_has_prefix(ip_end, no_tls);
}

/* `DATE TIME ID SYMBOL REST`; lines of other shapes count nothing.  A
 * frozen message (`ID Frozen …`, `ID frozen by ACL`) counts as held. */
void
exm_dp_logstats_feed_line(ExmDpLogStats *stats, const gchar *line, gsize len)
{
	g_autofree gchar *text = g_strndup(line, len);
	g_auto(GStrv) tok = g_strsplit(text, " ", 5);
	const gchar *rest = NULL;

	stats->lines++;
	if (strstr(text, " authenticator failed for ") != NULL) {
		stats->auth_failures++;
		return;
	}
	/* a refusal has no message id: a message line's subject cannot pose as one */
	if (g_strv_length(tok) < 4 || !exm_dp_logstats_is_message_id(tok[2])) {
		if (!login_line(stats, (const gchar *const *)tok, text))
			count_limit(stats, text);
		return;
	}
	rest = rest_of(text, 4);
	if (g_str_equal(tok[3], "<="))
		received(stats, (const gchar *const *)tok, rest);
	else if (g_str_equal(tok[3], "=>") || g_str_equal(tok[3], "->"))
		delivered(stats, (const gchar *const *)tok, rest);
	else if (g_str_equal(tok[3], "=="))
		count(stats, (const gchar *const *)tok, EXM_DP_LOG_DEFERRED, rest, NULL);
	else if (g_str_equal(tok[3], "**"))
		count(stats, (const gchar *const *)tok, EXM_DP_LOG_BOUNCED, rest, NULL);
	else if (g_ascii_strcasecmp(tok[3], "frozen") == 0)
		count(stats, (const gchar *const *)tok, EXM_DP_LOG_HELD, rest, NULL);
	else if (g_str_equal(tok[3], "Completed"))
		g_hash_table_remove(stats->messages, tok[2]);
	else if (dane_refused((const gchar *const *)tok))
		stats->dane_failures++;
}

/* Splits @data into lines, keeping an incomplete last line for later. */
static void
feed_bytes(ExmDpLogStats *stats, const gchar *data, gsize len)
{
	stats->pos += len;
	while (len > 0) {
		const gchar *nl = memchr(data, '\n', len);
		gsize take = nl != NULL ? (gsize)(nl - data) : len;

		if (!stats->skipping)
			g_string_append_len(stats->partial, data, (gssize)take);
		if (stats->partial->len > MAX_LINE) {
			g_string_truncate(stats->partial, 0);
			stats->skipping = TRUE;
		}
		if (nl == NULL)
			return;
		if (!stats->skipping)
			exm_dp_logstats_feed_line(stats, stats->partial->str, stats->partial->len);
		g_string_truncate(stats->partial, 0);
		stats->skipping = FALSE;
		data = nl + 1;
		len -= take + 1;
		stats->line_end = stats->pos - len;
	}
}

/* The saved position's file: the log itself, or (rotated while the agent was
 * away) the first rotated copy, which is finished before the log is followed.
 * Neither: every line of the log came after the position, from its start. */
static void
resume_at(ExmDpLogStats *stats, const struct stat *st)
{
	g_autofree gchar *rotated = g_strconcat(stats->path, ".1", NULL);
	struct stat old;
	gint fd;

	if ((guint64)st->st_ino == stats->resume_ino) {
		if ((guint64)st->st_size >= stats->resume_offset)
			(void)lseek(stats->fd, (off_t)stats->resume_offset, SEEK_SET);
		return; /* shorter than the position: truncated, from its start */
	}
	fd = open(rotated, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	if (fstat(fd, &old) != 0 || (guint64)old.st_ino != stats->resume_ino ||
	    (guint64)old.st_size < stats->resume_offset) {
		close(fd);
		return;
	}
	close(stats->fd);
	stats->fd = fd;
	stats->dev = old.st_dev;
	stats->ino = old.st_ino;
	(void)lseek(stats->fd, (off_t)stats->resume_offset, SEEK_SET);
}

static gboolean
open_log(ExmDpLogStats *stats)
{
	struct stat st;

	stats->fd = open(stats->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (stats->fd < 0)
		return FALSE;
	if (fstat(stats->fd, &st) != 0) {
		close(stats->fd);
		stats->fd = -1;
		return FALSE;
	}
	stats->dev = st.st_dev;
	stats->ino = st.st_ino;
	if (stats->resume)
		resume_at(stats, &st);
	else if (stats->seek_end)
		(void)lseek(stats->fd, 0, SEEK_END);
	stats->seek_end = FALSE; /* a later file (a rotation) is new: from its start */
	stats->resume = FALSE;
	stats->pos = (guint64)MAX(lseek(stats->fd, 0, SEEK_CUR), 0);
	stats->line_end = stats->pos;
	g_string_truncate(stats->partial, 0);
	stats->skipping = FALSE;
	return TRUE;
}

/* At the end of the open file: another file at the path (rotated), or this
 * one shorter than where we are (truncated)? */
static gboolean
log_moved(ExmDpLogStats *stats)
{
	struct stat now;
	struct stat open_st;

	if (fstat(stats->fd, &open_st) == 0 && open_st.st_size < lseek(stats->fd, 0, SEEK_CUR)) {
		(void)lseek(stats->fd, 0, SEEK_SET);
		g_string_truncate(stats->partial, 0);
		stats->pos = 0;
		stats->line_end = 0;
		return TRUE;
	}
	if (stat(stats->path, &now) != 0 || (now.st_dev == stats->dev && now.st_ino == stats->ino))
		return FALSE;
	close(stats->fd);
	stats->fd = -1;
	return open_log(stats);
}

gsize
exm_dp_logstats_poll(ExmDpLogStats *stats)
{
	g_autofree gchar *buf = g_malloc(CHUNK);
	gsize total = 0;

	if (stats->fd < 0 && !open_log(stats))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autofree frees buf
		return 0;
	while (total < EXM_DP_LOGSTATS_MAX_READ) {
		gssize n = read(stats->fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			feed_bytes(stats, buf, (gsize)n);
			total += (gsize)n;
			continue;
		}
		/* the end of this file: follow a rotation or a truncation once */
		if (n < 0 || !log_moved(stats))
			break;
	}
	return total;
}

gboolean
exm_dp_logstats_get_position(ExmDpLogStats *stats, guint64 *inode, guint64 *offset)
{
	if (stats->fd < 0)
		return FALSE;
	*inode = (guint64)stats->ino;
	*offset = stats->line_end;
	return TRUE;
}

void
exm_dp_logstats_resume(ExmDpLogStats *stats, guint64 inode, guint64 offset)
{
	g_return_if_fail(stats->fd < 0);
	stats->resume = TRUE;
	stats->resume_ino = inode;
	stats->resume_offset = offset;
}

void
exm_dp_logstats_foreach_message(ExmDpLogStats *stats, GHFunc func, gpointer data)
{
	g_hash_table_foreach(stats->messages, func, data);
}

gboolean
exm_dp_logstats_add_message(ExmDpLogStats *stats, const gchar *id, const gchar *account)
{
	Counts *c = NULL;

	if (!exm_dp_logstats_is_message_id(id) ||
	    g_hash_table_size(stats->messages) >= EXM_DP_LOGSTATS_MAX_MESSAGES)
		return FALSE;
	g_hash_table_insert(
		stats->messages, g_strdup(id), (gpointer)account_key(stats, account, &c));
	return TRUE;
}

guint64
exm_dp_logstats_get(ExmDpLogStats *stats, const gchar *account, ExmDpLogOutcome outcome)
{
	const Counts *c = g_hash_table_lookup(stats->accounts, account);

	return c != NULL ? c->n[outcome] : 0;
}

guint64
exm_dp_logstats_get_auth_failures(ExmDpLogStats *stats)
{
	return stats->auth_failures;
}

guint64
exm_dp_logstats_get_logins(ExmDpLogStats *stats, gboolean previous)
{
	return stats->logins[previous ? 1 : 0];
}

guint64
exm_dp_logstats_get_limit_hits(ExmDpLogStats *stats, const gchar *limit)
{
	for (guint i = 0; i < N_LIMITS; i++) {
		if (g_str_equal(limit_texts[i].limit, limit))
			return stats->limit_hits[i];
	}
	return 0;
}

guint64
exm_dp_logstats_get_deliveries_tls(ExmDpLogStats *stats, const gchar *version, gboolean dane)
{
	guint v = version_index(version);

	return g_str_equal(tls_versions[v], version) ? stats->deliveries_tls[v][dane ? 1 : 0] : 0;
}

guint64
exm_dp_logstats_get_dane_failures(ExmDpLogStats *stats)
{
	return stats->dane_failures;
}

/* Only the version/DANE pairs seen: at most 16 series. */
static void
render_deliveries(ExmDpLogStats *stats, GString *out)
{
	g_string_append(out,
			"# HELP exordos_node_deliveries_tls_total Deliveries to remote hosts by "
			"TLS version (\"none\": in clear) and whether DANE verified the peer.\n"
			"# TYPE exordos_node_deliveries_tls_total counter\n");
	for (guint v = 0; v < N_VERSIONS; v++) {
		for (guint d = 0; d < 2; d++) {
			if (stats->deliveries_tls[v][d] == 0)
				continue;
			g_string_append_printf(out,
					       "exordos_node_deliveries_tls_total{version=\"%s\","
					       "dane=\"%s\"} %" G_GUINT64_FORMAT "\n",
					       tls_versions[v],
					       d != 0 ? "yes" : "no",
					       stats->deliveries_tls[v][d]);
		}
	}
	g_string_append_printf(out,
			       "# HELP exordos_node_dane_failures_total Delivery attempts "
			       "DANE refused: the peer's certificate matched none of its "
			       "DNSSEC-validated TLSA records, or it offered no STARTTLS.\n"
			       "# TYPE exordos_node_dane_failures_total counter\n"
			       "exordos_node_dane_failures_total %" G_GUINT64_FORMAT "\n",
			       stats->dane_failures);
}

static void
render_limits(ExmDpLogStats *stats, GString *out)
{
	g_string_append(out,
			"# HELP exordos_node_limit_hits_total Messages, recipients or logins "
			"refused by a send limit or the login defence.\n"
			"# TYPE exordos_node_limit_hits_total counter\n");
	for (guint i = 0; i < N_LIMITS; i++)
		g_string_append_printf(out,
				       "exordos_node_limit_hits_total{limit=\"%s\"} "
				       "%" G_GUINT64_FORMAT "\n",
				       limit_texts[i].limit,
				       stats->limit_hits[i]);
}

static void
render_messages(ExmDpLogStats *stats, GString *out)
{
	guint n = 0;
	g_autofree gpointer *keys = exm_prom_sorted_keys(stats->accounts, &n);

	g_string_append(out,
			"# HELP exordos_node_messages_total Messages by account and outcome, "
			"from exim's main log (account \"unknown\": not authenticated).\n"
			"# TYPE exordos_node_messages_total counter\n");
	for (guint o = 0; o < EXM_DP_LOG_N_OUTCOMES; o++) {
		for (guint i = 0; i < n; i++) {
			const Counts *c = g_hash_table_lookup(stats->accounts, keys[i]);

			g_string_append(out, "exordos_node_messages_total{account=\"");
			exm_prom_escape_label(out, keys[i]);
			g_string_append_printf(out,
					       "\",outcome=\"%s\"} %" G_GUINT64_FORMAT "\n",
					       outcome_names[o],
					       c->n[o]);
		}
	}
}

void
exm_dp_logstats_render(ExmDpLogStats *stats, GString *out)
{
	guint n = 0;
	g_autofree gpointer *versions = exm_prom_sorted_keys(stats->tls, &n);

	render_messages(stats, out);
	render_limits(stats, out);
	render_deliveries(stats, out);
	g_string_append_printf(
		out,
		"# HELP exordos_node_auth_failures_total Failed SMTP AUTH attempts.\n"
		"# TYPE exordos_node_auth_failures_total counter\n"
		"exordos_node_auth_failures_total %" G_GUINT64_FORMAT "\n"
		"# HELP exordos_node_auth_logins_total Successful SMTP AUTH logins by the "
		"secret used.\n"
		"# TYPE exordos_node_auth_logins_total counter\n"
		"exordos_node_auth_logins_total{secret=\"current\"} %" G_GUINT64_FORMAT "\n"
		"exordos_node_auth_logins_total{secret=\"previous\"} %" G_GUINT64_FORMAT "\n",
		stats->auth_failures,
		stats->logins[0],
		stats->logins[1]);
	g_string_append(out,
			"# HELP exordos_node_tls_submissions_total Authenticated submissions by "
			"TLS version.\n# TYPE exordos_node_tls_submissions_total counter\n");
	for (guint i = 0; i < n; i++)
		g_string_append_printf(out,
				       "exordos_node_tls_submissions_total{version=\"%s\"} "
				       "%" G_GUINT64_FORMAT "\n",
				       (const gchar *)versions[i],
				       *(guint64 *)g_hash_table_lookup(stats->tls, versions[i]));
	g_string_append_printf(out,
			       "# HELP exordos_node_log_lines_total Main log lines read.\n"
			       "# TYPE exordos_node_log_lines_total counter\n"
			       "exordos_node_log_lines_total %" G_GUINT64_FORMAT "\n",
			       stats->lines);
}
