/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * What the fault scenarios (tests/faults) share on top of the e2e fixture
 * (tests/e2e/test-e2e-fixture.h): their figures, printed as TAP comments
 * `# figure: <what> <value> (target <target>)`, an ACTIVE instance with its
 * node, and the node's passwd as the data plane sees it.
 */
#pragma once

#include "test-e2e-fixture.h"

/*
 * Under AddressSanitizer everything runs several times slower: there the
 * timing targets are printed but not asserted (the plain build asserts them);
 * counts (lost, torn, leaked, ...) are asserted in every build.
 */
#if defined(__SANITIZE_ADDRESS__)
#define FAULTS_ASSERT_TIMES FALSE
#else
#define FAULTS_ASSERT_TIMES TRUE
#endif

/* A hang guard for waits that should take milliseconds (not a timing target). */
#define FAULTS_WAIT_US (30 * G_USEC_PER_SEC)

/**
 * faults_figure:
 * @target: the figure's target, e.g. "0" or "<= 100 ms"
 * @fmt: what was measured and its value, e.g. "lost writes %u"
 *
 * Prints `# figure: <fmt> (target <target>)` on stdout, a TAP comment that
 * `meson test -v` and the suite's log show.
 */
void faults_figure(const gchar *target, const gchar *fmt, ...) G_GNUC_PRINTF(2, 3);

/*
 * POSTs an instance in E2E_DOMAIN and waits until it is ACTIVE; its node
 * (transfer full), %NULL on failure (reported).  @out_uuid receives its uuid.
 */
ExhLocalNodeInfo *faults_active_instance(E2e *e, const gchar *name, gchar **out_uuid);

/* (transfer full): the node's exim passwd file */
gchar *faults_passwd_path(const ExhLocalNodeInfo *node);

/* %TRUE when the node's passwd has a line for `@local@E2E_DOMAIN`. */
gboolean faults_passwd_has(const ExhLocalNodeInfo *node, const gchar *local);

/*
 * Microseconds from now until the node's passwd has (@present) or lacks a
 * line for @local, polling every 2 ms; -1 when it did not within @max_us.
 */
gint64 faults_wait_passwd(const ExhLocalNodeInfo *node,
			  const gchar *local,
			  gboolean present,
			  gint64 max_us);

/* POSTs account @local with @password; %TRUE on its 201 (a failure is only logged). */
gboolean faults_try_create_account(ExhTest *t,
				   const gchar *instance,
				   const gchar *local,
				   const gchar *password);

/* The usernames of the instance's accounts, as the API lists them (NULL on failure). */
GPtrArray *faults_list_accounts(ExhTest *t, const gchar *instance);
