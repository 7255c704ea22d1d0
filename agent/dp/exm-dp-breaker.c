/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-breaker.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "exm-atomic.h"
#include "exm-error.h"
#include "exm-json.h"
#include "exm-mail-node.h"
#include "exm-mail-validate.h"
#include "exm-time.h"
#include "exm-uuid.h"
#include "exm-dp-usage.h"

/* a hash is kept as the key itself of a pointer set */
G_STATIC_ASSERT(sizeof(gpointer) >= sizeof(guint64));

static const gchar *const reason_names[] = { "new_recipients", "bounces" };

typedef struct {
	GHashTable *seen; /* set of hashes (as pointers) */
	guint64 *ring;	  /* the same hashes, oldest first from head */
	guint cap;	  /* grows to %EXM_DP_BREAKER_SEEN_PER_ACCOUNT */
	guint head;
	guint len;
	gint64 day; /* UTC day (epoch / 86400) of the counts */
	guint64 new_rcpt;
	guint64 finished; /* delivered + bounced recipients */
	guint64 bounces;
	gboolean held;
	ExmDpBreakerReason reason;
	gint64 since;	    /* seconds */
	guint64 at_trip[3]; /* new_rcpt, finished, bounces when it tripped */
} Account;

struct _ExmDpBreaker {
	GHashTable *accounts; /* address → Account */
	GHashTable *done;     /* address → token */
	GPtrArray *trips;     /* addresses tripped, not yet taken */
	guint64 total_seen;
	gint64 new_max;
	gint64 bounce_percent;
	gint64 bounce_min;
	guint64 generation;
	guint64 saved_generation;
	gboolean saved; /* loaded or saved once */
	guint64 trips_total;
	ExmDpLogObserver next;
	gpointer next_data;
	/* the minute of the last line (`YYYY-MM-DD HH:MM`) and its epoch: a
	 * local-time conversion costs more than the rest of the line, and the
	 * lines of a burst share their minute (an offset changes on the hour) */
	gchar last_minute[17];
	gint64 last_minute_t;
};

static void
account_free(gpointer p)
{
	Account *a = p;

	g_hash_table_unref(a->seen);
	g_free(a->ring);
	g_free(a);
}

static Account *
account_new(void)
{
	Account *a = g_new0(Account, 1);

	a->seen = g_hash_table_new(g_direct_hash, g_direct_equal);
	return a;
}

ExmDpBreaker *
exm_dp_breaker_new(void)
{
	ExmDpBreaker *b = g_new0(ExmDpBreaker, 1);

	b->accounts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, account_free);
	b->done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	b->trips = g_ptr_array_new_with_free_func(g_free);
	exm_dp_breaker_set_limits(b, 0, 0, 0);
	return b;
}

void
exm_dp_breaker_free(ExmDpBreaker *breaker)
{
	if (breaker == NULL)
		return;
	g_hash_table_unref(breaker->accounts);
	g_hash_table_unref(breaker->done);
	g_ptr_array_unref(breaker->trips);
	g_free(breaker);
}

void
exm_dp_breaker_set_limits(ExmDpBreaker *breaker,
			  gint64 new_recipients_per_day,
			  gint64 bounce_percent,
			  gint64 bounce_min)
{
	breaker->new_max = new_recipients_per_day > 0 ? new_recipients_per_day
						      : EXM_MAIL_DEFAULT_BREAKER_NEW_RECIPIENTS;
	breaker->bounce_percent =
		bounce_percent > 0 ? bounce_percent : EXM_MAIL_DEFAULT_BREAKER_BOUNCE_PERCENT;
	breaker->bounce_min = bounce_min > 0 ? bounce_min : EXM_MAIL_DEFAULT_BREAKER_BOUNCE_MIN;
}

void
exm_dp_breaker_set_next(ExmDpBreaker *breaker, ExmDpLogObserver next, gpointer data)
{
	breaker->next = next;
	breaker->next_data = data;
}

/* FNV-1a over the lower-cased address: 64 bits make a collision between two
 * recipients of one account (at most 10 000) about 1 in 10^11. */
static guint64
recipient_hash(const gchar *address, gsize len)
{
	guint64 h = 14695981039346656037ULL;

	for (gsize i = 0; i < len; i++) {
		h ^= (guchar)g_ascii_tolower(address[i]);
		h *= 1099511628211ULL;
	}
	return h;
}

static void
seen_drop_oldest(ExmDpBreaker *b, Account *a)
{
	if (a->len == 0)
		return;
	g_hash_table_remove(a->seen, GSIZE_TO_POINTER(a->ring[a->head]));
	a->head = (a->head + 1) % a->cap;
	a->len--;
	b->total_seen--;
}

/* The account holding the most hashes: it pays for the total bound. */
static Account *
largest(ExmDpBreaker *b)
{
	GHashTableIter it;
	gpointer value;
	Account *big = NULL;

	g_hash_table_iter_init(&it, b->accounts);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		if (big == NULL || ((Account *)value)->len > big->len)
			big = value;
	}
	return big;
}

/* Doubles the ring (oldest first again from 0): 10 000 accounts do not cost
 * 10 000 full rings up front. */
static void
ring_grow(Account *a)
{
	guint cap = MIN(MAX(a->cap * 2, 16u), (guint)EXM_DP_BREAKER_SEEN_PER_ACCOUNT);
	guint64 *ring = g_new(guint64, cap);

	for (guint i = 0; i < a->len; i++)
		ring[i] = a->ring[(a->head + i) % a->cap];
	g_free(a->ring);
	a->ring = ring;
	a->cap = cap;
	a->head = 0;
}

/* Returns: %TRUE when @h was new to the account */
static gboolean
seen_add(ExmDpBreaker *b, Account *a, guint64 h)
{
	if (g_hash_table_contains(a->seen, GSIZE_TO_POINTER(h)))
		return FALSE;
	if (a->len >= EXM_DP_BREAKER_SEEN_PER_ACCOUNT)
		seen_drop_oldest(b, a);
	if (b->total_seen >= EXM_DP_BREAKER_SEEN_TOTAL)
		seen_drop_oldest(b, largest(b));
	if (a->len == a->cap)
		ring_grow(a);
	a->ring[(a->head + a->len) % a->cap] = h;
	a->len++;
	b->total_seen++;
	g_hash_table_add(a->seen, GSIZE_TO_POINTER(h));
	return TRUE;
}

/* Only real, authenticated accounts (as the usage counts them). */
static Account *
account_of(ExmDpBreaker *b, const gchar *address)
{
	Account *a;

	if (g_str_equal(address, "unknown") || g_str_equal(address, "other") ||
	    strchr(address, '@') == NULL)
		return NULL;
	a = g_hash_table_lookup(b->accounts, address);
	if (a == NULL && g_hash_table_size(b->accounts) < EXM_DP_BREAKER_MAX_ACCOUNTS) {
		a = account_new();
		g_hash_table_insert(b->accounts, g_strdup(address), a);
	}
	return a;
}

/* The day's counts start over on a new UTC day; %FALSE for a line of an
 * older day than the counts' (a clock set back): it counts nothing. */
static gboolean
roll_day(Account *a, gint64 t)
{
	gint64 day = t / 86400;

	if (day < a->day)
		return FALSE;
	if (day > a->day) {
		a->day = day;
		a->new_rcpt = a->finished = a->bounces = 0;
	}
	return TRUE;
}

static void
check_trip(ExmDpBreaker *b, const gchar *address, Account *a, gint64 t)
{
	gboolean by_new = a->new_rcpt > (guint64)b->new_max;
	gboolean by_bounces = a->finished >= (guint64)b->bounce_min &&
			      a->bounces * 100 >= (guint64)b->bounce_percent * a->finished;

	if (a->held || (!by_new && !by_bounces))
		return;
	a->held = TRUE;
	a->reason = by_new ? EXM_DP_BREAKER_NEW_RECIPIENTS : EXM_DP_BREAKER_BOUNCES;
	a->since = t;
	a->at_trip[0] = a->new_rcpt;
	a->at_trip[1] = a->finished;
	a->at_trip[2] = a->bounces;
	b->trips_total++;
	g_ptr_array_add(b->trips, g_strdup(address));
	g_message("breaker: %s held (%s: %" G_GUINT64_FORMAT " new recipients, %" G_GUINT64_FORMAT
		  " of %" G_GUINT64_FORMAT " bounced today)",
		  address,
		  reason_names[a->reason],
		  a->new_rcpt,
		  a->bounces,
		  a->finished);
}

/* The recipients of a `<=` line: the words after its last ` for ` (the
 * subject, written before them, cannot add any). */
static void
count_recipients(ExmDpBreaker *b, Account *a, const gchar *rest)
{
	const gchar *p = g_strrstr(rest, " for ");

	if (p == NULL)
		return;
	p += 5;
	while (*p != '\0') {
		gsize len;

		p += strspn(p, " <");
		len = strcspn(p, " >");
		if (len > 0 && memchr(p, '@', len) != NULL &&
		    seen_add(b, a, recipient_hash(p, len)))
			a->new_rcpt++;
		p += len;
		p += strspn(p, ">");
	}
}

static gint64
line_time(ExmDpBreaker *b, const gchar *time)
{
	gint64 t;
	gint sec;

	if (strlen(time) != 19 || time[16] != ':' || !g_ascii_isdigit(time[17]) ||
	    !g_ascii_isdigit(time[18]))
		return 0;
	sec = (time[17] - '0') * 10 + (time[18] - '0');
	if (b->last_minute_t > 0 && strncmp(time, b->last_minute, 16) == 0)
		return b->last_minute_t + sec;
	t = exm_dp_usage_parse_time(time);
	if (t > 0) {
		g_strlcpy(b->last_minute, time, sizeof b->last_minute);
		b->last_minute_t = t - sec;
	}
	return t;
}

void
exm_dp_breaker_observe(const ExmDpLogEvent *event, gpointer data)
{
	ExmDpBreaker *b = data;
	gint64 t = line_time(b, event->time);
	/* exim takes a login in any case (the policy key is ${lc:…}): one
	 * account, whatever case a thief types */
	g_autofree gchar *address = g_ascii_strdown(event->account, -1);
	Account *a = t > 0 ? account_of(b, address) : NULL;

	if (a != NULL && roll_day(a, t)) {
		switch (event->outcome) {
		case EXM_DP_LOG_RECEIVED:
			if (event->authenticated)
				count_recipients(b, a, event->rest);
			break;
		case EXM_DP_LOG_BOUNCED:
			a->bounces++;
			a->finished++;
			break;
		case EXM_DP_LOG_DELIVERED:
			a->finished++;
			break;
		default:
			break;
		}
		if (event->outcome != EXM_DP_LOG_DEFERRED && event->outcome != EXM_DP_LOG_HELD) {
			b->generation++;
			check_trip(b, address, a, t);
		}
	}
	if (b->next != NULL)
		b->next(event, b->next_data);
}

gboolean
exm_dp_breaker_is_held(ExmDpBreaker *breaker, const gchar *address)
{
	const Account *a = g_hash_table_lookup(breaker->accounts, address);

	return a != NULL && a->held;
}

GHashTable *
exm_dp_breaker_get_held(ExmDpBreaker *breaker)
{
	GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTableIter it;
	gpointer key;
	gpointer value;

	g_hash_table_iter_init(&it, breaker->accounts);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		if (((Account *)value)->held)
			g_hash_table_add(set, g_strdup(key));
	}
	return set;
}

GPtrArray *
exm_dp_breaker_take_trips(ExmDpBreaker *breaker)
{
	GPtrArray *out = g_steal_pointer(&breaker->trips);

	breaker->trips = g_ptr_array_new_with_free_func(g_free);
	return out;
}

void
exm_dp_breaker_reset(ExmDpBreaker *breaker, const gchar *address, const gchar *token)
{
	Account *a = g_hash_table_lookup(breaker->accounts, address);

	if (a != NULL) {
		a->held = FALSE;
		a->new_rcpt = a->finished = a->bounces = 0;
		a->since = 0;
		memset(a->at_trip, 0, sizeof a->at_trip);
	}
	g_hash_table_insert(breaker->done, g_strdup(address), g_strdup(token));
	breaker->generation++;
}

const gchar *
exm_dp_breaker_get_done(ExmDpBreaker *breaker, const gchar *address)
{
	return g_hash_table_lookup(breaker->done, address);
}

void
exm_dp_breaker_keep_done(ExmDpBreaker *breaker, GHashTable *keep)
{
	GHashTableIter it;
	gpointer key;

	g_hash_table_iter_init(&it, breaker->done);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		if (!g_hash_table_contains(keep, key)) {
			g_hash_table_iter_remove(&it);
			breaker->generation++;
		}
	}
}

guint64
exm_dp_breaker_get_generation(ExmDpBreaker *breaker)
{
	return breaker->generation;
}

guint
exm_dp_breaker_get_held_count(ExmDpBreaker *breaker)
{
	g_autoptr(GHashTable) held = exm_dp_breaker_get_held(breaker);

	return g_hash_table_size(held);
}

guint64
exm_dp_breaker_get_trips_total(ExmDpBreaker *breaker)
{
	return breaker->trips_total;
}

guint64
exm_dp_breaker_get_seen_total(ExmDpBreaker *breaker)
{
	return breaker->total_seen;
}

/* --- the report ------------------------------------------------------------ */

static gint
compare_keys(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* @data: held address → count (keys borrowed from the held set) */
static void
count_in_flight(gpointer id, gpointer account, gpointer data)
{
	g_autofree gchar *address = g_ascii_strdown(account, -1);
	gpointer key = NULL;
	gpointer n = NULL;

	if (g_hash_table_lookup_extended(data, address, &key, &n))
		g_hash_table_insert(data, key, GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
}

static void
held_json(const Account *a, guint messages, JsonBuilder *jb)
{
	g_autofree gchar *since = exm_time_format(a->since * G_USEC_PER_SEC);
	static const gchar *const names[] = { "new_recipients", "recipients", "bounces" };

	json_builder_begin_object(jb);
	json_builder_set_member_name(jb, "sending");
	json_builder_add_string_value(jb, "held");
	json_builder_set_member_name(jb, "reason");
	json_builder_add_string_value(jb, reason_names[a->reason]);
	json_builder_set_member_name(jb, "since");
	json_builder_add_string_value(jb, since);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		json_builder_set_member_name(jb, names[i]);
		json_builder_add_int_value(jb, (gint64)MIN(a->at_trip[i], (guint64)G_MAXINT64));
	}
	json_builder_set_member_name(jb, "held_messages");
	json_builder_add_int_value(jb, messages);
	json_builder_end_object(jb);
}

/* @table's keys sorted, each value added by @add under its key */
static void
sorted_object(GHashTable *table,
	      JsonBuilder *jb,
	      void (*add)(gpointer, gpointer, JsonBuilder *),
	      gpointer data)
{
	guint n = 0;
	g_autofree gpointer *keys = g_hash_table_get_keys_as_array(table, &n);

	qsort(keys, n, sizeof(gpointer), compare_keys);
	json_builder_begin_object(jb);
	for (guint i = 0; i < n; i++) {
		json_builder_set_member_name(jb, keys[i]);
		add(keys[i], data, jb);
	}
	json_builder_end_object(jb);
}

typedef struct {
	ExmDpBreaker *b;
	GHashTable *counts;
} Report;

static void
add_held(gpointer key, gpointer data, JsonBuilder *jb)
{
	Report *r = data;

	held_json(g_hash_table_lookup(r->b->accounts, key),
		  GPOINTER_TO_UINT(g_hash_table_lookup(r->counts, key)),
		  jb);
}

static void
add_done(gpointer key, gpointer data, JsonBuilder *jb)
{
	json_builder_add_string_value(jb, g_hash_table_lookup(data, key));
}

JsonNode *
exm_dp_breaker_to_json(ExmDpBreaker *breaker, ExmDpLogStats *log)
{
	g_autoptr(GHashTable) held = exm_dp_breaker_get_held(breaker);
	g_autoptr(GHashTable) counts = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(JsonBuilder) jb = NULL;
	Report r = { breaker, counts };
	GHashTableIter it;
	gpointer key;

	if (g_hash_table_size(held) == 0 && g_hash_table_size(breaker->done) == 0)
		return NULL;
	g_hash_table_iter_init(&it, held);
	while (g_hash_table_iter_next(&it, &key, NULL))
		g_hash_table_insert(counts, key, GUINT_TO_POINTER(0));
	if (log != NULL && g_hash_table_size(held) > 0)
		exm_dp_logstats_foreach_message(log, count_in_flight, counts);
	jb = json_builder_new();
	json_builder_begin_object(jb);
	json_builder_set_member_name(jb, "accounts");
	sorted_object(held, jb, add_held, &r);
	json_builder_set_member_name(jb, "done");
	sorted_object(breaker->done, jb, add_done, breaker->done);
	json_builder_end_object(jb);
	return json_builder_get_root(jb);
}

/* --- the saved state ------------------------------------------------------- */

static JsonNode *
account_state(const Account *a)
{
	g_autoptr(JsonBuilder) jb = json_builder_new();

	json_builder_begin_object(jb);
	json_builder_set_member_name(jb, "day");
	json_builder_add_int_value(jb, a->day);
	json_builder_set_member_name(jb, "counts");
	json_builder_begin_array(jb);
	json_builder_add_int_value(jb, (gint64)MIN(a->new_rcpt, (guint64)G_MAXINT64));
	json_builder_add_int_value(jb, (gint64)MIN(a->finished, (guint64)G_MAXINT64));
	json_builder_add_int_value(jb, (gint64)MIN(a->bounces, (guint64)G_MAXINT64));
	json_builder_end_array(jb);
	if (a->held) {
		json_builder_set_member_name(jb, "held");
		json_builder_begin_array(jb);
		json_builder_add_int_value(jb, a->reason);
		json_builder_add_int_value(jb, a->since);
		for (guint i = 0; i < 3; i++)
			json_builder_add_int_value(jb,
						   (gint64)MIN(a->at_trip[i], (guint64)G_MAXINT64));
		json_builder_end_array(jb);
	}
	json_builder_set_member_name(jb, "seen");
	json_builder_begin_array(jb);
	for (guint i = 0; i < a->len; i++) {
		gchar hex[17];

		g_snprintf(hex,
			   sizeof hex,
			   "%016" G_GINT64_MODIFIER "x",
			   a->ring[(a->head + i) % a->cap]);
		json_builder_add_string_value(jb, hex);
	}
	json_builder_end_array(jb);
	json_builder_end_object(jb);
	return json_builder_get_root(jb);
}

static gchar *
state_text(ExmDpBreaker *b)
{
	g_autoptr(JsonObject) obj = json_object_new();
	g_autoptr(JsonNode) root = json_node_alloc();
	JsonObject *accounts = json_object_new();
	JsonObject *done = json_object_new();
	GHashTableIter it;
	gpointer key;
	gpointer value;

	json_object_set_int_member(obj, "version", EXM_DP_BREAKER_STORE_VERSION);
	g_hash_table_iter_init(&it, b->accounts);
	while (g_hash_table_iter_next(&it, &key, &value))
		json_object_set_member(accounts, key, account_state(value));
	g_hash_table_iter_init(&it, b->done);
	while (g_hash_table_iter_next(&it, &key, &value))
		json_object_set_string_member(done, key, value);
	json_object_set_object_member(obj, "accounts", accounts);
	json_object_set_object_member(obj, "done", done);
	json_node_init_object(root, obj);
	return exm_json_to_string(root);
}

gboolean
exm_dp_breaker_save(ExmDpBreaker *breaker, const gchar *path, gboolean *written, GError **error)
{
	ExmAtomicOptions opts = EXM_ATOMIC_OPTIONS_INIT(0600);
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *text = NULL;

	if (written != NULL)
		*written = FALSE;
	/* a node that never saw an account's mail has nothing to keep */
	if (breaker->generation == breaker->saved_generation &&
	    (breaker->saved || breaker->generation == 0))
		return TRUE;
	text = state_text(breaker);
	if (strlen(text) > EXM_DP_BREAKER_STORE_MAX) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_FAILED, "%s: state too large", path);
		return FALSE;
	}
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error, EXM_ERROR, EXM_ERROR_FAILED, "%s: %s", dir, g_strerror(errno));
		return FALSE;
	}
	if (!exm_atomic_write(path, text, strlen(text), &opts, NULL, error))
		return FALSE;
	breaker->saved = TRUE;
	breaker->saved_generation = breaker->generation;
	if (written != NULL)
		*written = TRUE;
	return TRUE;
}

static gboolean
bad(GError **error, const gchar *what, const gchar *name)
{
	g_set_error(error, EXM_ERROR, EXM_ERROR_VALIDATION, "%s: %s", what, name);
	return FALSE;
}

/* An array of @n non-negative integers into @out. */
static gboolean
load_ints(JsonNode *node, guint n, gint64 *out)
{
	JsonArray *arr =
		node != NULL && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;

	if (arr == NULL || json_array_get_length(arr) != n)
		return FALSE;
	for (guint i = 0; i < n; i++) {
		JsonNode *e = json_array_get_element(arr, i);

		if (!exm_json_node_is_int(e) || json_node_get_int(e) < 0)
			return FALSE;
		out[i] = json_node_get_int(e);
	}
	return TRUE;
}

static gboolean
load_hash(JsonNode *node, guint64 *out)
{
	const gchar *s =
		JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING
			? json_node_get_string(node)
			: NULL;
	gchar *end = NULL;

	if (s == NULL || strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
		return FALSE;
	*out = g_ascii_strtoull(s, &end, 16);
	return end != NULL && *end == '\0';
}

static gboolean
load_seen(ExmDpBreaker *b, Account *a, JsonArray *seen, const gchar *name, GError **error)
{
	if (seen == NULL || json_array_get_length(seen) > EXM_DP_BREAKER_SEEN_PER_ACCOUNT ||
	    b->total_seen + json_array_get_length(seen) > EXM_DP_BREAKER_SEEN_TOTAL)
		return bad(error, "too many or no recipients", name);
	for (guint i = 0; i < json_array_get_length(seen); i++) {
		guint64 h = 0;

		if (!load_hash(json_array_get_element(seen, i), &h))
			return bad(error, "a bad recipient hash", name);
		if (!seen_add(b, a, h))
			return bad(error, "a recipient hash twice", name);
	}
	return TRUE;
}

static gboolean
load_held(Account *a, JsonNode *held, const gchar *name, GError **error)
{
	gint64 v[5];

	if (held == NULL)
		return TRUE;
	if (!load_ints(held, 5, v) || v[0] > EXM_DP_BREAKER_BOUNCES || v[1] <= 0 ||
	    v[1] > EXM_MAIL_EPOCH_MAX)
		return bad(error, "a bad hold", name);
	a->held = TRUE;
	a->reason = (ExmDpBreakerReason)v[0];
	a->since = v[1];
	for (guint i = 0; i < 3; i++)
		a->at_trip[i] = (guint64)v[2 + i];
	return TRUE;
}

static gboolean
load_account(ExmDpBreaker *b, const gchar *name, JsonNode *node, GError **error)
{
	JsonObject *obj = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
	g_autoptr(GError) local = NULL;
	JsonNode *counts = NULL, *held = NULL;
	JsonArray *seen = NULL;
	gint64 day = -1, c[3];
	Account *a;

	if (strchr(name, '@') == NULL || strlen(name) > 320 || !g_utf8_validate(name, -1, NULL) ||
	    obj == NULL || g_hash_table_size(b->accounts) >= EXM_DP_BREAKER_MAX_ACCOUNTS)
		return bad(error, "a bad account", name);
	if (!exm_json_get_int(obj, "day", &day, NULL, error) ||
	    !exm_json_get_node(obj, "counts", &counts, NULL, error) ||
	    !exm_json_get_node(obj, "held", &held, NULL, error) ||
	    !exm_json_get_array(obj, "seen", &seen, NULL, error))
		return FALSE;
	if (day < 0 || day > EXM_MAIL_EPOCH_MAX / 86400 || !load_ints(counts, 3, c))
		return bad(error, "a bad day or counts", name);
	a = account_new();
	g_hash_table_insert(b->accounts, g_strdup(name), a);
	a->day = day;
	a->new_rcpt = (guint64)c[0];
	a->finished = (guint64)c[1];
	a->bounces = (guint64)c[2];
	return load_held(a, held, name, error) && load_seen(b, a, seen, name, error);
}

static gboolean
load_done(ExmDpBreaker *b, JsonObject *done, GError **error)
{
	g_autoptr(GList) names = json_object_get_members(done);

	if (g_list_length(names) > EXM_DP_BREAKER_MAX_ACCOUNTS)
		return bad(error, "done", "too many");
	for (GList *l = names; l != NULL; l = l->next) {
		JsonNode *n = json_object_get_member(done, l->data);
		const gchar *token =
			JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
				? json_node_get_string(n)
				: NULL;

		if (strchr(l->data, '@') == NULL || strlen(l->data) > 320 ||
		    !g_utf8_validate(l->data, -1, NULL) || token == NULL ||
		    !exm_uuid_is_valid(token))
			return bad(error, "a bad done token", l->data);
		g_hash_table_insert(b->done, g_strdup(l->data), g_strdup(token));
	}
	return TRUE;
}

static ExmDpBreaker *
state_parse(const gchar *text, gsize len, GError **error)
{
	g_autoptr(JsonNode) root = exm_json_parse_strict(text, len, error);
	JsonObject *obj =
		root != NULL && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
	g_autoptr(ExmDpBreaker) b = NULL;
	g_autoptr(GList) names = NULL;
	JsonObject *accounts = NULL, *done = NULL;
	gint64 version = 0;

	if (obj == NULL) {
		if (root != NULL)
			bad(error, "breaker state", "not an object");
		return NULL;
	}
	if (!exm_json_get_int(obj, "version", &version, NULL, error) ||
	    !exm_json_get_object(obj, "accounts", &accounts, NULL, error) ||
	    !exm_json_get_object(obj, "done", &done, NULL, error))
		return NULL;
	if (version != EXM_DP_BREAKER_STORE_VERSION || accounts == NULL || done == NULL) {
		bad(error, "breaker state", "not version 1 with accounts and done");
		return NULL;
	}
	/* allocated once the header passed; g_autoptr frees it on a refusal */
	b = exm_dp_breaker_new();
	names = json_object_get_members(accounts);
	for (GList *l = names; l != NULL; l = l->next) {
		if (!load_account(b, l->data, json_object_get_member(accounts, l->data), error))
			// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
			return NULL;
	}
	if (!load_done(b, done, error))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		return NULL;
	return g_steal_pointer(&b);
}

ExmDpBreaker *
exm_dp_breaker_load(const gchar *path, GError **error)
{
	g_autofree gchar *text = NULL;
	ExmDpBreaker *b;
	struct stat st;
	gsize len = 0;

	/* the size first: a huge file costs no memory */
	if (stat(path, &st) == 0 && st.st_size > EXM_DP_BREAKER_STORE_MAX) {
		bad(error, path, "too large");
		return NULL;
	}
	if (!g_file_get_contents(path, &text, &len, error))
		return NULL;
	if (len > EXM_DP_BREAKER_STORE_MAX) {
		bad(error, path, "too large");
		return NULL;
	}
	b = state_parse(text, len, error);
	if (b != NULL) {
		b->saved = TRUE;
		b->saved_generation = b->generation = 0;
	}
	return b;
}
