/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The local backend's loopback subnet: a lease on `127.K.0.0/16` held through
 * an flock()ed lock file for as long as the lease lives, so hosts and tests
 * running in parallel on this machine never share addresses.
 */
#pragma once

#include <glib.h>

#define EXH_LOCAL_SUBNET_MIN 16
#define EXH_LOCAL_SUBNET_MAX 127

typedef struct _ExhLocalNet ExhLocalNet;

/**
 * exh_local_net_lease:
 * @lock_dir: (nullable): directory of the lock files (created 0700); it must be
 *   owned by this user and writable by nobody else, a lock file that is a
 *   link or not this user's regular file is refused; %NULL =
 *   exh_local_net_default_lock_dir()
 * @subnet: 0 = probe every K from a random start; otherwise exactly that K
 * @probe_ports: (nullable) (element-type guint): ports that must be bindable
 *   on each of `127.K.0.1`..`127.K.0.4` (the first nodes' addresses), since a
 *   process outside the lock protocol may hold them; %NULL = no bind test
 * @error: %EXH_ERROR_CONFIG when no subnet is free or the lock dir is refused
 *
 * Returns: (transfer full): the lease, or %NULL
 */
ExhLocalNet *exh_local_net_lease(const gchar *lock_dir,
				 guint subnet,
				 const GArray *probe_ports,
				 GError **error);

/* (transfer full): `/run/exordos-paas-host` for root, else
 * `<runtime dir>/exordos-paas-host`; never below a world-writable directory. */
gchar *exh_local_net_default_lock_dir(void);

/* The leased K. */
guint exh_local_net_get_subnet(ExhLocalNet *net);

/* (transfer full): `127.K.0.<index>`, @index in 1..254 */
gchar *exh_local_net_address(ExhLocalNet *net, guint index);

/* Releases the lock (the file stays; an unlocked file is free). */
void exh_local_net_release(ExhLocalNet *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ExhLocalNet, exh_local_net_release)

/* %TRUE when @addr:@port accepts a TCP connection. */
gboolean exh_local_net_can_connect(const gchar *addr, guint port);
