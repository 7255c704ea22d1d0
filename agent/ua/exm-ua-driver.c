/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exm-ua-driver.h"

/**
 * exm_ua_driver_free:
 * @driver: (nullable): a driver
 *
 * Releases @driver through its @destroy function.
 */
void
exm_ua_driver_free(ExmUaDriver *driver)
{
	if (driver != NULL && driver->destroy != NULL)
		driver->destroy(driver);
}
