/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-dp-usage.h"

#include <stdio.h>
#include <string.h>

#include "exm-error.h"
#include "exm-json.h"
#include "exm-mail-crypt.h"
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
	/* the last login per secret, by fingerprint ("" / 0: a free slot) */
	struct {
		gchar fp[EXM_MAIL_CRYPT_FINGERPRINT_LEN + 1];
		gint64 last;
	} secrets[EXM_DP_USAGE_SECRETS];
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
	guint64 generation;   /* lines counted */
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

/**
 * exm_dp_usage_clean_text:
 * @text: a text from the node (a remote's reply, a header)
 * @len: its length
 *
 * Returns: (transfer full): printable ASCII only (anything else `?`), cut to
 *   %EXM_DP_USAGE_REPLY_MAX characters
 */
gchar *
exm_dp_usage_clean_text(const gchar *text, gsize len)
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
		return exm_dp_usage_clean_text(c, end != NULL ? (gsize)(end - c) : strlen(c));
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
	return exm_dp_usage_clean_text(last, strlen(last));
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

	/* an hour older than the slot's (a clock set back): the slot keeps its own */
	if (a == NULL || t <= 0 || a->hour[slot] > hour)
		return;
	if (a->hour[slot] != hour) {
		a->hour[slot] = hour;
		memset(a->n[slot], 0, sizeof a->n[slot]);
	}
	a->n[slot][event->outcome]++;
	usage->generation++;
	if (event->outcome == EXM_DP_LOG_RECEIVED && event->authenticated)
		a->last_login = MAX(a->last_login, t);
	if (event->outcome == EXM_DP_LOG_DELIVERED || event->outcome == EXM_DP_LOG_DEFERRED ||
	    event->outcome == EXM_DP_LOG_BOUNCED)
		add_delivery(usage, event, t);
}

/* @fp's slot of @a: its own, else a free one, else the oldest. */
static guint
secret_slot(Account *a, const gchar *fp)
{
	guint oldest = 0;

	for (guint i = 0; i < EXM_DP_USAGE_SECRETS; i++) {
		if (g_str_equal(a->secrets[i].fp, fp))
			return i;
	}
	for (guint i = 1; i < EXM_DP_USAGE_SECRETS; i++) {
		if (a->secrets[i].last < a->secrets[oldest].last)
			oldest = i;
	}
	return oldest;
}

static void
note_secret(Account *a, const gchar *fp, gint64 t)
{
	guint i = secret_slot(a, fp);

	if (!g_str_equal(a->secrets[i].fp, fp)) {
		g_strlcpy(a->secrets[i].fp, fp, sizeof a->secrets[i].fp);
		a->secrets[i].last = 0;
	}
	a->secrets[i].last = MAX(a->secrets[i].last, t);
}

void
exm_dp_usage_observe_login(const ExmDpLoginEvent *event, gpointer data)
{
	ExmDpUsage *usage = data;
	gint64 t = parse_time(event->time);
	Account *a = account_of(usage, event->account);

	if (a == NULL || t <= 0 || strlen(event->secret) != EXM_MAIL_CRYPT_FINGERPRINT_LEN)
		return;
	a->last_login = MAX(a->last_login, t);
	note_secret(a, event->secret, t);
	usage->generation++;
}

static gint
compare_keys(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

static gint
compare_fps(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* `secrets: {fingerprint: time}` in fingerprint order (the same text for the
 * same logins), times as text (@text) or seconds (the saved state); nothing
 * when no secret was seen. */
static void
secrets_json(const Account *a, gboolean text, JsonBuilder *b)
{
	const gchar *fps[EXM_DP_USAGE_SECRETS];
	guint n = 0;

	for (guint i = 0; i < EXM_DP_USAGE_SECRETS; i++) {
		if (a->secrets[i].last > 0)
			fps[n++] = a->secrets[i].fp;
	}
	if (n == 0)
		return;
	qsort(fps, n, sizeof fps[0], compare_fps);
	json_builder_set_member_name(b, "secrets");
	json_builder_begin_object(b);
	for (guint k = 0; k < n; k++) {
		for (guint i = 0; i < EXM_DP_USAGE_SECRETS; i++) {
			g_autofree gchar *t = NULL;

			if (a->secrets[i].fp != fps[k])
				continue;
			json_builder_set_member_name(b, fps[k]);
			if (!text) {
				json_builder_add_int_value(b, a->secrets[i].last);
				continue;
			}
			t = exm_time_format(a->secrets[i].last * G_USEC_PER_SEC);
			json_builder_add_string_value(b, t);
		}
	}
	json_builder_end_object(b);
}

/* %FALSE when the account has nothing to show (then it is left out). */
static gboolean
account_json(const Account *a, gint64 now, JsonBuilder *b)
{
	guint64 sum[N_OUT] = { 0 };
	gboolean any = a->last_login > 0 || a->secrets[0].last > 0;

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
	secrets_json(a, TRUE, b);
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

/* One outcome; its time as text (the report) or, when @time is %NULL, as
 * seconds (the saved state). */
static void
delivery_json(const Delivery *d, const gchar *time, JsonBuilder *b)
{
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "time");
	if (time != NULL)
		json_builder_add_string_value(b, time);
	else
		json_builder_add_int_value(b, d->time);
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
		delivery_json(d, t, b);
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

guint64
exm_dp_usage_get_generation(ExmDpUsage *usage)
{
	return usage->generation;
}

gboolean
exm_dp_usage_has_account(ExmDpUsage *usage, const gchar *address)
{
	return g_hash_table_contains(usage->accounts, address);
}

/* --- the saved state (exm-dp-usage-store.h) -------------------------------- */

static JsonNode *
account_state(const Account *a)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "last_login");
	json_builder_add_int_value(b, a->last_login);
	secrets_json(a, FALSE, b);
	json_builder_set_member_name(b, "hours");
	json_builder_begin_array(b);
	for (guint s = 0; s < EXM_DP_USAGE_HOURS; s++) {
		if (a->hour[s] == 0)
			continue;
		json_builder_begin_array(b);
		json_builder_add_int_value(b, a->hour[s]);
		for (guint o = 0; o < N_OUT; o++)
			json_builder_add_int_value(b, (gint64)MIN(a->n[s][o], (guint64)G_MAXINT64));
		json_builder_end_array(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

static void
deliveries_state(ExmDpUsage *usage, JsonBuilder *b)
{
	json_builder_begin_array(b);
	for (GList *l = usage->deliveries.head; l != NULL; l = l->next) {
		delivery_json(l->data, NULL, b);
	}
	json_builder_end_array(b);
}

JsonNode *
exm_dp_usage_save_json(ExmDpUsage *usage)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	GHashTableIter it;
	gpointer key;
	gpointer value;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "accounts");
	json_builder_begin_object(b);
	g_hash_table_iter_init(&it, usage->accounts);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		json_builder_set_member_name(b, key);
		json_builder_add_value(b, account_state(value));
	}
	json_builder_end_object(b);
	json_builder_set_member_name(b, "deliveries");
	deliveries_state(usage, b);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

static gboolean
bad(GError **error, const gchar *what, const gchar *name)
{
	g_set_error(error, EXM_ERROR, EXM_ERROR_VALIDATION, "%s: %s", what, name);
	return FALSE;
}

static gboolean
is_count(JsonNode *n, gint64 min, gint64 max)
{
	return exm_json_node_is_int(n) && json_node_get_int(n) >= min &&
	       json_node_get_int(n) <= max;
}

/* One `[hour, accepted, delivered, deferred, bounced, held]`; hours outside
 * the window of @now are dropped, as the window would. */
static gboolean
load_hour(Account *a, JsonNode *node, gint64 now, const gchar *name, GError **error)
{
	JsonArray *h = JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
	gint64 hour;
	guint slot;

	if (h == NULL || json_array_get_length(h) != 1 + N_OUT)
		return bad(error, "an hour is not [hour, 5 counts]", name);
	for (guint i = 0; i < 1 + N_OUT; i++) {
		if (!is_count(json_array_get_element(h, i), i == 0 ? 1 : 0, G_MAXINT64))
			return bad(error, "an hour holds a bad number", name);
	}
	hour = json_array_get_int_element(h, 0);
	if (hour <= now / 3600 - EXM_DP_USAGE_HOURS || hour > now / 3600)
		return TRUE;
	slot = (guint)(hour % EXM_DP_USAGE_HOURS);
	if (a->hour[slot] != 0)
		return bad(error, "an hour twice", name);
	a->hour[slot] = hour;
	for (guint o = 0; o < N_OUT; o++)
		a->n[slot][o] = (guint64)json_array_get_int_element(h, 1 + o);
	return TRUE;
}

/* `secrets`: absent, or at most EXM_DP_USAGE_SECRETS fingerprints, each with
 * a positive time. */
static gboolean
load_secrets(Account *a, JsonNode *node, const gchar *name, GError **error)
{
	JsonObjectIter it;
	const gchar *fp;
	JsonNode *t;
	guint n = 0;

	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(node) ||
	    json_object_get_size(json_node_get_object(node)) > EXM_DP_USAGE_SECRETS)
		return bad(error, "a bad secrets member", name);
	json_object_iter_init(&it, json_node_get_object(node));
	while (json_object_iter_next(&it, &fp, &t)) {
		if (strlen(fp) != EXM_MAIL_CRYPT_FINGERPRINT_LEN ||
		    strspn(fp, "0123456789abcdef") != EXM_MAIL_CRYPT_FINGERPRINT_LEN ||
		    !is_count(t, 1, G_MAXINT64))
			return bad(error, "a bad secret", name);
		g_strlcpy(a->secrets[n].fp, fp, sizeof a->secrets[n].fp);
		a->secrets[n++].last = json_node_get_int(t);
	}
	return TRUE;
}

static gboolean
load_account(ExmDpUsage *usage, const gchar *name, JsonNode *node, gint64 now, GError **error)
{
	JsonObject *obj = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
	g_autofree Account *a = NULL;
	JsonArray *hours = NULL;
	gint64 login = 0;

	if (strchr(name, '@') == NULL || strlen(name) > 320 || !g_utf8_validate(name, -1, NULL) ||
	    obj == NULL || g_hash_table_size(usage->accounts) >= EXM_DP_USAGE_MAX_ACCOUNTS)
		return bad(error, "a bad account", name);
	if (!exm_json_get_int(obj, "last_login", &login, NULL, error) ||
	    !exm_json_get_array(obj, "hours", &hours, NULL, error))
		return FALSE;
	if (login < 0 || hours == NULL || json_array_get_length(hours) > EXM_DP_USAGE_HOURS)
		return bad(error, "a bad last login or hours", name);
	/* allocated once the account's own checks passed; g_autofree frees it
	 * when an hour is refused */
	a = g_new0(Account, 1);
	a->last_login = login;
	if (!load_secrets(a, json_object_get_member(obj, "secrets"), name, error))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autofree frees it
		return FALSE;
	for (guint i = 0; i < json_array_get_length(hours); i++) {
		if (!load_hour(a, json_array_get_element(hours, i), now, name, error)) {
			// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autofree frees it
			return FALSE;
		}
	}
	g_hash_table_insert(usage->accounts, g_strdup(name), g_steal_pointer(&a));
	return TRUE;
}

static gint
status_of(const gchar *name)
{
	for (guint o = EXM_DP_LOG_DELIVERED; o <= EXM_DP_LOG_BOUNCED; o++) {
		if (g_strcmp0(name, usage_names[o]) == 0)
			return (gint)o;
	}
	return -1;
}

/* One outcome; its texts pass the cleaning the log's went through. */
static gboolean
load_delivery(ExmDpUsage *usage, JsonNode *node, GError **error)
{
	JsonObject *obj = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
	const gchar *account = NULL, *domain = NULL, *status = NULL, *reply = NULL;
	g_autofree gchar *at_domain = NULL;
	gint64 time = 0;
	Delivery *d;

	if (obj == NULL)
		return bad(error, "a delivery", "not an object");
	if (!exm_json_get_int(obj, "time", &time, NULL, error) ||
	    !exm_json_get_string(obj, "account", FALSE, &account, NULL, error) ||
	    !exm_json_get_string(obj, "domain", FALSE, &domain, NULL, error) ||
	    !exm_json_get_string(obj, "status", FALSE, &status, NULL, error) ||
	    !exm_json_get_string(obj, "reply", FALSE, &reply, NULL, error))
		return FALSE;
	if (time <= 0 || account == NULL || domain == NULL || reply == NULL ||
	    status_of(status) < 0 || g_hash_table_lookup(usage->accounts, account) == NULL)
		return bad(error, "a delivery", "bad time, account or status");
	at_domain = g_strconcat("@", domain, NULL);
	d = g_new0(Delivery, 1);
	d->time = time;
	d->account = g_strdup(account);
	d->domain = recipient_domain(at_domain);
	d->status = (ExmDpLogOutcome)status_of(status);
	d->reply = exm_dp_usage_clean_text(reply, strlen(reply));
	g_queue_push_tail(&usage->deliveries, d);
	return TRUE;
}

static gboolean
load_deliveries(ExmDpUsage *usage, JsonArray *list, GError **error)
{
	if (list == NULL || json_array_get_length(list) > EXM_DP_USAGE_MAX_DELIVERIES)
		return bad(error, "deliveries", "missing or too many");
	for (guint i = 0; i < json_array_get_length(list); i++) {
		if (!load_delivery(usage, json_array_get_element(list, i), error))
			return FALSE;
	}
	return TRUE;
}

ExmDpUsage *
exm_dp_usage_load_json(JsonNode *node, gint64 now, GError **error)
{
	g_autoptr(ExmDpUsage) usage = exm_dp_usage_new();
	JsonObject *obj = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
	JsonObject *accounts = NULL;
	JsonArray *list = NULL;
	g_autoptr(GList) names = NULL;

	if (obj == NULL) {
		bad(error, "usage", "not an object");
		return NULL;
	}
	if (!exm_json_get_object(obj, "accounts", &accounts, NULL, error) ||
	    !exm_json_get_array(obj, "deliveries", &list, NULL, error))
		return NULL;
	if (accounts == NULL) {
		bad(error, "usage", "no accounts");
		return NULL;
	}
	names = json_object_get_members(accounts);
	for (GList *l = names; l != NULL; l = l->next) {
		if (!load_account(
			    usage, l->data, json_object_get_member(accounts, l->data), now, error))
			return NULL;
	}
	if (!load_deliveries(usage, list, error))
		return NULL;
	return g_steal_pointer(&usage);
}
