/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The agent's `MailCapabilityDriver`: the ExmUaDriver adapter over the data-plane
 * driver of kind `mail_instance_node` (exm-dp-driver.h).
 */
#pragma once

#include "exm-ua-driver.h"

#define EXM_DP_ADAPTER_DRIVER_NAME "MailCapabilityDriver"

/**
 * exm_dp_adapter_new:
 * @config_path: the agent's ini file; its `[dataplane]` group configures the node
 *   (root, owners, exim binary, …; see exm-dp-config.h)
 * @error: %EXM_DP_ERROR_CONFIG
 *
 * Returns: (transfer full): the driver
 */
ExmUaDriver *exm_dp_adapter_new(const gchar *config_path, GError **error);
