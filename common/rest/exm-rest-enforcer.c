/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The gcl_iam enforcer (see exm-rest-enforcer.h).
 */
#include "exm-rest-enforcer.h"

#include "exm-error.h"

#include <string.h>

/* A grant or a rule split in place: its three dot-separated parts. */
typedef struct {
	const gchar *part[3];
	gsize len[3];
} Parts;

/* The grants, copied once and split once; a check walks them as gcl_iam's
 * three hash-table levels would answer, without building the levels: built
 * per request from the token's permissions they were the account POST's
 * largest plugin cost after its statements (docs/scale.md §8). */
struct _ExmRestEnforcer {
	gchar **grants; /* the well-formed ones, in order */
	Parts *parts;	/* parts[i] points into grants[i] */
	guint n;
};

/* %FALSE unless @text is exactly three parts (what g_strsplit(".") and
 * a length-3 check accept). */
static gboolean
parts_split(const gchar *text, Parts *out)
{
	const gchar *start = text;
	guint i = 0;

	for (const gchar *c = text;; c++) {
		if (*c != '.' && *c != '\0')
			continue;
		if (i == 3)
			return FALSE;
		out->part[i] = start;
		out->len[i++] = (gsize)(c - start);
		if (*c == '\0')
			break;
		start = c + 1;
	}
	return i == 3;
}

static gboolean
part_is(const Parts *p, guint level, const gchar *text, gsize len)
{
	return p->len[level] == len && memcmp(p->part[level], text, len) == 0;
}

static gboolean
part_is_star(const Parts *p, guint level)
{
	return part_is(p, level, "*", 1);
}

ExmRestEnforcer *
exm_rest_enforcer_new(const gchar *const *permissions)
{
	ExmRestEnforcer *e = g_new0(ExmRestEnforcer, 1);
	guint total = permissions != NULL ? g_strv_length((gchar **)permissions) : 0;

	e->grants = g_new0(gchar *, total + 1);
	e->parts = g_new0(Parts, total + 1);
	for (guint i = 0; i < total; i++) {
		gchar *copy = g_strdup(permissions[i]);

		if (!parts_split(copy, &e->parts[e->n])) {
			g_free(copy);
			continue;
		}
		e->grants[e->n++] = copy;
	}
	return e;
}

/*
 * gcl_iam's levels, walked: at the service level a lookup goes to the `*`
 * bucket once any grant named service `*`, and that bucket holds every grant
 * from the first such one on (each later grant went to `*` as it was added);
 * else to the grants naming the service.  The same within that bucket at the
 * resource level.  The action level has no shadowing: the action or `*`.
 */
static gboolean
level_member(const ExmRestEnforcer *e, guint i, guint level, const Parts *want, guint first_star)
{
	if (first_star < e->n)
		return i >= first_star;
	return part_is(&e->parts[i], level, want->part[level], want->len[level]);
}

/* The first grant in the service bucket of @want (all of them when @level is
 * 0) naming `*` at @level, or e->n. */
static guint
level_first_star(const ExmRestEnforcer *e, guint level, const Parts *want, guint service_star)
{
	for (guint i = 0; i < e->n; i++) {
		if (level > 0 && !level_member(e, i, 0, want, service_star))
			continue;
		if (part_is_star(&e->parts[i], level))
			return i;
	}
	return e->n;
}

gboolean
exm_rest_enforcer_allows(const ExmRestEnforcer *enforcer, const gchar *rule)
{
	Parts want;
	guint service_star;
	guint resource_star;

	if (!parts_split(rule, &want))
		return FALSE;
	service_star = level_first_star(enforcer, 0, &want, enforcer->n);
	resource_star = level_first_star(enforcer, 1, &want, service_star);
	for (guint i = 0; i < enforcer->n; i++) {
		const Parts *p = &enforcer->parts[i];
		if (!level_member(enforcer, i, 0, &want, service_star) ||
		    !level_member(enforcer, i, 1, &want, resource_star))
			continue;
		if (part_is(p, 2, want.part[2], want.len[2]) || part_is_star(p, 2))
			return TRUE;
	}
	return FALSE;
}

gboolean
exm_rest_enforcer_check(const ExmRestEnforcer *enforcer, const gchar *rule, GError **error)
{
	if (exm_rest_enforcer_allows(enforcer, rule))
		return TRUE;
	g_set_error(error,
		    EXM_ERROR,
		    EXM_ERROR_POLICY_NOT_AUTHORIZED,
		    "Policy rule %s is disallowed.",
		    rule);
	return FALSE;
}

void
exm_rest_enforcer_free(ExmRestEnforcer *enforcer)
{
	if (enforcer == NULL)
		return;
	g_strfreev(enforcer->grants);
	g_free(enforcer->parts);
	g_free(enforcer);
}
