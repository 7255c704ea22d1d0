/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The `run` subcommand of the agent binary: the universal agent daemon.
 */
#pragma once

#include "exm-ua-driver.h"

/**
 * ExmUaDriverEntry:
 * @name: the name `caps_drivers` lists (e.g. `MailCapabilityDriver`)
 * @factory: builds the driver
 */
typedef struct {
	const gchar *name;
	ExmUaDriverFactory factory;
} ExmUaDriverEntry;

/**
 * exm_ua_main_run:
 * @argc: argument count (argv[0] is the subcommand name)
 * @argv: `[--config-file FILE]`
 * @drivers: the known drivers, terminated by an entry with a %NULL name
 *
 * Loads the configuration, creates the drivers named by `caps_drivers` and runs
 * the agent until SIGTERM/SIGINT.
 *
 * Returns: the process exit status
 */
int exm_ua_main_run(int argc, char **argv, const ExmUaDriverEntry *drivers);
