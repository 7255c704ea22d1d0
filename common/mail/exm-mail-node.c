/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `mail_instance_node` value the agent receives: strict in what it
 * accepts, exact in what it writes.
 */
#include "exm-mail-node.h"

#include <string.h>

#include "exm-mail-cert.h"
#include "exm-mail-crypt.h"
#include "exm-mail-error.h"
#include "exm-mail-validate.h"
#include "exm-json.h"
#include "exm-secret.h"
#include "exm-uuid.h"

static void
node_account_free(ExmMailNodeAccount *a)
{
	g_free(a->previous_hash);
	g_free(a->breaker_token);
	g_strfreev(a->senders);
	g_free(a);
}

static gboolean account_set_policy(const ExmMailNode *node,
				   ExmMailNodeAccount *a,
				   gint64 messages_per_hour,
				   gint64 recipients_per_day,
				   const gchar *const *senders,
				   GError **error);
static gboolean account_set_secrets(ExmMailNodeAccount *a,
				    const gchar *previous_hash,
				    gint64 previous_until,
				    gint64 expires_at,
				    GError **error);
static gboolean account_set_breaker(ExmMailNodeAccount *a,
				    ExmMailBreakerOp op,
				    const gchar *token,
				    GError **error);

/**
 * exm_mail_node_new:
 * Returns: (transfer full): an empty value
 */
ExmMailNode *
exm_mail_node_new(void)
{
	ExmMailNode *n = g_new0(ExmMailNode, 1);

	n->accounts = g_ptr_array_new_with_free_func((GDestroyNotify)node_account_free);
	return n;
}

/**
 * exm_mail_node_free:
 * @node: (nullable): a value
 *
 * Frees @node and its accounts.
 */
void
exm_mail_node_free(ExmMailNode *node)
{
	if (node == NULL)
		return;
	g_free(node->uuid);
	g_free(node->name);
	g_free(node->domain);
	g_clear_pointer(&node->accounts, g_ptr_array_unref);
	g_free(node->acme_directory_url);
	g_free(node->acme_contact);
	g_free(node->tls_custom_chain);
	exm_secret_free(node->tls_custom_key);
	g_free(node);
}

/* Index where @username belongs in the sorted array; *@found when it is there. */
static guint
node_account_position(const ExmMailNode *node, const gchar *username, gboolean *found)
{
	guint lo = 0, hi = node->accounts->len;

	*found = FALSE;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		const ExmMailNodeAccount *a = g_ptr_array_index(node->accounts, mid);
		gint cmp = strcmp(a->username, username);

		if (cmp == 0) {
			*found = TRUE;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Adds the account @user (normalised; taken when added) of hash
 * @password_hash. */
static ExmMailNodeAccount *
account_add(ExmMailNode *node,
	    gchar **user,
	    const gchar *password_hash,
	    gboolean active,
	    GError **error)
{
	guint pos = node->accounts->len;
	const ExmMailNodeAccount *last =
		pos > 0 ? g_ptr_array_index(node->accounts, pos - 1) : NULL;
	ExmMailNodeAccount *a;
	gboolean found = FALSE;

	if (!exm_mail_validate_hash_cost(password_hash, error)) {
		g_prefix_error(error, "accounts.%s.", *user);
		return NULL;
	}
	/* a value's accounts come in order: each is appended without a search */
	if (last != NULL && strcmp(last->username, *user) >= 0)
		pos = node_account_position(node, *user, &found);
	if (found) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "accounts: username '%s' appears twice (usernames ignore case)",
			    *user);
		return NULL;
	}
	a = exm_mail_node_account_new(*user, password_hash, active);
	g_clear_pointer(user, g_free);
	g_ptr_array_insert(node->accounts, (gint)pos, a);
	return a;
}

ExmMailNodeAccount *
exm_mail_node_account_new(const gchar *username, const gchar *password_hash, gboolean active)
{
	gsize ulen = strlen(username) + 1;
	gsize hlen = strlen(password_hash) + 1;
	ExmMailNodeAccount *a = g_malloc0(sizeof(*a) + ulen + hlen);
	gchar *text = (gchar *)(a + 1);

	a->username = memcpy(text, username, ulen);
	a->password_hash = memcpy(text + ulen, password_hash, hlen);
	a->active = active;
	return a;
}

/**
 * exm_mail_node_add_account:
 * @node: the value
 * @username: a username (folded to lower case)
 * @password_hash: a valid hash, `{SCHEME}` prefix kept
 * @active: whether the account may log in
 * @error: %EXM_MAIL_ERROR_INVALID for an invalid username or hash, or a duplicate
 *
 * Everything that reaches passwd passes through here, so both values are
 * validated: neither can carry a line break or a `:`, and the hash's work factor
 * is within the ceilings of exm_mail_validate_hash_cost(), so no login can make
 * exim spend minutes on it.
 *
 * Returns: %TRUE when added
 */
gboolean
exm_mail_node_add_account(ExmMailNode *node,
			  const gchar *username,
			  const gchar *password_hash,
			  gboolean active,
			  GError **error)
{
	g_autofree gchar *user = NULL;

	g_return_val_if_fail(node != NULL, FALSE);
	user = exm_mail_validate_normalize_username(username, error);
	if (user == NULL)
		return FALSE;
	return account_add(node, &user, password_hash, active, error) != NULL;
}

/* The account @username of @node, or %NULL with an error naming it. */
static ExmMailNodeAccount *
node_account(ExmMailNode *node, const gchar *username, GError **error)
{
	gboolean found;
	guint pos = node_account_position(node, username, &found);

	if (!found) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "accounts: no account '%s'",
			    username);
		return NULL;
	}
	return g_ptr_array_index(node->accounts, pos);
}

static gboolean
check_optional_limit(const gchar *path, gint64 value, gint64 min, gint64 max, GError **error)
{
	return value == 0 || exm_mail_validate_limit(path, value, min, max, error);
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* The normalised, sorted, de-duplicated patterns, or %NULL with @error. */
static GStrv
normalize_senders(const gchar *domain, const gchar *const *senders, GError **error)
{
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
	guint n = g_strv_length((gchar **)senders);

	if (n > EXM_MAIL_SENDERS_MAX) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "senders: at most %d patterns are allowed, got %u",
			    EXM_MAIL_SENDERS_MAX,
			    n);
		return NULL;
	}
	for (guint i = 0; i < n; i++) {
		gchar *norm = exm_mail_validate_normalize_sender(senders[i], domain, error);

		if (norm == NULL)
			return NULL;
		if (g_ptr_array_find_with_equal_func(out, norm, g_str_equal, NULL))
			g_free(norm);
		else
			g_ptr_array_add(out, norm);
	}
	g_ptr_array_sort(out, compare_strings);
	g_ptr_array_add(out, NULL);
	return (GStrv)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

/**
 * exm_mail_node_set_account_policy:
 * @node: the value
 * @username: an account of @node
 * @messages_per_hour: 0 or a bounded limit
 * @recipients_per_day: 0 or a bounded limit
 * @senders: (nullable): allowed sender patterns
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * See exm-mail-node.h.
 *
 * Returns: %TRUE when set
 */
gboolean
exm_mail_node_set_account_policy(ExmMailNode *node,
				 const gchar *username,
				 gint64 messages_per_hour,
				 gint64 recipients_per_day,
				 const gchar *const *senders,
				 GError **error)
{
	ExmMailNodeAccount *a;

	g_return_val_if_fail(node != NULL && username != NULL, FALSE);
	a = node_account(node, username, error);
	return a != NULL &&
	       account_set_policy(node, a, messages_per_hour, recipients_per_day, senders, error);
}

static gboolean
account_set_policy(const ExmMailNode *node,
		   ExmMailNodeAccount *a,
		   gint64 messages_per_hour,
		   gint64 recipients_per_day,
		   const gchar *const *senders,
		   GError **error)
{
	g_auto(GStrv) norm = NULL;

	if (!check_optional_limit("messages_per_hour",
				  messages_per_hour,
				  1,
				  EXM_MAIL_MESSAGES_PER_HOUR_MAX,
				  error) ||
	    !check_optional_limit("recipients_per_day",
				  recipients_per_day,
				  1,
				  EXM_MAIL_RECIPIENTS_PER_DAY_MAX,
				  error) ||
	    (senders != NULL && senders[0] != NULL &&
	     (norm = normalize_senders(node->domain, senders, error)) == NULL)) {
		g_prefix_error(error, "accounts.%s.", a->username);
		return FALSE;
	}
	a->messages_per_hour = messages_per_hour;
	a->recipients_per_day = recipients_per_day;
	g_strfreev(a->senders);
	a->senders = g_steal_pointer(&norm);
	return TRUE;
}

static gboolean
check_epoch(const gchar *field, gint64 value, GError **error)
{
	return value == 0 || exm_mail_validate_limit(field, value, 1, EXM_MAIL_EPOCH_MAX, error);
}

/* Both or neither of the previous secret and its deadline. */
static gboolean
check_previous(const gchar *hash, gint64 until, GError **error)
{
	if ((hash == NULL) != (until == 0)) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "previous_password_hash, previous_until: set both or neither");
		return FALSE;
	}
	if (hash != NULL && !exm_mail_validate_hash_cost(hash, error)) {
		g_prefix_error(error, "previous_");
		return FALSE;
	}
	return check_epoch("previous_until", until, error);
}

/**
 * exm_mail_node_set_account_secrets:
 * @node: the value
 * @username: an account of @node
 * @previous_hash: (nullable): the replaced secret
 * @previous_until: its deadline, 0 without one
 * @expires_at: 0 or the account's end
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * See exm-mail-node.h.
 *
 * Returns: %TRUE when set
 */
gboolean
exm_mail_node_set_account_secrets(ExmMailNode *node,
				  const gchar *username,
				  const gchar *previous_hash,
				  gint64 previous_until,
				  gint64 expires_at,
				  GError **error)
{
	ExmMailNodeAccount *a;

	g_return_val_if_fail(node != NULL && username != NULL, FALSE);
	a = node_account(node, username, error);
	return a != NULL &&
	       account_set_secrets(a, previous_hash, previous_until, expires_at, error);
}

static gboolean
account_set_secrets(ExmMailNodeAccount *a,
		    const gchar *previous_hash,
		    gint64 previous_until,
		    gint64 expires_at,
		    GError **error)
{
	if (!check_previous(previous_hash, previous_until, error) ||
	    !check_epoch("expires_at", expires_at, error)) {
		g_prefix_error(error, "accounts.%s.", a->username);
		return FALSE;
	}
	g_free(a->previous_hash);
	a->previous_hash = g_strdup(previous_hash);
	a->previous_until = previous_until;
	a->expires_at = expires_at;
	return TRUE;
}

/**
 * exm_mail_node_breaker_op_to_string:
 * @op: an op
 *
 * Returns: (nullable): its JSON name, %NULL for %EXM_MAIL_BREAKER_NONE
 */
const gchar *
exm_mail_node_breaker_op_to_string(ExmMailBreakerOp op)
{
	switch (op) {
	case EXM_MAIL_BREAKER_RELEASE:
		return "release";
	case EXM_MAIL_BREAKER_DISCARD:
		return "discard";
	case EXM_MAIL_BREAKER_NONE:
	default:
		return NULL;
	}
}

/**
 * exm_mail_node_set_account_breaker:
 * @node: the value
 * @username: an account of @node
 * @op: the pending action
 * @token: (nullable): its UUID
 * @error: %EXM_MAIL_ERROR_INVALID
 *
 * See exm-mail-node.h.
 *
 * Returns: %TRUE when set
 */
gboolean
exm_mail_node_set_account_breaker(ExmMailNode *node,
				  const gchar *username,
				  ExmMailBreakerOp op,
				  const gchar *token,
				  GError **error)
{
	ExmMailNodeAccount *a;

	g_return_val_if_fail(node != NULL && username != NULL, FALSE);
	a = node_account(node, username, error);
	return a != NULL && account_set_breaker(a, op, token, error);
}

static gboolean
account_set_breaker(ExmMailNodeAccount *a, ExmMailBreakerOp op, const gchar *token, GError **error)
{
	g_autofree gchar *uuid = NULL;

	if (op != EXM_MAIL_BREAKER_NONE && token != NULL)
		uuid = exm_uuid_parse(token, NULL);
	if ((op != EXM_MAIL_BREAKER_NONE && uuid == NULL) ||
	    (op == EXM_MAIL_BREAKER_NONE && token != NULL) || op > EXM_MAIL_BREAKER_DISCARD) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "accounts.%s.breaker_action: must be null or {op: release|discard, "
			    "token: a UUID}",
			    a->username);
		return FALSE;
	}
	a->breaker_op = op;
	g_free(a->breaker_token);
	a->breaker_token = g_steal_pointer(&uuid);
	return TRUE;
}

/**
 * exm_mail_node_set_account_sandbox:
 * @node: the value
 * @username: an account of @node
 * @sandbox: capture its mail instead of delivering it
 * @error: %EXM_MAIL_ERROR_INVALID for an unknown account
 *
 * Returns: %TRUE when set
 */
gboolean
exm_mail_node_set_account_sandbox(ExmMailNode *node,
				  const gchar *username,
				  gboolean sandbox,
				  GError **error)
{
	ExmMailNodeAccount *a;

	g_return_val_if_fail(node != NULL && username != NULL, FALSE);
	a = node_account(node, username, error);
	if (a == NULL)
		return FALSE;
	a->sandbox = sandbox;
	return TRUE;
}

/**
 * exm_mail_node_set_limits:
 * @node: the value
 * @limits: the settings, 0 for a default
 * @error: %EXM_MAIL_ERROR_INVALID naming `limits.<field>`
 *
 * Returns: %TRUE when valid and set
 */
gboolean
exm_mail_node_set_limits(ExmMailNode *node, const ExmMailLimits *limits, GError **error)
{
	const gint64 hour = EXM_MAIL_MESSAGES_PER_HOUR_MAX, day = EXM_MAIL_RECIPIENTS_PER_DAY_MAX;

	if (!check_optional_limit("messages_per_hour", limits->messages_per_hour, 1, hour, error) ||
	    !check_optional_limit(
		    "recipients_per_day", limits->recipients_per_day, 1, day, error) ||
	    !check_optional_limit("messages_per_hour_ceiling",
				  limits->messages_per_hour_ceiling,
				  1,
				  day,
				  error) ||
	    !check_optional_limit("auth_fail_limit",
				  limits->auth_fail_limit,
				  1,
				  EXM_MAIL_AUTH_FAIL_LIMIT_MAX,
				  error) ||
	    !check_optional_limit("auth_fail_window",
				  limits->auth_fail_window,
				  EXM_MAIL_AUTH_FAIL_WINDOW_MIN,
				  EXM_MAIL_AUTH_FAIL_WINDOW_MAX,
				  error) ||
	    !check_optional_limit("breaker_new_recipients_per_day",
				  limits->breaker_new_recipients_per_day,
				  1,
				  EXM_MAIL_BREAKER_NEW_RECIPIENTS_MAX,
				  error) ||
	    !check_optional_limit(
		    "breaker_bounce_percent", limits->breaker_bounce_percent, 1, 100, error) ||
	    !check_optional_limit("breaker_bounce_min",
				  limits->breaker_bounce_min,
				  1,
				  EXM_MAIL_BREAKER_BOUNCE_MIN_MAX,
				  error)) {
		g_prefix_error(error, "limits.");
		return FALSE;
	}
	node->limits = *limits;
	return TRUE;
}

/* A string member @m (%NULL: absent), or %NULL with an error naming @path. */
static const gchar *
value_string(JsonNode *m, const gchar *path, GError **error)
{
	if (m == NULL) {
		g_set_error(error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "%s: is required", path);
		return NULL;
	}
	if (!JSON_NODE_HOLDS_VALUE(m) || json_node_get_value_type(m) != G_TYPE_STRING) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "%s: must be a string",
			    path);
		return NULL;
	}
	return json_node_get_string(m);
}

static const gchar *
member_string(JsonObject *obj, const gchar *name, const gchar *path, GError **error)
{
	return value_string(json_object_get_member(obj, name), path, error);
}

/* The boolean member @m (%NULL: absent) named @name of an account: absent
 * means @absent. */
static gboolean
value_bool(JsonNode *m,
	   const gchar *user,
	   const gchar *name,
	   gboolean absent,
	   gboolean *out,
	   GError **error)
{
	*out = absent;
	if (m == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(m) || json_node_get_value_type(m) != G_TYPE_BOOLEAN) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "accounts.%s.%s: must be true or false",
			    user,
			    name);
		return FALSE;
	}
	*out = json_node_get_boolean(m);
	return TRUE;
}

/* The error's path of member @name: of the account @user, or of `limits`
 * (@user %NULL); made only for an error, not for every account. */
static gchar *
member_path(const gchar *user, const gchar *name)
{
	return user != NULL ? g_strdup_printf("accounts.%s.%s", user, name)
			    : g_strdup_printf("limits.%s", name);
}

/* The optional integer member @m (%NULL: absent) named @name of the
 * account @user (or of `limits`, @user %NULL): absent or null is 0 (the
 * default). */
static gboolean
value_limit(JsonNode *m, const gchar *user, const gchar *name, gint64 *out, GError **error)
{
	*out = 0;
	if (m == NULL || JSON_NODE_HOLDS_NULL(m))
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(m) || json_node_get_value_type(m) != G_TYPE_INT64 ||
	    json_node_get_int(m) == 0) {
		g_autofree gchar *path = member_path(user, name);

		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "%s: must be a positive integer or null",
			    path);
		return FALSE;
	}
	*out = json_node_get_int(m);
	return TRUE;
}

static gboolean
member_limit(JsonObject *obj, const gchar *user, const gchar *name, gint64 *out, GError **error)
{
	return value_limit(json_object_get_member(obj, name), user, name, out, error);
}

/* `senders` (@m, %NULL: absent): absent or null is %NULL, else an array of
 * strings. */
static gboolean
value_senders(JsonNode *m, const gchar *user, GStrv *out, GError **error)
{
	g_autoptr(GStrvBuilder) b = NULL;
	JsonArray *arr;

	*out = NULL;
	if (m == NULL || JSON_NODE_HOLDS_NULL(m))
		return TRUE;
	b = g_strv_builder_new();
	arr = JSON_NODE_HOLDS_ARRAY(m) ? json_node_get_array(m) : NULL;
	for (guint i = 0; arr != NULL && i < json_array_get_length(arr); i++) {
		JsonNode *e = json_array_get_element(arr, i);

		if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING)
			arr = NULL;
		else
			g_strv_builder_add(b, json_node_get_string(e));
	}
	if (arr == NULL) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "accounts.%s.senders: must be an array of strings or null",
			    user);
		return FALSE;
	}
	*out = g_strv_builder_end(b);
	return TRUE;
}

/* The members of an account the node reads (%NULL: absent). */
typedef struct {
	JsonNode *password_hash;
	JsonNode *active;
	JsonNode *sandbox;
	JsonNode *messages_per_hour;
	JsonNode *recipients_per_day;
	JsonNode *senders;
	JsonNode *previous_password_hash;
	JsonNode *previous_until;
	JsonNode *expires_at;
	JsonNode *breaker_action;
} AccountMembers;

/* The members the node reads, by name. */
static const struct {
	const gchar *name;
	gsize offset;
} account_member_names[] = {
#define AM(name)                                                                                   \
	{                                                                                          \
#name, G_STRUCT_OFFSET(AccountMembers, name)                                       \
	}
	AM(password_hash),
	AM(active),
	AM(sandbox),
	AM(messages_per_hour),
	AM(recipients_per_day),
	AM(senders),
	AM(previous_password_hash),
	AM(previous_until),
	AM(expires_at),
	AM(breaker_action),
#undef AM
};

/* Where the member @name[@len] goes in an AccountMembers, or -1 when the
 * node does not read it. */
static gssize
account_member_offset(const gchar *name, gsize len)
{
	for (gsize i = 0; i < G_N_ELEMENTS(account_member_names); i++) {
		const gchar *want = account_member_names[i].name;

		if (strlen(want) == len && memcmp(name, want, len) == 0)
			return (gssize)account_member_names[i].offset;
	}
	return -1;
}

/* Finds them in one pass over the account's members (usually two) instead of
 * ten lookups by name, most of them for an absent member, per account; the
 * others are ignored, as before. */
static void
account_members(JsonObject *acc, AccountMembers *m)
{
	JsonObjectIter it;
	const gchar *name;
	JsonNode *value;

	memset(m, 0, sizeof *m);
	json_object_iter_init(&it, acc);
	while (json_object_iter_next(&it, &name, &value)) {
		gssize at = account_member_offset(name, strlen(name));

		if (at >= 0)
			G_STRUCT_MEMBER(JsonNode *, m, at) = value;
	}
}

static gboolean
node_account_policy_from_json(ExmMailNode *n,
			      ExmMailNodeAccount *a,
			      const AccountMembers *m,
			      GError **error)
{
	g_auto(GStrv) senders = NULL;
	gint64 mph, rpd;

	if (!value_limit(m->messages_per_hour, a->username, "messages_per_hour", &mph, error) ||
	    !value_limit(m->recipients_per_day, a->username, "recipients_per_day", &rpd, error) ||
	    !value_senders(m->senders, a->username, &senders, error))
		return FALSE;
	return account_set_policy(n, a, mph, rpd, (const gchar *const *)senders, error);
}

/* The optional string member @m (%NULL: absent) named @name of the account
 * @user (%NULL: the error names @name alone): absent or null is %NULL. */
static gboolean
value_optional_string(JsonNode *m,
		      const gchar *user,
		      const gchar *name,
		      const gchar **out,
		      GError **error)
{
	*out = NULL;
	if (m == NULL || JSON_NODE_HOLDS_NULL(m))
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(m) || json_node_get_value_type(m) != G_TYPE_STRING) {
		g_set_error(error,
			    EXM_MAIL_ERROR,
			    EXM_MAIL_ERROR_INVALID,
			    "%s%s%s%s: must be a string or null",
			    user != NULL ? "accounts." : "",
			    user != NULL ? user : "",
			    user != NULL ? "." : "",
			    name);
		return FALSE;
	}
	*out = json_node_get_string(m);
	return TRUE;
}

static gboolean
member_optional_string(JsonObject *obj, const gchar *name, const gchar **out)
{
	return value_optional_string(json_object_get_member(obj, name), NULL, name, out, NULL);
}

static gboolean
node_account_secrets_from_json(ExmMailNodeAccount *a, const AccountMembers *m, GError **error)
{
	const gchar *previous;
	gint64 until, expires;

	if (!value_optional_string(m->previous_password_hash,
				   a->username,
				   "previous_password_hash",
				   &previous,
				   error) ||
	    !value_limit(m->previous_until, a->username, "previous_until", &until, error) ||
	    !value_limit(m->expires_at, a->username, "expires_at", &expires, error))
		return FALSE;
	return account_set_secrets(a, previous, until, expires, error);
}

/* `breaker_action` (@m, %NULL: absent): absent or null is none, else
 * `{op, token}` and nothing more. */
static gboolean
node_account_breaker_from_json(ExmMailNodeAccount *a, JsonNode *m, GError **error)
{
	JsonObject *o = m != NULL && JSON_NODE_HOLDS_OBJECT(m) ? json_node_get_object(m) : NULL;
	const gchar *op = NULL, *token = NULL;
	ExmMailBreakerOp value = 99; /* refused below unless op names one */

	if (m == NULL || JSON_NODE_HOLDS_NULL(m))
		return TRUE;
	if (o != NULL && json_object_get_size(o) == 2 && member_optional_string(o, "op", &op) &&
	    member_optional_string(o, "token", &token)) {
		if (g_strcmp0(op, "release") == 0)
			value = EXM_MAIL_BREAKER_RELEASE;
		else if (g_strcmp0(op, "discard") == 0)
			value = EXM_MAIL_BREAKER_DISCARD;
	}
	if (token == NULL)
		value = 99;
	return account_set_breaker(a, value, token, error);
}

static gboolean
node_limits_from_json(ExmMailNode *n, JsonObject *obj, GError **error)
{
	JsonNode *m = json_object_get_member(obj, "limits");
	ExmMailLimits l = { 0 };
	JsonObject *lo;

	if (m == NULL || JSON_NODE_HOLDS_NULL(m))
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(m)) {
		g_set_error_literal(
			error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "limits: must be an object");
		return FALSE;
	}
	lo = json_node_get_object(m);
	if (!member_limit(lo, NULL, "messages_per_hour", &l.messages_per_hour, error) ||
	    !member_limit(lo, NULL, "recipients_per_day", &l.recipients_per_day, error) ||
	    !member_limit(
		    lo, NULL, "messages_per_hour_ceiling", &l.messages_per_hour_ceiling, error) ||
	    !member_limit(lo, NULL, "auth_fail_limit", &l.auth_fail_limit, error) ||
	    !member_limit(lo, NULL, "auth_fail_window", &l.auth_fail_window, error) ||
	    !member_limit(lo,
			  NULL,
			  "breaker_new_recipients_per_day",
			  &l.breaker_new_recipients_per_day,
			  error) ||
	    !member_limit(lo, NULL, "breaker_bounce_percent", &l.breaker_bounce_percent, error) ||
	    !member_limit(lo, NULL, "breaker_bounce_min", &l.breaker_bounce_min, error))
		return FALSE;
	return exm_mail_node_set_limits(n, &l, error);
}

/* The account @user (normalised) of members @m. */
static gboolean node_account_from_members(ExmMailNode *n,
					  gchar *user,
					  const AccountMembers *m,
					  GError **error);

static gboolean
account_not_object(const gchar *user, GError **error)
{
	g_set_error(error,
		    EXM_MAIL_ERROR,
		    EXM_MAIL_ERROR_INVALID,
		    "accounts.%s: must be an object",
		    user);
	return FALSE;
}

static gboolean
node_account_from_json(ExmMailNode *n, const gchar *key, JsonNode *value, GError **error)
{
	g_autofree gchar *user = exm_mail_validate_normalize_username(key, error);
	AccountMembers m;

	if (user == NULL) {
		g_prefix_error(error, "accounts: ");
		return FALSE;
	}
	if (!JSON_NODE_HOLDS_OBJECT(value))
		return account_not_object(user, error);
	account_members(json_node_get_object(value), &m);
	return node_account_from_members(n, g_steal_pointer(&user), &m, error);
}

/* An account's members read from its canonical text: only those the node
 * reads are made nodes, one at a time (a json-glib object per account was
 * most of the cost of reading a value's 100 000 accounts). */
typedef struct {
	AccountMembers m;
	GPtrArray *nodes;
	GError **error;
} RawAccount;

/* The node of a canonical boolean, or of a string without an escape (a
 * hash), made without a parse; %NULL for anything else. */
static JsonNode *
raw_scalar(const gchar *value, gsize vlen)
{
	gchar buf[256];

	if (vlen == 4 && memcmp(value, "true", 4) == 0)
		return json_node_init_boolean(json_node_alloc(), TRUE);
	if (vlen == 5 && memcmp(value, "false", 5) == 0)
		return json_node_init_boolean(json_node_alloc(), FALSE);
	if (vlen < 2 || vlen - 2 >= sizeof(buf) || value[0] != '"' ||
	    memchr(value + 1, '\\', vlen - 2) != NULL)
		return NULL;
	memcpy(buf, value + 1, vlen - 2);
	buf[vlen - 2] = '\0';
	return json_node_init_string(json_node_alloc(), buf);
}

static gboolean
raw_account_member(const gchar *name, gsize nlen, const gchar *value, gsize vlen, gpointer data)
{
	RawAccount *r = data;
	gssize at = account_member_offset(name, nlen);
	JsonNode *node;

	if (at < 0)
		return TRUE;
	node = raw_scalar(value, vlen);
	if (node == NULL)
		node = exm_json_parse_strict(value, vlen, r->error);
	if (node == NULL)
		return FALSE;
	g_ptr_array_add(r->nodes, node);
	G_STRUCT_MEMBER(JsonNode *, &r->m, at) = node;
	return TRUE;
}

static gboolean
node_account_from_raw(ExmMailNode *n, const gchar *key, const gchar *text, GError **error)
{
	g_autofree gchar *user = exm_mail_validate_normalize_username(key, error);
	g_autoptr(GPtrArray) nodes =
		g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
	RawAccount r = { .nodes = nodes, .error = error };

	if (user == NULL) {
		g_prefix_error(error, "accounts: ");
		return FALSE;
	}
	if (*text != '{')
		return account_not_object(user, error);
	if (!exm_json_raw_object_foreach(text, raw_account_member, &r))
		return FALSE;
	return node_account_from_members(n, g_steal_pointer(&user), &r.m, error);
}

static gboolean
node_account_from_members(ExmMailNode *n,
			  gchar *user_taken,
			  const AccountMembers *m,
			  GError **error)
{
	g_autofree gchar *user = user_taken;
	ExmMailNodeAccount *a;
	const gchar *hash;
	gboolean active, sandbox;

	hash = value_string(m->password_hash, "password_hash", error);
	if (hash == NULL) {
		g_prefix_error(error, "accounts.%s.", user);
		return FALSE;
	}
	if (!value_bool(m->active, user, "active", TRUE, &active, error) ||
	    !value_bool(m->sandbox, user, "sandbox", FALSE, &sandbox, error))
		return FALSE;
	a = account_add(n, &user, hash, active, error);
	if (a == NULL)
		return FALSE;
	a->sandbox = sandbox;
	return node_account_policy_from_json(n, a, m, error) &&
	       node_account_secrets_from_json(a, m, error) &&
	       node_account_breaker_from_json(a, m->breaker_action, error);
}

typedef struct {
	const gchar *key;
	JsonNode *value;
} Member;

static gint
member_cmp(gconstpointer a, gconstpointer b)
{
	return g_ascii_strcasecmp(((const Member *)a)->key, ((const Member *)b)->key);
}

/* @sorted and @strays, each in order, merged.  On equal names @sorted's
 * member first: it came first in the object (a stray is below a member of
 * @sorted before it, so none after it has its name), which keeps the order
 * g_array_sort() (stable) gave the whole. */
static GArray *
members_merge(GArray *sorted, GArray *strays)
{
	GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(Member), sorted->len + strays->len);
	guint i = 0;
	guint j = 0;

	while (i < sorted->len || j < strays->len) {
		if (j == strays->len ||
		    (i < sorted->len && member_cmp(&g_array_index(sorted, Member, i),
						   &g_array_index(strays, Member, j)) <= 0))
			g_array_append_val(out, g_array_index(sorted, Member, i++));
		else
			g_array_append_val(out, g_array_index(strays, Member, j++));
	}
	g_array_unref(sorted);
	return out;
}

/* @obj's members in the order of their folded names.  A value's accounts
 * come in that order already (the control plane writes them sorted), or
 * nearly (one added after them): the members below the last one kept are set
 * aside, sorted alone and merged back, instead of sorting 100 000 names for
 * one of them; any order still comes out sorted. */
static GArray *
members_sorted(JsonObject *obj)
{
	GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(Member), json_object_get_size(obj));
	g_autoptr(GArray) strays = g_array_new(FALSE, FALSE, sizeof(Member));
	JsonObjectIter it;
	Member m;

	json_object_iter_init_ordered(&it, obj);
	while (json_object_iter_next_ordered(&it, &m.key, &m.value)) {
		if (out->len > 0 && member_cmp(&g_array_index(out, Member, out->len - 1), &m) > 0)
			g_array_append_val(strays, m);
		else
			g_array_append_val(out, m);
	}
	if (strays->len == 0)
		return out;
	g_array_sort(strays, member_cmp);
	return members_merge(out, strays);
}

static gint
raw_member_fold_cmp(gconstpointer a, gconstpointer b)
{
	return g_ascii_strcasecmp(((const ExmJsonRawMember *)a)->name,
				  ((const ExmJsonRawMember *)b)->name);
}

/* The accounts of a raw `accounts` listed (exm_json_raw_members()) and
 * sorted by their folded names (stable, as members_sorted()), one account at
 * a time (node_account_from_raw()): for accounts out of that order. */
static gboolean
node_accounts_from_raw_sorted(ExmMailNode *n, JsonNode *raw, GError **error)
{
	g_autoptr(GArray) members = exm_json_raw_members(raw);

	g_array_sort(members, raw_member_fold_cmp);
	for (guint i = 0; i < members->len; i++) {
		const ExmJsonRawMember *m = &g_array_index(members, ExmJsonRawMember, i);

		if (!node_account_from_raw(n, m->name, m->value, error))
			return FALSE;
	}
	return TRUE;
}

/* A walk of a raw `accounts` in its order: each name, NUL-terminated as
 * exm_json_raw_members() would copy it, in one of two strings used in turn
 * (no copy an account), compared with the one before. */
typedef struct {
	ExmMailNode *n;
	GString *prev;
	GString *cur;
	gboolean unsorted;
	GError **error;
} RawAccounts;

static gboolean
raw_accounts_name(RawAccounts *r, const gchar *name, gsize nlen)
{
	GString *swap = r->prev;

	r->prev = r->cur;
	r->cur = swap;
	g_string_truncate(r->cur, 0);
	g_string_append_len(r->cur, name, (gssize)nlen);
	r->unsorted = r->unsorted ||
		      (r->prev->len > 0 && g_ascii_strcasecmp(r->prev->str, r->cur->str) > 0);
	return !r->unsorted;
}

static gboolean
raw_accounts_add(const gchar *name, gsize nlen, const gchar *value, gsize vlen, gpointer data)
{
	RawAccounts *r = data;

	(void)vlen;
	return raw_accounts_name(r, name, nlen) &&
	       node_account_from_raw(r->n, r->cur->str, value, r->error);
}

static gboolean
raw_accounts_check(const gchar *name, gsize nlen, const gchar *value, gsize vlen, gpointer data)
{
	(void)value;
	(void)vlen;
	return raw_accounts_name(data, name, nlen);
}

/* The accounts of a raw `accounts`, one account at a time
 * (node_account_from_raw()).  Their canonical order is the names' bytes; the
 * node's is the folded names', the same for the lower-case names a value
 * carries: read in the text's order while it holds, without listing them
 * (100 000 name copies were a tenth of a change's CPU, docs/scale.md §3);
 * else, or when an account is refused before the end, its error is the one
 * the sorted order meets first, as members_sorted() makes it. */
static gboolean
node_accounts_from_raw(ExmMailNode *n, JsonNode *raw, GError **error)
{
	g_autoptr(GString) a = g_string_new(NULL);
	g_autoptr(GString) b = g_string_new(NULL);
	g_autoptr(GError) local = NULL;
	RawAccounts r = { n, a, b, FALSE, &local };
	const gchar *text = exm_json_raw_text(raw);

	if (text == NULL || *text != '{') {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "accounts: must be an object");
		return FALSE;
	}
	if (exm_json_raw_object_foreach(text, raw_accounts_add, &r))
		return TRUE;
	if (!r.unsorted) {
		/* from the first name again, none before it */
		g_string_truncate(a, 0);
		g_string_truncate(b, 0);
		(void)exm_json_raw_object_foreach(text, raw_accounts_check, &r);
	}
	if (!r.unsorted) {
		g_propagate_error(error, g_steal_pointer(&local));
		return FALSE;
	}
	g_ptr_array_set_size(n->accounts, 0);
	return node_accounts_from_raw_sorted(n, raw, error);
}

static gboolean
node_accounts_from_json(ExmMailNode *n, JsonObject *obj, GError **error)
{
	JsonNode *m = json_object_get_member(obj, "accounts");
	g_autoptr(GArray) members = NULL;

	if (exm_json_node_is_raw(m))
		return node_accounts_from_raw(n, m, error);
	if (m == NULL || !JSON_NODE_HOLDS_OBJECT(m)) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    m == NULL ? "accounts: is required"
					      : "accounts: must be an object");
		return FALSE;
	}
	/* in the order of the folded usernames: each account is then added at
	 * the end of the sorted array, where the object's hash order made every
	 * insertion move half of it (quadratic: seconds at 100 000 accounts) */
	members = members_sorted(json_node_get_object(m));
	for (guint i = 0; i < members->len; i++) {
		const Member *e = &g_array_index(members, Member, i);

		if (!node_account_from_json(n, e->key, e->value, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
node_header_from_json(ExmMailNode *n, JsonObject *obj, GError **error)
{
	const gchar *uuid = member_string(obj, "uuid", "uuid", error);
	const gchar *name = uuid != NULL ? member_string(obj, "name", "name", error) : NULL;
	const gchar *domain = name != NULL ? member_string(obj, "domain", "domain", error) : NULL;

	if (domain == NULL)
		return FALSE;
	n->uuid = exm_uuid_parse(uuid, NULL);
	if (n->uuid == NULL) {
		g_set_error_literal(
			error, EXM_MAIL_ERROR, EXM_MAIL_ERROR_INVALID, "uuid: must be a UUID");
		return FALSE;
	}
	if (!exm_mail_validate_name(name, error))
		return FALSE;
	n->name = g_strdup(name);
	n->domain = exm_mail_validate_normalize_domain(domain, error);
	return n->domain != NULL;
}

/* ------------------------------------------------------------------ tls_custom */

static gboolean
tls_custom_size_ok(const gchar *name, const gchar *text, GError **error)
{
	gsize len = text != NULL ? strlen(text) : 0;

	if (len >= 1 && len <= EXM_MAIL_CERT_PEM_MAX)
		return TRUE;
	g_set_error(error,
		    EXM_MAIL_ERROR,
		    EXM_MAIL_ERROR_INVALID,
		    "tls_custom.%s: must be 1 to %d bytes of PEM",
		    name,
		    EXM_MAIL_CERT_PEM_MAX);
	return FALSE;
}

gboolean
exm_mail_node_set_tls_custom(ExmMailNode *node,
			     const gchar *chain,
			     const gchar *key,
			     GError **error)
{
	if ((chain == NULL) != (key == NULL)) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "tls_custom: chain and key come together");
		return FALSE;
	}
	if (chain != NULL &&
	    (!tls_custom_size_ok("chain", chain, error) || !tls_custom_size_ok("key", key, error)))
		return FALSE;
	g_free(node->tls_custom_chain);
	exm_secret_free(node->tls_custom_key);
	node->tls_custom_chain = g_strdup(chain);
	node->tls_custom_key = g_strdup(key);
	return TRUE;
}

/* `tls_custom`: absent or null is none, else `{chain, key}` and nothing more. */
static gboolean
node_tls_custom_from_json(ExmMailNode *n, JsonObject *obj, GError **error)
{
	JsonNode *m = json_object_get_member(obj, "tls_custom");
	JsonObject *o = m != NULL && JSON_NODE_HOLDS_OBJECT(m) ? json_node_get_object(m) : NULL;
	const gchar *chain = NULL, *key = NULL;

	if (m == NULL || JSON_NODE_HOLDS_NULL(m))
		return TRUE;
	if (o == NULL || json_object_get_size(o) != 2) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "tls_custom: must be an object {chain, key}");
		return FALSE;
	}
	chain = member_string(o, "chain", "tls_custom.chain", error);
	key = chain != NULL ? member_string(o, "key", "tls_custom.key", error) : NULL;
	if (key == NULL)
		return FALSE;
	return exm_mail_node_set_tls_custom(n, chain, key, error);
}

static void
tls_custom_to_json(JsonBuilder *b, const ExmMailNode *node)
{
	if (node->tls_custom_chain == NULL || node->tls_custom_key == NULL)
		return;
	json_builder_set_member_name(b, "tls_custom");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "chain");
	json_builder_add_string_value(b, node->tls_custom_chain);
	json_builder_set_member_name(b, "key");
	json_builder_add_string_value(b, node->tls_custom_key);
	json_builder_end_object(b);
}

/**
 * exm_mail_node_from_json:
 * @node: a JSON object as the agent payload carries it
 * @error: %EXM_MAIL_ERROR_INVALID naming the bad member
 *
 * Returns: (transfer full) (nullable): the value
 */
ExmMailNode *
exm_mail_node_from_json(JsonNode *node, GError **error)
{
	g_autoptr(ExmMailNode) n = NULL;
	JsonObject *obj;

	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error,
				    EXM_MAIL_ERROR,
				    EXM_MAIL_ERROR_INVALID,
				    "mail_instance_node: must be a JSON object");
		return NULL;
	}
	obj = json_node_get_object(node);
	n = exm_mail_node_new();
	if (!node_header_from_json(n, obj, error) || !node_accounts_from_json(n, obj, error) ||
	    !node_limits_from_json(n, obj, error) || !exm_mail_node_acme_from_json(n, obj, error) ||
	    !node_tls_custom_from_json(n, obj, error))
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): g_autoptr frees it
		return NULL;
	return g_steal_pointer(&n);
}

static void
add_limit(JsonBuilder *b, const gchar *name, gint64 value)
{
	if (value == 0)
		return;
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

/* The accounts are built as objects directly: the builder's bookkeeping
 * per member was a large part of a node's value at 100 000 accounts. */
static void
object_limit(JsonObject *o, const gchar *name, gint64 value)
{
	if (value != 0)
		json_object_set_int_member(o, name, value);
}

/* A string member as the builder adds it (a %NULL string stays a string node). */
static void
object_string(JsonObject *o, const gchar *name, const gchar *value)
{
	json_object_set_member(o, name, json_node_init_string(json_node_alloc(), value));
}

static void
account_policy_to_json(JsonObject *o, const ExmMailNodeAccount *a)
{
	JsonArray *senders;

	object_limit(o, "messages_per_hour", a->messages_per_hour);
	object_limit(o, "recipients_per_day", a->recipients_per_day);
	if (a->senders == NULL)
		return;
	senders = json_array_new();
	for (guint i = 0; a->senders[i] != NULL; i++)
		json_array_add_element(senders,
				       json_node_init_string(json_node_alloc(), a->senders[i]));
	json_object_set_array_member(o, "senders", senders);
}

static void
account_secrets_to_json(JsonObject *o, const ExmMailNodeAccount *a)
{
	if (a->previous_hash != NULL) {
		object_string(o, "previous_password_hash", a->previous_hash);
		object_limit(o, "previous_until", a->previous_until);
	}
	object_limit(o, "expires_at", a->expires_at);
}

static void
account_breaker_to_json(JsonObject *o, const ExmMailNodeAccount *a)
{
	JsonObject *action;

	if (a->breaker_op == EXM_MAIL_BREAKER_NONE)
		return;
	action = json_object_new();
	object_string(action, "op", exm_mail_node_breaker_op_to_string(a->breaker_op));
	object_string(action, "token", a->breaker_token);
	json_object_set_object_member(o, "breaker_action", action);
}

static JsonObject *
account_to_json(const ExmMailNodeAccount *a)
{
	JsonObject *o = json_object_new();

	object_string(o, "password_hash", a->password_hash);
	json_object_set_boolean_member(o, "active", a->active);
	account_policy_to_json(o, a);
	account_secrets_to_json(o, a);
	account_breaker_to_json(o, a);
	if (a->sandbox)
		json_object_set_boolean_member(o, "sandbox", TRUE);
	return o;
}

static JsonNode *
accounts_to_json(const ExmMailNode *node)
{
	g_autoptr(JsonObject) accounts = json_object_new();

	for (guint k = 0; k < node->accounts->len; k++) {
		const ExmMailNodeAccount *a = g_ptr_array_index(node->accounts, k);

		json_object_set_object_member(accounts, a->username, account_to_json(a));
	}
	return json_node_init_object(json_node_alloc(), accounts);
}

/* @a's object as exm_mail_node_to_json() writes it, canonical, appended.
 * An account with nothing but its hash and flags (nearly every one) is
 * written directly, its members in canonical order: a tree per account was
 * most of the cost of a node's raw accounts. */
static void
account_append_canonical(GString *out, const ExmMailNodeAccount *a)
{
	g_autoptr(JsonObject) obj = NULL;
	g_autoptr(JsonNode) node = NULL;

	if (a->messages_per_hour == 0 && a->recipients_per_day == 0 && a->senders == NULL &&
	    a->previous_hash == NULL && a->expires_at == 0 &&
	    a->breaker_op == EXM_MAIL_BREAKER_NONE) {
		g_string_append(out, a->active ? "{\"active\":true," : "{\"active\":false,");
		g_string_append(out, "\"password_hash\":");
		exm_json_append_canonical_string(out, a->password_hash);
		g_string_append(out, a->sandbox ? ",\"sandbox\":true}" : "}");
		return;
	}
	obj = account_to_json(a);
	node = json_node_init_object(json_node_alloc(), obj);
	exm_json_append_canonical(out, node);
}

typedef struct {
	const ExmMailNode *node;
	guint k;
	GString *want;
} RawLike;

static gboolean
raw_like_member(const gchar *name, gsize nlen, const gchar *value, gsize vlen, gpointer data)
{
	RawLike *r = data;
	const ExmMailNodeAccount *a =
		r->k < r->node->accounts->len ? g_ptr_array_index(r->node->accounts, r->k) : NULL;

	r->k++;
	if (a == NULL || strlen(a->username) != nlen || memcmp(a->username, name, nlen) != 0)
		return FALSE;
	g_string_truncate(r->want, 0);
	account_append_canonical(r->want, a);
	return r->want->len == vlen && memcmp(r->want->str, value, vlen) == 0;
}

/* Whether the raw @accounts are what exm_mail_node_accounts_raw() writes
 * for @node: the same names in the same (byte) order, each value's text
 * that account's, compared one account at a time. */
static gboolean
raw_accounts_like(const ExmMailNode *node, JsonNode *accounts)
{
	g_autoptr(GString) want = g_string_new(NULL);
	RawLike r = { node, 0, want };

	return exm_json_raw_object_foreach(exm_json_raw_text(accounts), raw_like_member, &r) &&
	       r.k == node->accounts->len;
}

/**
 * exm_mail_node_accounts_like:
 * @node: a value
 * @like: (nullable): the JSON @node was read from (exm_mail_node_from_json())
 *
 * The `accounts` of @like when they are what exm_mail_node_to_json() writes
 * for @node, members in any order (jsonb orders them by length) and value
 * types alike (exm_json_same()), or raw (exm_json_node_is_raw()) with the
 * text exm_mail_node_accounts_raw() writes.  One account's object is made at
 * a time.
 *
 * Returns: (transfer none) (nullable): @like's accounts, or %NULL
 */
JsonNode *
exm_mail_node_accounts_like(const ExmMailNode *node, JsonNode *like)
{
	JsonNode *member = like != NULL && JSON_NODE_HOLDS_OBJECT(like)
				   ? json_object_get_member(json_node_get_object(like), "accounts")
				   : NULL;
	JsonObject *accounts = member != NULL && JSON_NODE_HOLDS_OBJECT(member)
				       ? json_node_get_object(member)
				       : NULL;

	if (exm_json_node_is_raw(member))
		return raw_accounts_like(node, member) ? member : NULL;
	if (accounts == NULL || json_object_get_size(accounts) != node->accounts->len)
		return NULL;
	for (guint k = 0; k < node->accounts->len; k++) {
		const ExmMailNodeAccount *a = g_ptr_array_index(node->accounts, k);
		JsonNode *have = json_object_get_member(accounts, a->username);
		g_autoptr(JsonObject) obj = account_to_json(a);
		g_autoptr(JsonNode) want = json_node_init_object(json_node_alloc(), obj);

		if (have == NULL || !exm_json_same(want, have))
			return NULL;
	}
	return member;
}

/* About the canonical text of a plain account with a crypt hash, its name
 * included (140 bytes at the benchmark's 100 000): the raw text's room. */
#define RAW_ACCOUNT_SIZE 144

/**
 * exm_mail_node_accounts_raw:
 * @node: a value
 *
 * The `accounts` exm_mail_node_to_json() writes, as a raw node: their
 * canonical text, written one account at a time (14 MB at 100 000 accounts,
 * where their tree is about 88 MB).
 *
 * Returns: (transfer full): the raw node
 */
JsonNode *
exm_mail_node_accounts_raw(const ExmMailNode *node)
{
	GString *out = exm_json_raw_begin(node->accounts->len * RAW_ACCOUNT_SIZE);

	/* usernames are unique and sorted by their bytes: canonical order */
	g_string_append_c(out, '{');
	for (guint k = 0; k < node->accounts->len; k++) {
		const ExmMailNodeAccount *a = g_ptr_array_index(node->accounts, k);

		if (k > 0)
			g_string_append_c(out, ',');
		exm_json_append_canonical_string(out, a->username);
		g_string_append_c(out, ':');
		account_append_canonical(out, a);
	}
	g_string_append_c(out, '}');
	return exm_json_raw_end(out);
}

/* `limits` only when one of them is set: a node without keeps its old value. */
static void
limits_to_json(JsonBuilder *b, const ExmMailLimits *l)
{
	const ExmMailLimits none = { 0 };

	if (memcmp(l, &none, sizeof none) == 0)
		return;
	json_builder_set_member_name(b, "limits");
	json_builder_begin_object(b);
	add_limit(b, "messages_per_hour", l->messages_per_hour);
	add_limit(b, "recipients_per_day", l->recipients_per_day);
	add_limit(b, "messages_per_hour_ceiling", l->messages_per_hour_ceiling);
	add_limit(b, "auth_fail_limit", l->auth_fail_limit);
	add_limit(b, "auth_fail_window", l->auth_fail_window);
	add_limit(b, "breaker_new_recipients_per_day", l->breaker_new_recipients_per_day);
	add_limit(b, "breaker_bounce_percent", l->breaker_bounce_percent);
	add_limit(b, "breaker_bounce_min", l->breaker_bounce_min);
	json_builder_end_object(b);
}

/**
 * exm_mail_node_to_json:
 * @node: the value
 *
 * Returns: (transfer full): `{uuid, name, domain, accounts: {username: {password_hash,
 *   active}}}`, every account (inactive too), no other key
 */
JsonNode *
exm_mail_node_to_json(const ExmMailNode *node)
{
	return exm_mail_node_to_json_with(node, NULL);
}

/**
 * exm_mail_node_to_json_with:
 * @node: the value
 * @accounts: (nullable): exm_mail_node_accounts_like() of @node,
 *   exm_mail_node_accounts_raw() of it, or %NULL
 *
 * exm_mail_node_to_json() holding @accounts (a reference, not a copy) as its
 * `accounts`: at 100 000 accounts that tree is about 88 MB, and a node's
 * target, its meta entry and its actual value would each hold one
 * (docs/scale.md §3).  Nothing may change @accounts while it is shared.
 *
 * Returns: (transfer full): the JSON
 */
JsonNode *
exm_mail_node_to_json_with(const ExmMailNode *node, JsonNode *accounts)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "uuid");
	json_builder_add_string_value(b, node->uuid != NULL ? node->uuid : "");
	json_builder_set_member_name(b, "name");
	json_builder_add_string_value(b, node->name != NULL ? node->name : "");
	json_builder_set_member_name(b, "domain");
	json_builder_add_string_value(b, node->domain != NULL ? node->domain : "");
	json_builder_set_member_name(b, "accounts");
	json_builder_add_value(b,
			       accounts != NULL ? json_node_ref(accounts) : accounts_to_json(node));
	limits_to_json(b, &node->limits);
	exm_mail_node_acme_to_json(b, node);
	tls_custom_to_json(b, node);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}
