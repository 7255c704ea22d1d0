# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""The shared part of the fake Core: state, router, HTTP server, clock.

Areas (iam_token, compute, config) register routes on a Router; the server
strips the configured path prefix (e.g. /api/core), authenticates bearer
tokens for routes that need them, applies the failure modes set through the
test-only control endpoint (/_fake/..., never under the prefix) and records
every API call so tests can count them.
"""

import json
import re
import threading
import time
import uuid as uuidlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import errors

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + (
        ".%06dZ" % int((t % 1) * 1e6))


def is_uuid(value):
    if not isinstance(value, str):
        return False
    try:
        return str(uuidlib.UUID(value)) == value
    except ValueError:
        return False


class Settings:
    """What the fake was started with (see __main__)."""

    def __init__(self, **kw):
        self.prefix = kw.get("prefix", "")
        self.project = kw["project"]
        self.user = kw.get("user", "metapaas")
        self.password = kw["password"]
        self.client_id = kw.get("client_id", "GenesisCoreClientId")
        self.client_secret = kw.get("client_secret", "GenesisCoreSecret")
        self.token_ttl = kw.get("token_ttl", 3600)
        self.tick = kw.get("tick", 0.2)
        self.external_nodes = kw.get("external_nodes", False)


class State:
    """Everything the fake holds, behind one lock."""

    def __init__(self, settings):
        self.settings = settings
        self.lock = threading.RLock()
        self.tokens = {}  # access token -> {project, expires}
        self.refresh = {}  # refresh token -> project
        self.grants = []  # grant types, in order
        self.sets = {}
        self.configs = {}
        self.keys = {}  # node uuid -> key
        self.changed = set()  # sets PUT since the last tick
        self.revisions = {}  # set/config uuid -> create/PUT count
        self.calls = []  # {method, route, status}
        self.modes = {
            "fail": None,  # "500" | "503" | "drop"
            "fail_count": -1,  # answers left to fail; -1 = until cleared
            "slow_ms": 0,
            "malformed": None,  # "garbage" | "shape"
            "error_sets": {},  # set uuid -> reason
        }

    def record(self, method, route, status):
        with self.lock:
            self.calls.append({"method": method, "route": route,
                               "status": status})


class Request:
    def __init__(self, method, path, query, headers, body, params):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.params = params
        self.project = None  # the token's project scope

    def json(self):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype != "application/json":
            raise errors.validation("Content-Type must be application/json.")
        try:
            value = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise errors.validation("Request body is not valid JSON.")
        if not isinstance(value, dict):
            raise errors.validation("Request body must be an object.")
        return value


class Router:
    def __init__(self):
        self.routes = []

    def add(self, method, pattern, handler, name, auth=True):
        self.routes.append((method, re.compile("^" + pattern + "$"), handler,
                            name, auth))

    def match(self, method, path):
        allowed = False
        for m, rx, handler, name, auth in self.routes:
            found = rx.match(path)
            if found is None:
                continue
            if m != method:
                allowed = True
                continue
            return handler, name, auth, found.groupdict()
        if allowed:
            raise errors.not_allowed()
        raise errors.RestError(404, "NotFoundError", "Resource not found.")


def authenticate(state, req):
    auth = req.headers.get("Authorization") or ""
    if not auth.startswith("Bearer "):
        raise errors.unauthorized("No auth token.")
    token = auth[len("Bearer "):]
    with state.lock:
        info = state.tokens.get(token)
    if info is None or info["expires"] <= time.time():
        raise errors.unauthorized()
    req.project = info["project"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeExordosCore/1.0"

    def log_message(self, fmt, *args):  # quiet: tests read /_fake/state
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def send(self, status, body, ctype="application/json"):
        data = b"" if body is None else (
            body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def dispatch(self, method):
        state = self.server.state
        split = urlsplit(self.path)
        body = self.read_body()
        path = split.path
        if path.startswith("/_fake/"):
            return self.api(state, self.server.control, method, path, split,
                            body, control=True)
        prefix = state.settings.prefix
        if prefix:
            if not path.startswith(prefix + "/"):
                return self.send(404, errors.RestError(
                    404, "NotFoundError", "Resource not found.").body())
            path = path[len(prefix):]
        self.api(state, self.server.router, method, path, split, body)

    def failure(self, state, route):
        """Applies a switched-on failure mode; True when it answered."""
        with state.lock:
            modes = state.modes
            slow = modes["slow_ms"]
            fail = modes["fail"]
            if fail and modes["fail_count"] != 0:
                if modes["fail_count"] > 0:
                    modes["fail_count"] -= 1
            else:
                fail = None
        if slow:
            time.sleep(slow / 1000.0)
        if fail is None:
            return False
        if fail == "drop":
            state.record(self.command, route, 0)
            self.close_connection = True
            return True
        code = int(fail)
        state.record(self.command, route, code)
        self.send(code, {"type": "InternalServerError", "code": code,
                         "message": "Internal server error."})
        return True

    def api(self, state, router, method, path, split, body, control=False):
        query = parse_qs(split.query, keep_blank_values=True)
        route = path
        try:
            handler, route, auth, params = router.match(method, path)
            if not control and self.failure(state, route):
                return
            req = Request(method, path, query, self.headers, body, params)
            if auth and not control:
                authenticate(state, req)
            status, answer = handler(state, req)
        except errors.RestError as e:
            status, answer = e.code, e.body()
        if not control:
            state.record(method, route, status)
            answer = self.malformed(state, status, answer)
        self.send(status, answer)

    def malformed(self, state, status, answer):
        with state.lock:
            mode = state.modes["malformed"]
        if mode is None or status >= 300 or answer is None:
            return answer
        if mode == "garbage":
            return b"{\"status\": \"ACTI"
        # a JSON value of the wrong shape: members of the wrong types
        return {"uuid": 42, "status": ["ACTIVE"], "nodes": "none"}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state, router, control, port=0):
        super().__init__(("127.0.0.1", port), Handler)
        self.state = state
        self.router = router
        self.control = control


class Clock(threading.Thread):
    """Moves statuses on every tick; the areas provide the steps."""

    def __init__(self, state, steps):
        super().__init__(daemon=True)
        self.state = state
        self.steps = steps
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.state.settings.tick):
            with self.state.lock:
                for step in self.steps:
                    step(self.state)

    def stop(self):
        self.stopped.set()
