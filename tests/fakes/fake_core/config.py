# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""Config: /v1/config/configs/.

Created NEW; PUT forces NEW (re-render).  The clock moves a config to
IN_PROGRESS and, once its node has an address (internal nodes) or the
provider reported the render (external nodes), to ACTIVE.
"""

import re
import uuid as uuidlib

from . import errors
from .server import UUID_RE, is_uuid, now_iso

MODEL = "exordos_core.config.dm.models.Config"
RW = ("uuid", "name", "description", "project_id", "path", "target", "body",
      "on_change", "mode", "owner", "group")
RO = ("status", "created_at", "updated_at")
MODE_RE = re.compile(r"^0[0-7]{3}$")


def kind_object(value, name, kinds):
    if not isinstance(value, dict) or value.get("kind") not in kinds:
        raise errors.validation("Invalid value for field %s." % name)
    for key, check in kinds[value["kind"]].items():
        if not check(value.get(key)):
            raise errors.validation("Invalid value for field %s." % name)
    if set(value) - {"kind"} - set(kinds[value["kind"]]):
        raise errors.validation("Invalid value for field %s." % name)


def is_str(value):
    return isinstance(value, str)


def check_fields(body, required):
    for name in body:
        if name in RO:
            raise errors.field_permission(name)
        if name not in RW:
            raise errors.validation("Unknown field %s." % name)
    for name in required:
        if name not in body:
            raise errors.validation("Field %s is required." % name)
    path = body.get("path", "/x")
    if not isinstance(path, str) or not 1 <= len(path) <= 255:
        raise errors.validation("Invalid value for field path.")
    if "mode" in body and (not isinstance(body["mode"], str)
                           or not MODE_RE.match(body["mode"])):
        raise errors.validation("Invalid value for field mode.")
    if "target" in body:
        kind_object(body["target"], "target",
                    {"node": {"node": is_uuid}, "node_set": {"node_set": is_uuid}})
    if "body" in body:
        kind_object(body["body"], "body", {"text": {"content": is_str}})
    if "on_change" in body:
        kind_object(body["on_change"], "on_change",
                    {"no_action": {}, "shell": {"command": is_str}})


def get_config(state, req, uuid):
    found = state.configs.get(uuid)
    if found is None or found["project_id"] != req.project:
        raise errors.not_found(MODEL, uuid)
    return found


def list_configs(state, req):
    project = req.query.get("project_id", [None])[0]
    with state.lock:
        return 200, [c for c in state.configs.values()
                     if project is None or c["project_id"] == project]


def create_config(state, req):
    body = req.json()
    check_fields(body, ("path", "target", "body", "project_id"))
    if not is_uuid(body.get("uuid", str(uuidlib.uuid4()))):
        raise errors.validation("Invalid value for field uuid.")
    if body["project_id"] != req.project:
        raise errors.forbidden("Project %s is not the token's project." %
                               body["project_id"])
    value = {"uuid": str(uuidlib.uuid4()), "name": "", "description": "",
             "on_change": {"kind": "no_action"}, "mode": "0644",
             "owner": "root", "group": "root"}
    value.update(body)
    with state.lock:
        if value["uuid"] in state.configs:
            raise errors.conflict(value["uuid"])
        value.update({"status": "NEW", "created_at": now_iso(),
                      "updated_at": now_iso()})
        state.configs[value["uuid"]] = value
        state.revisions[value["uuid"]] = 1
        return 201, value


def read_config(state, req):
    with state.lock:
        return 200, get_config(state, req, req.params["uuid"])


def update_config(state, req):
    body = req.json()
    check_fields(body, ())
    with state.lock:
        found = get_config(state, req, req.params["uuid"])
        for name in ("uuid", "project_id"):
            if name in body and body[name] != found[name]:
                raise errors.field_permission(name)
        found.update(body)
        found["status"] = "NEW"
        found["updated_at"] = now_iso()
        state.revisions[found["uuid"]] += 1
        return 200, found


def delete_config(state, req):
    with state.lock:
        found = get_config(state, req, req.params["uuid"])
        del state.configs[found["uuid"]]
        return 204, None


def register(router):
    base = r"/v1/config/configs/"
    router.add("GET", base, list_configs, "configs")
    router.add("POST", base, create_config, "configs")
    one = base + r"(?P<uuid>" + UUID_RE + ")"
    router.add("GET", one, read_config, "config")
    router.add("PUT", one, update_config, "config")
    router.add("DELETE", one, delete_config, "config")


def node_ready(state, node):
    for found in state.sets.values():
        entry = found["nodes"].get(node)
        if entry is not None:
            return "ipv4" in entry
    return False


def step(state):
    """One tick: NEW -> IN_PROGRESS -> ACTIVE (internal nodes)."""
    for found in state.configs.values():
        if found["status"] == "NEW":
            found["status"] = "IN_PROGRESS"
        elif (found["status"] == "IN_PROGRESS"
              and not state.settings.external_nodes
              and node_ready(state, found["target"].get("node"))):
            found["status"] = "ACTIVE"


def rendered(state, uuid, report):
    """Control (external nodes): the provider rendered revision N."""
    with state.lock:
        found = state.configs.get(uuid)
        if found is None:
            raise errors.not_found(MODEL, uuid)
        if report.get("revision") == state.revisions.get(uuid):
            found["status"] = report.get("status", "ACTIVE")
        return 200, found
