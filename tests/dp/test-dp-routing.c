/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Where the production configuration (no smarthost) routes a message whose
 * recipient domain has an MX, or only an address record, in an internal range:
 * `exim -bt` (routing only, no connection is made) against a fake DNS server on
 * the sandbox's loopback address, in a mount namespace whose resolv.conf names
 * only that server.  No test sends a packet to a non-loopback address.
 */
#include <string.h>

#include "exm-dp-config.h"
#include "exm-dp-fixture.h"
#include "exm-test.h"

/* One recipient domain per target; `mx.<domain>` has the address, except for
 * `aonly-*` domains, which have no MX and the address themselves. */
static const struct {
	const gchar *domain;
	const gchar *type;
	const gchar *address;
} internal[] = {
	/* check-source: table */
	{ "rfc1918-a.test", "A", "10.1.2.3" },
	{ "rfc1918-b.test", "A", "172.16.5.5" },
	{ "rfc1918-c.test", "A", "192.168.1.1" },
	{ "metadata.test", "A", "169.254.169.254" },
	{ "cgnat.test", "A", "100.64.0.1" },
	{ "loopback.test", "A", "127.0.0.1" },
	{ "thisnet.test", "A", "0.1.2.3" },
	{ "multicast.test", "A", "224.0.0.251" },
	{ "broadcast.test", "A", "255.255.255.255" },
	{ "ula.test", "AAAA", "fd00::25" },
	{ "linklocal6.test", "AAAA", "fe80::1" },
	{ "loopback6.test", "AAAA", "::1" },
	{ "mapped.test", "AAAA", "::ffff:10.0.0.1" },
	{ "aonly-rfc1918.test", "A", "10.9.9.9" },
	{ "aonly-metadata6.test", "AAAA", "fd00:ec2::254" },
	/* the platform's own ranges, from extra_ignore_target_hosts */
	{ "platform4.test", "A", "203.0.113.7" },
	{ "platform6.test", "AAAA", "2001:db8:1::25" },
	/* check-source: end */
};

#define PUBLIC_ADDRESS "192.0.2.25"

static void
add_record(GPtrArray *r, const gchar *name, const gchar *type, gchar *value)
{
	g_ptr_array_add(r, g_strdup(name));
	g_ptr_array_add(r, g_strdup(type));
	g_ptr_array_add(r, value);
}

static GPtrArray *
zone(void)
{
	GPtrArray *r = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < G_N_ELEMENTS(internal); i++) {
		gboolean mx = !g_str_has_prefix(internal[i].domain, "aonly-");
		g_autofree gchar *host = mx ? g_strdup_printf("mx.%s", internal[i].domain)
					    : g_strdup(internal[i].domain);

		if (mx)
			add_record(r, internal[i].domain, "MX", g_strdup_printf("10 %s.", host));
		add_record(r, host, internal[i].type, g_strdup(internal[i].address));
	}
	add_record(r, "public.test", "MX", g_strdup("10 mx.public.test."));
	add_record(r, "mx.public.test", "A", g_strdup(PUBLIC_ADDRESS));
	g_ptr_array_add(r, NULL);
	return r;
}

static gboolean
have_peers(ExmDpFixture *fx)
{
	return exm_test_need_root_and("routing in a private mount namespace", "unshare") &&
	       exm_dp_have(fx->config->exim_binary) && exm_dp_have("/usr/bin/python3");
}

static void
test_internal_targets(void)
{
	g_autoptr(ExmDpFixture) fx = exm_dp_fixture_new(EXM_DP_TEST_DOMAIN);
	g_autoptr(GPtrArray) records = zone();
	const gchar *extra[] = { "203.0.113.0/24", "2001:db8:1::/48", NULL };
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;

	if (!have_peers(fx))
		return;
	/* production routing: MX records decide, no smarthost */
	g_free(fx->config->smarthost);
	fx->config->smarthost = g_strdup("");
	g_strfreev(fx->config->extra_ignore_target_hosts);
	fx->config->extra_ignore_target_hosts = g_strdupv((gchar **)extra);
	g_assert_true(exm_dp_fixture_configure(fx, &error));
	EXM_TEST_OK(error);
	g_assert_true(exm_dp_fixture_start_dns(fx, (const gchar *const *)records->pdata, &error));
	EXM_TEST_OK(error);
	/* the control: a public MX is routed, so the lookups below do reach DNS */
	g_assert_cmpint(exm_dp_fixture_route(fx, "someone@public.test", &out), ==, 0);
	g_test_message("%s", out);
	g_assert_nonnull(strstr(out, "[" PUBLIC_ADDRESS "]"));
	for (guint i = 0; i < G_N_ELEMENTS(internal); i++) {
		g_autofree gchar *rcpt = g_strdup_printf("someone@%s", internal[i].domain);
		g_autofree gchar *res = NULL;
		gint status = exm_dp_fixture_route(fx, rcpt, &res);

		g_test_message("%s (%s): status %d: %s", rcpt, internal[i].address, status, res);
		g_assert_cmpint(status, ==, 2);
		g_assert_nonnull(strstr(res, "undeliverable"));
		g_assert_null(strstr(res, "router = dnslookup"));
	}
}

int
main(int argc, char **argv)
{
	exm_test_init(&argc, &argv);
	g_test_add_func("/dp/routing/internal-targets", test_internal_targets);
	return g_test_run();
}
