/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The paas builder (`mail_instance`): once the NodeSet is ACTIVE, one
 * `mail_instance_node` target for the agent uuid5(node, `mailaas`) on the
 * set's first node, whose value is exactly `{uuid, name, domain, accounts}`
 * (docs/architecture.md §2 step 4; inactive accounts included, DKIM is no target
 * field).  Pure: no database, no I/O.
 */
#include "exm-plugin-builder.h"
#include "exm-plugin-breaker.h"
#include "exm-plugin-capture.h"
#include "exm-plugin-tls.h"
#include "exm-plugin-usage.h"

#include "exm-json.h"
#include "exm-secret.h"
#include "exm-uuid.h"

/* The node value: the instance's name, domain and limits, every account with
 * its limits, senders, secrets and pending breaker action; %NULL with @out_error when one is
 * invalid. */
static ExmMailNode *
paas_want(const ExmPluginBuilderInput *in, const gchar *agent, gchar **out_error)
{
	g_autoptr(ExmMailNode) want = exm_mail_node_new();
	g_autoptr(GError) local = NULL;

	want->uuid = g_strdup(agent);
	want->name = g_strdup(in->instance->name);
	want->domain = g_strdup(in->instance->domain);
	for (guint k = 0; k < in->accounts->accounts->len; k++) {
		const ExmMailNodeAccount *a = in->accounts->accounts->pdata[k];
		g_autoptr(GError) error = NULL;

		if (!exm_mail_node_add_account(
			    want, a->username, a->password_hash, a->active, &error) ||
		    !exm_mail_node_set_account_policy(want,
						      a->username,
						      a->messages_per_hour,
						      a->recipients_per_day,
						      (const gchar *const *)a->senders,
						      &error) ||
		    !exm_mail_node_set_account_secrets(want,
						       a->username,
						       a->previous_hash,
						       a->previous_until,
						       a->expires_at,
						       &error) ||
		    !exm_mail_node_set_account_breaker(
			    want, a->username, a->breaker_op, a->breaker_token, &error) ||
		    !exm_mail_node_set_account_sandbox(want, a->username, a->sandbox, &error)) {
			*out_error = g_strdup_printf("account: %s", error->message);
			return NULL;
		}
	}
	if (!exm_mail_node_set_limits(want, &in->instance->limits, &local)) {
		*out_error = g_strdup_printf("limits: %s", local->message);
		return NULL;
	}
	/* ACME in effect, checked like any member (docs/tls.md §6); a contact
	 * without a directory (the version's, say) means nothing yet */
	if (!exm_mail_node_acme_set(want,
				    in->acme_directory_url,
				    in->acme_directory_url != NULL ? in->acme_contact : NULL,
				    &local)) {
		*out_error = g_strdup(local->message);
		return NULL;
	}
	/* the tenant's certificate (docs/tls.md §3), checked when it was stored */
	if (!exm_mail_node_set_tls_custom(want, in->tls_custom_chain, in->tls_custom_key, &local)) {
		*out_error = g_strdup(local->message);
		return NULL;
	}
	return g_steal_pointer(&want);
}

/*
 * The agent compares its actual value with the target on the target's keys
 * only (docs/agent-protocol.md §2.3): an optional member that left the
 * target would never be applied: the node would go on serving the tenant's
 * certificate (`tls_custom`) or getting certificates from ACME (`acme`).
 * So while the value has none but the node still reports one applied, the
 * target says `<member>: null`, which differs and makes the driver remove
 * it; once the node reports none the member leaves the target again (the
 * value stays exactly what it was before).
 */
static void
member_removal(gboolean wanted, const ExmPluginBuilderSeen *seen, JsonNode *node, const gchar *name)
{
	JsonObject *actual = seen->node_actual != NULL && JSON_NODE_HOLDS_OBJECT(seen->node_actual)
				     ? json_node_get_object(seen->node_actual)
				     : NULL;
	JsonNode *m = actual != NULL ? json_object_get_member(actual, name) : NULL;

	if (!wanted && m != NULL && !JSON_NODE_HOLDS_NULL(m))
		json_object_set_null_member(json_node_get_object(node), name);
}

gboolean
exm_plugin_builder_paas_build(gpointer ctx,
			      gconstpointer input,
			      const ExordosPaasBuildView *view,
			      const ExordosPaasBuildSink *sink,
			      gchar **out_error)
{
	const ExmPluginBuilderInput *in = input;
	g_autoptr(ExmPluginBuilderSeen) seen = exm_plugin_builder_seen_new(view);
	g_autoptr(ExmMailNode) want = NULL;
	g_autoptr(JsonNode) node = NULL;
	g_autofree gchar *agent = NULL;
	/* the value's text may hold the tenant's key (tls_custom): wiped */
	g_autoptr(ExmSecret) text = NULL;
	g_autofree gchar *hash = NULL;
	g_autofree gchar *value = NULL;
	g_autofree gchar *patch = NULL;
	const gchar *status = NULL;

	if (seen->ns_actual == NULL || g_strcmp0(seen->ns_status, "ACTIVE") != 0 ||
	    seen->nodes->len == 0) {
		sink->set_not_ready(sink->sink, "the NodeSet is not ACTIVE");
		return TRUE;
	}
	agent = exm_uuid_v5(seen->nodes->pdata[0], EXM_PLUGIN_ELEMENT, NULL);
	want = paas_want(in, agent, out_error);
	if (want == NULL)
		return FALSE;
	node = exm_mail_node_to_json(want);
	member_removal(want->tls_custom_chain != NULL, seen, node, "tls_custom");
	member_removal(want->acme_directory_url != NULL, seen, node, "acme");
	text = exm_json_canonical(node);
	hash = exm_json_hash(node);
	sink->add_target(sink->sink, EXM_PLUGIN_KIND_NODE, agent, text, agent, "NEW");
	value = exm_plugin_builder_instance_value(in, FALSE);
	patch = exm_plugin_builder_desired(in, seen, seen->ns_target != NULL, hash, &status);
	patch = exm_plugin_usage_patch(in, seen, g_steal_pointer(&patch));
	patch = exm_plugin_capture_patch(ctx, in, seen, g_steal_pointer(&patch));
	patch = exm_plugin_tls_patch(in, seen, g_steal_pointer(&patch));
	patch = exm_plugin_breaker_patch(ctx, in, seen, g_steal_pointer(&patch));
	sink->set_instance(sink->sink, value, status);
	if (patch != NULL)
		sink->set_patch(sink->sink, patch);
	return TRUE;
}
