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
 * @name: the name `caps_drivers` lists
 * @factory: builds the driver
 */
typedef struct {
	const gchar *name;
	ExmUaDriverFactory factory;
} ExmUaDriverEntry;

/**
 * ExmUaMainInfo:
 * @default_config: the configuration file read without `--config-file`
 * @drivers: the known drivers, terminated by an entry with a %NULL name
 *
 * What the binary that embeds the daemon adds to the generic protocol: the
 * protocol library knows no type, so its product decides these.
 */
typedef struct {
	const gchar *default_config;
	const ExmUaDriverEntry *drivers;
} ExmUaMainInfo;

/**
 * exm_ua_main_run:
 * @argc: argument count (argv[0] is the subcommand name)
 * @argv: `[--config-file FILE]`
 * @info: the default configuration file and the built-in drivers
 *
 * Loads the configuration, creates the drivers named by `caps_drivers` and runs
 * the agent until SIGTERM/SIGINT.
 *
 * Returns: the process exit status
 */
int exm_ua_main_run(int argc, char **argv, const ExmUaMainInfo *info);
