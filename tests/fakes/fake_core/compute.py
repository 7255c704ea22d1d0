# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""Compute: /v1/compute/sets/ and the get_private_keys GET action.

A set is created NEW with nodes {}; the clock moves it to IN_PROGRESS
(nodes inserted, each with its encryption key, no address yet) and then to
ACTIVE (every node has its ipv4).  With external nodes a provider (the e2e
test's node bridge) reports the nodes, addresses, keys and status instead.
PUT forces IN_PROGRESS; DELETE drops the nodes, their keys and the configs
on them.
"""

import base64
import os
import uuid as uuidlib

from . import errors
from .server import UUID_RE, is_uuid, now_iso

MODEL = "exordos_core.compute.node_set.dm.models.NodeSet"
RW = ("uuid", "name", "description", "project_id", "replicas", "cores", "ram",
      "node_type", "set_type", "disk_spec")
RO = ("status", "nodes", "created_at", "updated_at")
NODE_TYPES = ("VM", "HW")
SET_TYPES = ("SET", "GROUP")


def check_int(value, name, low, high):
    if type(value) is not int or not low <= value <= high:
        raise errors.validation("Invalid value for field %s." % name)


def check_disks(spec):
    if not isinstance(spec, dict) or spec.get("kind") != "disks":
        raise errors.validation("Invalid value for field disk_spec.")
    disks = spec.get("disks")
    if not isinstance(disks, list) or not disks:
        raise errors.validation("disk_spec: at least one disk is required.")
    labels = set()
    for i, disk in enumerate(disks):
        if not isinstance(disk, dict) or set(disk) - {
                "size", "label", "image", "fs", "mount_point"}:
            raise errors.validation("disk_spec: invalid disk.")
        check_int(disk.get("size"), "disk_spec.size", 1, 1 << 31)
        if i == 0:
            if not isinstance(disk.get("image"), str):
                raise errors.validation("disk_spec: the first disk needs an image.")
            continue
        label = disk.get("label")
        if not isinstance(label, str) or label in labels:
            raise errors.validation("disk_spec: extra disks need unique labels.")
        labels.add(label)
        if "fs" in disk and "image" in disk:
            raise errors.validation("disk_spec: a disk has both fs and image.")


def check_fields(body, required):
    for name in body:
        if name in RO:
            raise errors.field_permission(name)
        if name not in RW:
            raise errors.validation("Unknown field %s." % name)
    for name in required:
        if name not in body:
            raise errors.validation("Field %s is required." % name)
    if "name" in body and (not isinstance(body["name"], str)
                           or not 1 <= len(body["name"]) <= 255):
        raise errors.validation("Invalid value for field name.")
    for name, low, high in (("replicas", 0, 4096), ("cores", 1, 4096),
                            ("ram", 0, 1 << 31)):
        if name in body:
            check_int(body[name], name, low, high)
    if "node_type" in body and body["node_type"] not in NODE_TYPES:
        raise errors.validation("Invalid value for field node_type.")
    if "set_type" in body and body["set_type"] not in SET_TYPES:
        raise errors.validation("Invalid value for field set_type.")
    if "disk_spec" in body:
        check_disks(body["disk_spec"])


def get_set(state, uuid):
    found = state.sets.get(uuid)
    if found is None:
        raise errors.not_found(MODEL, uuid)
    return found


def list_sets(state, req):
    project = req.query.get("project_id", [None])[0]
    with state.lock:
        return 200, [s for s in state.sets.values()
                     if project is None or s["project_id"] == project]


def create_set(state, req):
    body = req.json()
    check_fields(body, ("name", "cores", "ram", "disk_spec", "project_id"))
    if not is_uuid(body.get("uuid", str(uuidlib.uuid4()))):
        raise errors.validation("Invalid value for field uuid.")
    if not is_uuid(body["project_id"]) or body["project_id"] != req.project:
        raise errors.forbidden("Project %s is not the token's project." %
                               body["project_id"])
    value = {"uuid": str(uuidlib.uuid4()), "description": "", "replicas": 1,
             "node_type": "VM", "set_type": "SET"}
    value.update(body)
    with state.lock:
        if value["uuid"] in state.sets:
            raise errors.conflict(value["uuid"])
        value.update({"status": "NEW", "nodes": {}, "created_at": now_iso(),
                      "updated_at": now_iso()})
        state.sets[value["uuid"]] = value
        state.revisions[value["uuid"]] = 1
        return 201, value


def owned(state, req, uuid):
    found = get_set(state, uuid)
    if found["project_id"] != req.project:
        raise errors.not_found(MODEL, uuid)
    return found


def read_set(state, req):
    with state.lock:
        return 200, owned(state, req, req.params["uuid"])


def update_set(state, req):
    body = req.json()
    check_fields(body, ())
    with state.lock:
        found = owned(state, req, req.params["uuid"])
        for name in ("uuid", "project_id"):
            if name in body and body[name] != found[name]:
                raise errors.field_permission(name)
        found.update(body)
        found["status"] = "IN_PROGRESS"
        found["updated_at"] = now_iso()
        state.changed.add(found["uuid"])
        state.revisions[found["uuid"]] = state.revisions.get(found["uuid"], 0) + 1
        return 200, found


def delete_set(state, req):
    with state.lock:
        found = owned(state, req, req.params["uuid"])
        drop_set(state, found)
        return 204, None


def drop_set(state, found):
    for node in found["nodes"]:
        state.keys.pop(node, None)
    gone = set(found["nodes"])
    for uuid in [u for u, c in state.configs.items()
                 if c["target"].get("node") in gone]:
        del state.configs[uuid]
    del state.sets[found["uuid"]]


def private_keys(state, req):
    with state.lock:
        found = owned(state, req, req.params["uuid"])
        return 200, {n: state.keys[n] for n in found["nodes"]
                     if n in state.keys}


def register(router):
    base = r"/v1/compute/sets/"
    router.add("GET", base, list_sets, "sets")
    router.add("POST", base, create_set, "sets")
    one = base + r"(?P<uuid>" + UUID_RE + ")"
    router.add("GET", one, read_set, "set")
    router.add("PUT", one, update_set, "set")
    router.add("DELETE", one, delete_set, "set")
    router.add("GET", one + r"/actions/get_private_keys", private_keys,
               "get_private_keys")


def new_node(state, found):
    node = str(uuidlib.uuid4())
    found["nodes"][node] = {}
    state.keys[node] = base64.b64encode(os.urandom(32)).decode()
    return node


def address(state):
    used = {n.get("ipv4") for s in state.sets.values()
            for n in s["nodes"].values()}
    for i in range(1, 254):
        candidate = "127.3.0.%d" % i
        if candidate not in used:
            return candidate
    return None


def step(state):
    """One tick: NEW -> IN_PROGRESS -> ACTIVE; ERROR when switched on."""
    for found in list(state.sets.values()):
        reason = state.modes["error_sets"].get(found["uuid"])
        if reason is not None:
            found["status"] = "ERROR"
            continue
        if state.settings.external_nodes:
            if found["status"] == "NEW":
                found["status"] = "IN_PROGRESS"
            continue
        internal_step(state, found)


def internal_step(state, found):
    if found["status"] == "NEW" or found["uuid"] in state.changed:
        state.changed.discard(found["uuid"])
        found["status"] = "IN_PROGRESS"
        while len(found["nodes"]) < found["replicas"]:
            new_node(state, found)
        for node in list(found["nodes"])[found["replicas"]:]:
            del found["nodes"][node]
            state.keys.pop(node, None)
        return
    if found["status"] == "IN_PROGRESS":
        for entry in found["nodes"].values():
            entry.setdefault("ipv4", address(state))
        found["status"] = "ACTIVE"


def provide(state, uuid, report):
    """Control (external nodes): the provider's nodes, keys and status."""
    with state.lock:
        found = get_set(state, uuid)
        nodes = report.get("nodes", {})
        for node in list(found["nodes"]):
            if node not in nodes:
                del found["nodes"][node]
                state.keys.pop(node, None)
        for node, entry in nodes.items():
            found["nodes"][node] = ({"ipv4": entry["ipv4"]}
                                    if entry.get("ipv4") else {})
            if entry.get("key"):
                state.keys[node] = entry["key"]
        if found["uuid"] not in state.modes["error_sets"]:
            found["status"] = report.get("status", found["status"])
        return 200, found
