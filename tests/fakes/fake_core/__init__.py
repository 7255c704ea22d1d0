# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""A fake Exordos Core for tests: stdlib only, loopback only.

Follows the wire format of exordos_core (IAM token grant, compute NodeSets,
config Configs) as documented for the `core` infra backend, not what our
backend expects.  One module per Core area registers its routes on the
shared router (server.py); a later area (e.g. IAM jwks/introspect) is one
more module listed in AREAS.
"""

AREAS = ("iam_token", "compute", "config", "iam", "ua")
