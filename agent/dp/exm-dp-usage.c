/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-usage.h"

#include <stdio.h>
#include <string.h>

#include "exm-time.h"

#define N_OUT EXM_DP_LOG_N_OUTCOMES

/* the API's names for the log's outcomes */
static const gchar *const usage_names[N_OUT] = {
	[EXM_DP_LOG_RECEIVED] = "accepted", [EXM_DP_LOG_DELIVERED] = "delivered",
	[EXM_DP_LOG_DEFERRED] = "deferred", [EXM_DP_LOG_BOUNCED] = "bounced",
	[EXM_DP_LOG_HELD] = "held",
};

typedef struct {
	gint64 hour[EXM_DP_USAGE_HOURS]; /* the hour (epoch / 3600) a slot holds */
	guint64 n[EXM_DP_USAGE_HOURS][N_OUT];
	gint64 last_login; /* seconds; 0: none seen */
} Account;

typedef struct {
	gint64 time;
	gchar *account;
	gchar *domain;
	ExmDpLogOutcome status;
	gchar *reply;
} Delivery;

struct _ExmDpUsage {
	GHashTable *accounts; /* address → Account */
	GQueue deliveries;    /* Delivery, oldest first */
};

static void
delivery_free(gpointer p)
{
	Delivery *d = p;

	g_free(d->account);
	g_free(d->domain);
	g_free(d->reply);
	g_free(d);
}

ExmDpUsage *
exm_dp_usage_new(void)
{
	ExmDpUsage *usage = g_new0(ExmDpUsage, 1);

	usage->accounts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_queue_init(&usage->deliveries);
	return usage;
}

void
exm_dp_usage_free(ExmDpUsage *usage)
{
	if (usage == NULL)
		return;
	g_hash_table_unref(usage->accounts);
	g_queue_clear_full(&usage->deliveries, delivery_free);
	g_free(usage);
}

/* @n digits of @text as a number, or -1 when one is not a digit. */
static gint
digits(const gchar *text, guint n)
{
	gint v = 0;

	for (guint i = 0; i < n; i++) {
		if (!g_ascii_isdigit(text[i]))
			return -1;
		v = v * 10 + (text[i] - '0');
	}
	return v;
}

/* exim's `YYYY-MM-DD HH:MM:SS` in local time, as seconds; 0 when malformed. */
static gint64
parse_time(const gchar *text)
{
	g_autoptr(GDateTime) dt = NULL;

	if (strlen(text) < 19 || text[4] != '-' || text[7] != '-' || text[10] != ' ' ||
	    text[13] != ':' || text[16] != ':')
		return 0;
	if (digits(text, 4) < 0 || digits(text + 5, 2) < 0 || digits(text + 8, 2) < 0 ||
	    digits(text + 11, 2) < 0 || digits(text + 14, 2) < 0 || digits(text + 17, 2) < 0)
		return 0;
	dt = g_date_time_new_local(digits(text, 4),
				   digits(text + 5, 2),
				   digits(text + 8, 2),
				   digits(text + 11, 2),
				   digits(text + 14, 2),
				   digits(text + 17, 2));
	return dt != NULL ? g_date_time_to_unix(dt) : 0;
}

/* Only real, authenticated accounts: not exim's own bounces, not the cap. */
static Account *
account_of(ExmDpUsage *usage, const gchar *address)
{
	Account *a;

	if (g_str_equal(address, "unknown") || g_str_equal(address, "other") ||
	    strchr(address, '@') == NULL)
		return NULL;
	a = g_hash_table_lookup(usage->accounts, address);
	if (a == NULL && g_hash_table_size(usage->accounts) < EXM_DP_USAGE_MAX_ACCOUNTS) {
		a = g_new0(Account, 1);
		g_hash_table_insert(usage->accounts, g_strdup(address), a);
	}
	return a;
}

/* printable ASCII only, cut to the bound */
static gchar *
clean_text(const gchar *text, gsize len)
{
	gsize n = MIN(len, (gsize)EXM_DP_USAGE_REPLY_MAX);
	gchar *out = g_strndup(text, n);

	for (gchar *p = out; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	}
	return out;
}

/* The recipient's domain: the first word of @rest, `<>` stripped. */
static gchar *
recipient_domain(const gchar *rest)
{
	g_autofree gchar *word = NULL;
	const gchar *at;
	gsize len;

	rest += strspn(rest, " ");
	word = g_strndup(rest, strcspn(rest, " "));
	g_strdelimit(word, "<>", ' ');
	g_strstrip(word);
	at = strrchr(word, '@');
	if (at == NULL || at[1] == '\0')
		return g_strdup("");
	len = strlen(at + 1);
	for (const gchar *p = at + 1; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '.' && *p != '-')
			return g_strdup("");
	}
	return g_ascii_strdown(at + 1, (gssize)MIN(len, 253));
}

/* The remote's reply: `C="…"` of a delivery, else the last `: NNN ` text. */
static gchar *
remote_reply(const gchar *rest)
{
	const gchar *c = strstr(rest, " C=\"");
	const gchar *last = NULL;

	if (c != NULL) {
		const gchar *end;

		c += 4;
		end = strchr(c, '"');
		return clean_text(c, end != NULL ? (gsize)(end - c) : strlen(c));
	}
	for (const gchar *p = strstr(rest, ": "); p != NULL; p = strstr(p + 1, ": ")) {
		if (g_ascii_isdigit(p[2]) && g_ascii_isdigit(p[3]) && g_ascii_isdigit(p[4]) &&
		    (p[5] == ' ' || p[5] == '-' || p[5] == '\0'))
			last = p + 2;
	}
	if (last == NULL) {
		const gchar *colon = strrchr(rest, ':');

		last = colon != NULL ? colon + 1 : "";
		last += strspn(last, " ");
	}
	return clean_text(last, strlen(last));
}

static void
add_delivery(ExmDpUsage *usage, const ExmDpLogEvent *event, gint64 t)
{
	Delivery *d = g_new0(Delivery, 1);

	d->time = t;
	d->account = g_strdup(event->account);
	d->domain = recipient_domain(event->rest);
	d->status = event->outcome;
	d->reply = remote_reply(event->rest);
	g_queue_push_tail(&usage->deliveries, d);
	while (g_queue_get_length(&usage->deliveries) > EXM_DP_USAGE_MAX_DELIVERIES)
		delivery_free(g_queue_pop_head(&usage->deliveries));
}

void
exm_dp_usage_observe(const ExmDpLogEvent *event, gpointer data)
{
	ExmDpUsage *usage = data;
	gint64 t = parse_time(event->time);
	gint64 hour = t / 3600;
	guint slot = (guint)(hour % EXM_DP_USAGE_HOURS);
	Account *a = account_of(usage, event->account);

	if (a == NULL || t <= 0)
		return;
	if (a->hour[slot] != hour) {
		a->hour[slot] = hour;
		memset(a->n[slot], 0, sizeof a->n[slot]);
	}
	a->n[slot][event->outcome]++;
	if (event->outcome == EXM_DP_LOG_RECEIVED && event->authenticated)
		a->last_login = MAX(a->last_login, t);
	if (event->outcome == EXM_DP_LOG_DELIVERED || event->outcome == EXM_DP_LOG_DEFERRED ||
	    event->outcome == EXM_DP_LOG_BOUNCED)
		add_delivery(usage, event, t);
}

static gint
compare_keys(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* %FALSE when the account has nothing to show (then it is left out). */
static gboolean
account_json(const Account *a, gint64 now, JsonBuilder *b)
{
	guint64 sum[N_OUT] = { 0 };
	gboolean any = a->last_login > 0;

	for (guint s = 0; s < EXM_DP_USAGE_HOURS; s++) {
		if (a->hour[s] <= now / 3600 - EXM_DP_USAGE_HOURS || a->hour[s] > now / 3600)
			continue;
		for (guint o = 0; o < N_OUT; o++) {
			sum[o] += a->n[s][o];
			any = any || a->n[s][o] > 0;
		}
	}
	if (!any)
		return FALSE;
	json_builder_begin_object(b);
	for (guint o = 0; o < N_OUT; o++) {
		json_builder_set_member_name(b, usage_names[o]);
		json_builder_add_int_value(b, (gint64)MIN(sum[o], (guint64)G_MAXINT64));
	}
	if (a->last_login > 0) {
		g_autofree gchar *t = exm_time_format(a->last_login * G_USEC_PER_SEC);

		json_builder_set_member_name(b, "last_login");
		json_builder_add_string_value(b, t);
	}
	json_builder_end_object(b);
	return TRUE;
}

static void
accounts_json(ExmDpUsage *usage, gint64 now, JsonBuilder *b)
{
	guint n = 0;
	g_autofree gpointer *keys = g_hash_table_get_keys_as_array(usage->accounts, &n);

	qsort(keys, n, sizeof(gpointer), compare_keys);
	json_builder_begin_object(b);
	for (guint i = 0; i < n; i++) {
		const Account *a = g_hash_table_lookup(usage->accounts, keys[i]);
		g_autoptr(JsonBuilder) one = json_builder_new();
		g_autoptr(JsonNode) node = NULL;

		if (!account_json(a, now, one))
			continue;
		node = json_builder_get_root(one);
		json_builder_set_member_name(b, keys[i]);
		json_builder_add_value(b, g_steal_pointer(&node));
	}
	json_builder_end_object(b);
}

static void
deliveries_json(ExmDpUsage *usage, gint64 now, JsonBuilder *b)
{
	json_builder_begin_array(b);
	for (GList *l = usage->deliveries.head; l != NULL; l = l->next) {
		const Delivery *d = l->data;
		g_autofree gchar *t = NULL;

		if (d->time <= now - EXM_DP_USAGE_HOURS * 3600)
			continue;
		t = exm_time_format(d->time * G_USEC_PER_SEC);
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "time");
		json_builder_add_string_value(b, t);
		json_builder_set_member_name(b, "account");
		json_builder_add_string_value(b, d->account);
		json_builder_set_member_name(b, "domain");
		json_builder_add_string_value(b, d->domain);
		json_builder_set_member_name(b, "status");
		json_builder_add_string_value(b, usage_names[d->status]);
		json_builder_set_member_name(b, "reply");
		json_builder_add_string_value(b, d->reply);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

JsonNode *
exm_dp_usage_to_json(ExmDpUsage *usage, gint64 now)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "accounts");
	accounts_json(usage, now, b);
	json_builder_set_member_name(b, "deliveries");
	deliveries_json(usage, now, b);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}
