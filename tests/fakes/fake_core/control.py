# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""The test-only control endpoint, /_fake/ (never under the Core prefix).

GET  /_fake/state                  sets, configs, keys, revisions, calls, grants
POST /_fake/calls/reset            forget the recorded calls
POST /_fake/control                switch failure modes: {"fail": "500"|"503"|
                                   "drop"|null, "fail_count": N, "slow_ms": N,
                                   "malformed": "garbage"|"shape"|null,
                                   "error_set": uuid, "reason": text,
                                   "clear_error_set": uuid,
                                   "expire_tokens": true, "token_ttl": s}
POST /_fake/sets/<uuid>/nodes      external nodes: {"nodes": {uuid: {ipv4,
                                   key}}, "status": ...}
POST /_fake/configs/<uuid>/status  external nodes: {"revision": N, "status"}
"""

import copy
import json

from . import compute, config, errors, iam_token
from .server import UUID_RE, Router


def body(req):
    try:
        value = json.loads(req.body.decode("utf-8") or "{}")
    except ValueError:
        raise errors.validation("Request body is not valid JSON.")
    if not isinstance(value, dict):
        raise errors.validation("Request body must be an object.")
    return value


def get_state(state, req):
    with state.lock:
        return 200, copy.deepcopy({
            "sets": state.sets, "configs": state.configs, "keys": state.keys,
            "revisions": state.revisions, "calls": state.calls,
            "grants": state.grants,
            "modes": {k: v for k, v in state.modes.items()
                      if k != "error_sets"}})


def reset_calls(state, req):
    with state.lock:
        state.calls = []
        state.grants = []
    return 200, {}


def set_modes(state, req):
    change = body(req)
    with state.lock:
        modes = state.modes
        for key in ("fail", "fail_count", "slow_ms", "malformed"):
            if key in change:
                modes[key] = change[key]
        if "fail" in change and "fail_count" not in change:
            modes["fail_count"] = -1
        if change.get("error_set"):
            modes["error_sets"][change["error_set"]] = change.get(
                "reason", "node failed")
        modes["error_sets"].pop(change.get("clear_error_set"), None)
        if "token_ttl" in change:
            state.settings.token_ttl = change["token_ttl"]
    if change.get("expire_tokens"):
        iam_token.expire_all(state)
    return 200, {}


def set_nodes(state, req):
    return compute.provide(state, req.params["uuid"], body(req))


def config_status(state, req):
    return config.rendered(state, req.params["uuid"], body(req))


def router():
    r = Router()
    r.add("GET", "/_fake/state", get_state, "state", auth=False)
    r.add("POST", "/_fake/calls/reset", reset_calls, "reset", auth=False)
    r.add("POST", "/_fake/control", set_modes, "control", auth=False)
    r.add("POST", "/_fake/sets/(?P<uuid>" + UUID_RE + ")/nodes", set_nodes,
          "nodes", auth=False)
    r.add("POST", "/_fake/configs/(?P<uuid>" + UUID_RE + ")/status",
          config_status, "render", auth=False)
    return r
