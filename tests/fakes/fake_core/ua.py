# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""Core's Orch and Status APIs (gcl_sdk universal agent protocol), as
upstream's specification (docs/agent-protocol.md §2-§5,
the same section numbers) describes them, for the EM path's core-agent
(docs/em-path.md).  Core serves them on ports 11011 and 11012 at /v1/; here
they share the fake's port below /orch and /status (after the prefix), so an
agent's endpoints are <base>/orch and <base>/status.  Plain mode only: every
node key row says encryption is disabled.

Server rules kept (§4, §5, §6.4): X-Genesis-Node-UUID required (500 without),
a key row for that node (404 without); get_payload takes only `hash` and
`version` (anything else: 500 TypeError, as upstream); the light answer
echoes hash and version, the full one has empty baskets for every capability
kind in both maps and version 0; Status bodies with unknown keys are 400;
kind is `/v1/kind/<kind>` in bodies; listings are 405; created_at/updated_at
are read-only on update.  Hashes: XXH3-64 (seed 0) over Python's canonical
JSON, through the system's libxxhash (ctypes, standard library).

Control (/_fake/ua/..., test only):
  POST /_fake/ua/nodes    {"nodes": [uuid, ...]}  key rows (plain)
  POST /_fake/ua/targets  {"agent": uuid, "resources": [{"kind", "uuid",
                          "value"}, ...]}  the agent's targets, replaced
                          (hash = XXH3 of the value, res_uuid = uuid5)
  GET  /_fake/ua/state    agents, targets, actuals
"""

import copy
import ctypes
import ctypes.util
import json
import uuid as uuidlib

from . import errors
from .server import UUID_RE, is_uuid

_XXH = None


def _lib():
    global _XXH
    if _XXH is None:
        name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
        lib = ctypes.CDLL(name)
        lib.XXH3_64bits.restype = ctypes.c_uint64
        lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        _XXH = lib
    return _XXH


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def calc_hash(value):
    data = canonical(value).encode("utf-8")
    return "%016x" % _lib().XXH3_64bits(data, len(data))


def res_uuid(uuid, kind):
    return str(uuidlib.uuid5(uuidlib.UUID(uuid), kind))


def now_simple():
    import datetime
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S.%f")


def ua(state):
    if not hasattr(state, "ua"):
        state.ua = {"nodes": set(), "agents": {}, "targets": {},
                    "actuals": {}}
    return state.ua


def type_error(name):
    return errors.RestError(
        500, "TypeError",
        "get_payload() got an unexpected keyword argument '%s'" % name)


def node_of(state, req):
    """§6.4: the node header, then its key row."""
    node = req.headers.get("X-Genesis-Node-UUID")
    if node is None:
        raise errors.RestError(500, "ValueError",
                               "X-Genesis-Node-UUID header is missing")
    with state.lock:
        known = node in ua(state)["nodes"]
    if not known:
        raise errors.not_found("NodeEncryptionKey", node)
    return node


def body_of(req, allowed, required=()):
    value = req.json()
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise errors.validation("Unknown fields: %s" % ", ".join(unknown))
    for name in required:
        if name not in value:
            raise errors.validation("Missing field: %s" % name)
    return value


# ---------------------------------------------------------------- Orch API

def orch_agent(state, req):
    node_of(state, req)
    with state.lock:
        agent = ua(state)["agents"].get(req.params["uuid"])
        if agent is None:
            raise errors.not_found("UniversalAgent", req.params["uuid"])
        return 200, copy.deepcopy(agent)


def payload_of(data, agent):
    caps = agent["capabilities"]["capabilities"]
    fact_kinds = agent["facts"]["facts"]
    out = {"capabilities": {k: {"resources": []} for k in caps},
           "facts": {k: {"resources": []} for k in list(caps) + fact_kinds}}
    for t in data["targets"].values():
        if t["agent"] == agent["uuid"] and t["kind"] in caps:
            r = {k: v for k, v in t.items()
                 if k not in ("agent", "master", "master_hash",
                              "master_full_hash", "tracked_at", "node")}
            out["capabilities"][t["kind"]]["resources"].append(r)
    for a in data["actuals"].values():
        if a["node"] == agent["node"] and a["kind"] in out["facts"]:
            r = {k: v for k, v in a.items() if k != "node"}
            out["facts"][a["kind"]]["resources"].append(r)
    hashes = sorted(r["hash"] for b in out["capabilities"].values()
                    for r in b["resources"])
    hashes += sorted(r["full_hash"] for b in out["facts"].values()
                     for r in b["resources"])
    out["hash"] = calc_hash(hashes)
    out["version"] = 0
    return out


def get_payload(state, req):
    node_of(state, req)
    for name in req.query:
        if name not in ("hash", "version"):
            raise type_error(name)
    sent = req.query.get("hash", [""])[0]
    version = req.query.get("version", ["0"])[0]
    try:
        version = int(version)
    except ValueError:
        raise errors.validation("version: not an integer")
    with state.lock:
        data = ua(state)
        agent = data["agents"].get(req.params["uuid"])
        if agent is None:
            raise errors.not_found("UniversalAgent", req.params["uuid"])
        payload = payload_of(data, agent)
    if payload["hash"] == sent:
        return 200, {"capabilities": {}, "facts": {}, "hash": sent,
                     "version": version}
    return 200, payload


# ---------------------------------------------------------------- Status API

AGENT_KEYS = ("uuid", "name", "description", "capabilities", "facts", "node",
              "status", "created_at", "updated_at")


def status_agent_create(state, req):
    node_of(state, req)
    value = body_of(req, AGENT_KEYS, ("uuid", "node"))
    if not is_uuid(value["uuid"]) or not is_uuid(value["node"]):
        raise errors.validation("uuid, node: must be UUIDs")
    agent = {"uuid": value["uuid"],
             "name": value.get("name", "Universal Agent " + value["uuid"][:8]),
             "description": value.get("description", ""),
             "capabilities": value.get("capabilities", {"capabilities": []}),
             "facts": value.get("facts", {"facts": []}),
             "node": value["node"], "status": value.get("status", "NEW"),
             "created_at": value.get("created_at", now_simple()),
             "updated_at": value.get("updated_at", now_simple())}
    with state.lock:
        agents = ua(state)["agents"]
        if agent["uuid"] in agents:
            raise errors.conflict(agent["uuid"])
        agents[agent["uuid"]] = agent
        return 201, copy.deepcopy(agent)


def status_agent_one(state, req):
    node_of(state, req)
    with state.lock:
        agents = ua(state)["agents"]
        agent = agents.get(req.params["uuid"])
        if agent is None:
            raise errors.not_found("UniversalAgent", req.params["uuid"])
        if req.method == "GET":
            return 200, copy.deepcopy(agent)
        if req.method == "DELETE":
            del agents[agent["uuid"]]
            targets = ua(state)["targets"]
            for key in [k for k, t in targets.items()
                        if t["agent"] == agent["uuid"]]:
                del targets[key]
            return 204, None
    change = body_of(req, AGENT_KEYS)
    for name in ("created_at", "updated_at"):
        if name in change:
            raise errors.RestError(400, "ReadOnlyProperty",
                                   "Property %s is read only." % name)
    with state.lock:
        agent.update(change)
        agent["updated_at"] = now_simple()
        return 200, copy.deepcopy(agent)


def kinds(state, req):
    node_of(state, req)
    with state.lock:
        present = sorted({a["kind"] for a in ua(state)["actuals"].values()})
    if req.params.get("kind") is None:
        return 200, present
    return 200, {"kind": req.params["kind"]}


RES_KEYS = ("uuid", "kind", "res_uuid", "value", "hash", "full_hash",
            "status", "node", "created_at", "updated_at")


def kind_uri(kind):
    return "/v1/kind/" + kind


def answer_res(r):
    out = copy.deepcopy(r)
    out["kind"] = kind_uri(r["kind"])
    return {k: v for k, v in out.items() if v is not None}


def resource_create(state, req):
    node_of(state, req)
    kind = req.params["kind"]
    value = body_of(req, RES_KEYS, ("uuid", "kind", "value"))
    if value["kind"] != kind_uri(kind):
        raise errors.validation("kind: must be %s" % kind_uri(kind))
    if not isinstance(value["value"], dict):
        raise errors.validation("value: must be an object")
    r = {"uuid": value["uuid"], "kind": kind,
         "res_uuid": value.get("res_uuid") or str(uuidlib.uuid4()),
         "value": value["value"], "hash": value.get("hash", ""),
         "full_hash": value.get("full_hash", ""),
         "status": value.get("status", "ACTIVE"), "node": value.get("node"),
         "created_at": value.get("created_at", now_simple()),
         "updated_at": value.get("updated_at", now_simple())}
    with state.lock:
        actuals = ua(state)["actuals"]
        if (kind, r["uuid"]) in actuals or any(
                a["res_uuid"] == r["res_uuid"] for a in actuals.values()):
            raise errors.conflict(r["uuid"])
        actuals[(kind, r["uuid"])] = r
        return 201, answer_res(r)


def resource_one(state, req):
    node_of(state, req)
    key = (req.params["kind"], req.params["uuid"])
    with state.lock:
        actuals = ua(state)["actuals"]
        r = actuals.get(key)
        if r is None:
            raise errors.not_found("Resource", key[1])
        if req.method == "GET":
            return 200, answer_res(r)
        if req.method == "DELETE":
            del actuals[key]
            return 204, None
    change = body_of(req, RES_KEYS)
    for name in ("created_at", "updated_at"):
        if name in change:
            raise errors.RestError(400, "ReadOnlyProperty",
                                   "Property %s is read only." % name)
    if "uuid" in change and change["uuid"] != key[1]:
        raise errors.validation("uuid: must be the URL's")
    with state.lock:
        for name in ("value", "hash", "full_hash", "status"):
            if name in change:
                r[name] = change[name]
        r["updated_at"] = now_simple()
        return 200, answer_res(r)


def not_allowed(state, req):
    raise errors.not_allowed()


def register(router):
    u = "(?P<uuid>" + UUID_RE + ")"
    k = "(?P<kind>[A-Za-z0-9_]{1,64})"
    o = "/orch/v1"
    s = "/status/v1"
    router.add("GET", o + "/agents/", not_allowed, "orch agents", auth=False)
    router.add("POST", o + "/agents/", not_allowed, "orch agents", auth=False)
    router.add("GET", o + "/agents/" + u, orch_agent, "orch agent",
               auth=False)
    router.add("GET", o + "/agents/" + u + "/actions/get_payload",
               get_payload, "get_payload", auth=False)
    router.add("GET", s + "/agents/", not_allowed, "agents", auth=False)
    router.add("POST", s + "/agents/", status_agent_create, "agents",
               auth=False)
    for m in ("GET", "PUT", "DELETE"):
        router.add(m, s + "/agents/" + u, status_agent_one, "agent",
                   auth=False)
    router.add("GET", s + "/node_verifiers/" + u + "/actions/verify",
               verify, "verify", auth=False)
    router.add("GET", s + "/kind/", kinds, "kinds", auth=False)
    router.add("GET", s + "/kind/" + k, kinds, "kind", auth=False)
    router.add("GET", s + "/kind/" + k + "/resources/", not_allowed,
               "resources", auth=False)
    router.add("POST", s + "/kind/" + k + "/resources/", resource_create,
               "resources", auth=False)
    for m in ("GET", "PUT", "DELETE"):
        router.add(m, s + "/kind/" + k + "/resources/" + u, resource_one,
                   "resource", auth=False)


def verify(state, req):
    """§3.1 (migration 0006): a node verifies only itself."""
    node = node_of(state, req)
    if req.params["uuid"] != node:
        raise errors.not_found("NodeVerifier", req.params["uuid"])
    return 200, {"valid": True}


# ---------------------------------------------------------------- control

def control_body(req):
    try:
        value = json.loads(req.body.decode("utf-8") or "{}")
    except ValueError:
        raise errors.validation("Request body is not valid JSON.")
    if not isinstance(value, dict):
        raise errors.validation("Request body must be an object.")
    return value


def set_nodes(state, req):
    nodes = control_body(req).get("nodes", [])
    with state.lock:
        ua(state)["nodes"].update(nodes)
    return 200, {}


def set_targets(state, req):
    value = control_body(req)
    agent = value.get("agent")
    if not is_uuid(agent or ""):
        raise errors.validation("agent: a uuid")
    fresh = {}
    for r in value.get("resources", []):
        t = {"uuid": r["uuid"], "kind": r["kind"],
             "res_uuid": res_uuid(r["uuid"], r["kind"]), "value": r["value"],
             "hash": calc_hash(r["value"]), "full_hash": "",
             "status": "ACTIVE", "agent": agent, "master": None,
             "created_at": now_simple(), "updated_at": now_simple()}
        fresh[(t["kind"], t["uuid"])] = t
    with state.lock:
        targets = ua(state)["targets"]
        for key in [k for k, t in targets.items() if t["agent"] == agent]:
            del targets[key]
        targets.update(fresh)
    return 200, {"hashes": {t["uuid"]: t["hash"] for t in fresh.values()}}


def get_state(state, req):
    with state.lock:
        data = ua(state)
        return 200, copy.deepcopy({
            "nodes": sorted(data["nodes"]), "agents": data["agents"],
            "targets": [dict(t, kind=t["kind"])
                        for t in data["targets"].values()],
            "actuals": [answer_res(a) for a in data["actuals"].values()]})


def register_control(router):
    router.add("POST", "/_fake/ua/nodes", set_nodes, "ua nodes", auth=False)
    router.add("POST", "/_fake/ua/targets", set_targets, "ua targets",
               auth=False)
    router.add("GET", "/_fake/ua/state", get_state, "ua state", auth=False)
