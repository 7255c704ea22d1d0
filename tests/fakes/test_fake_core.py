# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""The fake Core's own wire format, checked against the documented one:
form-body token grant with a client check and expiring tokens, both
collections with restalchemy error bodies, the GET keys action, PUT side
effects, the clock, the path prefix and the failure modes; and the Orch and
Status APIs of the EM path (FakeCoreUa)."""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = "4d657461-0000-0000-0000-000000000002"
OTHER = "00000000-0000-0000-0000-0000000000aa"
ZERO = "00000000-0000-0000-0000-000000000000"
SET = "6f1c3b1e-2a4d-4c5e-9f60-7a8b9c0d1e2f"
CONFIG = "7f1c3b1e-2a4d-4c5e-9f60-7a8b9c0d1e2f"
PREFIX = "/api/core"


def node_set(project=PROJECT):
    return {"uuid": SET, "name": "mailaas-dp-" + SET, "replicas": 1,
            "cores": 1, "ram": 1024, "node_type": "VM", "set_type": "SET",
            "project_id": project,
            "disk_spec": {"kind": "disks", "disks": [
                {"size": 6, "image": "img", "label": "root"},
                {"size": 10, "label": "data"}]}}


class FakeCore(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        pw = os.path.join(self.dir, "pw")
        with open(pw, "w", encoding="utf-8") as f:
            f.write("s3cret\n")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fake_core", "--project", PROJECT,
             "--password-file", pw, "--prefix", PREFIX, "--tick-ms", "50",
             "--token-ttl", "2", "--die-with-parent"],
            cwd=HERE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.assertTrue(line.startswith("listening http://127.0.0.1:"), line)
        self.root = line.split()[1][: -len(PREFIX)]
        self.base = line.split()[1]
        self.token = None

    def tearDown(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def call(self, method, path, body=None, form=None, token=True, base=None):
        headers = {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token and self.token:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request((base or self.base) + path, data=data,
                                     headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                try:
                    return r.status, json.loads(raw) if raw else None
                except ValueError:
                    return r.status, raw
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw

    def grant(self, **over):
        form = {"grant_type": "password", "username": "metapaas",
                "password": "s3cret", "client_id": "GenesisCoreClientId",
                "client_secret": "GenesisCoreSecret",
                "scope": "project:" + PROJECT, "ttl": "86400"}
        form.update(over)
        return self.call("POST", "/v1/iam/clients/%s/actions/get_token/invoke"
                         % ZERO, form=form, token=False)

    def login(self):
        status, body = self.grant()
        self.assertEqual(status, 200)
        self.token = body["access_token"]
        return body

    def control(self, **change):
        return self.call("POST", "/_fake/control", body=change, base=self.root)

    def state(self):
        return self.call("GET", "/_fake/state", base=self.root)[1]

    def wait_status(self, path, want, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, body = self.call("GET", path)
            if status == 200 and body["status"] == want:
                return body
            time.sleep(0.02)
        self.fail("%s never became %s" % (path, want))

    def test_token_grant(self):
        body = self.login()
        for key in ("access_token", "token_type", "expires_at", "expires_in",
                    "id_token", "refresh_token", "refresh_expires_in", "scope"):
            self.assertIn(key, body)
        self.assertEqual(body["scope"], "project:" + PROJECT)
        self.assertEqual(body["expires_in"], 2)  # capped by the fake's ttl
        self.assertEqual(len(body["access_token"].split(".")), 3)
        # a JSON body is refused: the endpoint takes a form
        status, err = self.call(
            "POST", "/v1/iam/clients/%s/actions/get_token/invoke" % ZERO,
            body={"grant_type": "password"}, token=False)
        self.assertEqual(status, 400)
        self.assertEqual(set(err), {"type", "code", "message"})
        self.assertEqual(self.grant(client_secret="nope")[0], 401)
        self.assertEqual(self.grant(password="nope")[0], 401)
        self.assertEqual(self.grant(scope="project:" + OTHER)[0], 403)
        status, again = self.grant(grant_type="refresh_token",
                                   refresh_token=body["refresh_token"])
        self.assertEqual(status, 200)
        self.assertNotEqual(again["access_token"], body["access_token"])
        # a refresh token is single use
        self.assertEqual(self.grant(grant_type="refresh_token",
                                    refresh_token=body["refresh_token"])[0], 401)

    def test_token_expires(self):
        self.login()
        self.assertEqual(self.call("GET", "/v1/compute/sets/")[0], 200)
        time.sleep(2.1)
        status, err = self.call("GET", "/v1/compute/sets/")
        self.assertEqual(status, 401)
        self.assertEqual(err["code"], 401)
        self.login()
        self.control(expire_tokens=True)
        self.assertEqual(self.call("GET", "/v1/compute/sets/")[0], 401)

    def test_prefix_and_auth(self):
        self.assertEqual(self.call("GET", "/v1/compute/sets/")[0], 401)
        self.login()
        status, _ = self.call("GET", "/v1/compute/sets/", base=self.root)
        self.assertEqual(status, 404)  # without the prefix

    def test_node_set_cycle(self):
        self.login()
        path = "/v1/compute/sets/" + SET
        status, err = self.call("GET", path)
        self.assertEqual(status, 404)
        self.assertEqual(err["type"], "NotFoundError")
        self.assertEqual(set(err), {"type", "code", "message"})
        self.assertEqual(self.call("POST", "/v1/compute/sets/",
                                   node_set(OTHER))[0], 403)
        bad = node_set()
        bad["disk_spec"]["disks"][0].pop("image")
        self.assertEqual(self.call("POST", "/v1/compute/sets/", bad)[0], 400)
        ro = dict(node_set(), status="ACTIVE")
        status, err = self.call("POST", "/v1/compute/sets/", ro)
        self.assertEqual((status, err["message"]),
                         (403, "Permission denied for field status."))
        status, created = self.call("POST", "/v1/compute/sets/", node_set())
        self.assertEqual(status, 201)
        self.assertEqual((created["status"], created["nodes"]), ("NEW", {}))
        for key, value in node_set().items():
            self.assertEqual(created[key], value)  # echoed byte-identically
        self.assertEqual(self.call("POST", "/v1/compute/sets/",
                                   node_set())[0], 409)
        active = self.wait_status(path, "ACTIVE")
        self.assertEqual(len(active["nodes"]), 1)
        node, entry = next(iter(active["nodes"].items()))
        self.assertEqual(list(entry), ["ipv4"])
        self.assertTrue(entry["ipv4"].startswith("127."))
        # the keys action is a GET, without invoke
        status, keys = self.call("GET", path + "/actions/get_private_keys")
        self.assertEqual(status, 200)
        self.assertEqual(list(keys), [node])
        self.assertEqual(len(keys[node]), 44)
        self.assertEqual(self.call("POST", path + "/actions/get_private_keys",
                                   {})[0], 405)
        self.assertEqual(self.call(
            "GET", path + "/actions/get_private_keys/invoke")[0], 404)
        status, updated = self.call("PUT", path, {"cores": 2})
        self.assertEqual((status, updated["status"]), (200, "IN_PROGRESS"))
        self.assertEqual(self.call("PUT", path, {"project_id": OTHER})[0], 403)
        self.wait_status(path, "ACTIVE")
        listed = self.call("GET", "/v1/compute/sets/?project_id=" + PROJECT)[1]
        self.assertEqual([s["uuid"] for s in listed], [SET])
        self.assertEqual(self.call("DELETE", path), (204, None))
        self.assertEqual(self.call("GET", path)[0], 404)
        self.assertEqual(self.call("DELETE", path)[0], 404)
        self.assertEqual(self.state()["keys"], {})

    def config_value(self, node):
        return {"uuid": CONFIG, "name": node, "project_id": PROJECT,
                "path": "/etc/exordos_metapaas/mail.env",
                "target": {"kind": "node", "node": node},
                "body": {"kind": "text", "content": "MAIL_DOMAIN=x\n"},
                "on_change": {"kind": "shell", "command": "systemctl restart x"},
                "mode": "0640", "owner": "root", "group": "root"}

    def test_config_cycle(self):
        self.login()
        self.call("POST", "/v1/compute/sets/", node_set())
        active = self.wait_status("/v1/compute/sets/" + SET, "ACTIVE")
        node = next(iter(active["nodes"]))
        path = "/v1/config/configs/" + CONFIG
        self.assertEqual(self.call("GET", path)[0], 404)
        bad = dict(self.config_value(node), mode="640")
        self.assertEqual(self.call("POST", "/v1/config/configs/", bad)[0], 400)
        status, created = self.call("POST", "/v1/config/configs/",
                                    self.config_value(node))
        self.assertEqual((status, created["status"]), (201, "NEW"))
        self.wait_status(path, "ACTIVE")
        status, updated = self.call("PUT", path, {"mode": "0600"})
        self.assertEqual((status, updated["status"]), (200, "NEW"))
        self.wait_status(path, "ACTIVE")
        # Core deletes the configs of nodes that are gone
        self.call("DELETE", "/v1/compute/sets/" + SET)
        self.assertEqual(self.call("GET", path)[0], 404)

    def test_failure_modes(self):
        self.login()
        self.control(fail="503", fail_count=1)
        status, err = self.call("GET", "/v1/compute/sets/")
        self.assertEqual((status, err["code"]), (503, 503))
        self.assertEqual(self.call("GET", "/v1/compute/sets/")[0], 200)
        self.control(malformed="garbage")
        status, raw = self.call("GET", "/v1/compute/sets/")
        self.assertEqual((status, raw), (200, b'{"status": "ACTI'))
        self.control(malformed="shape")
        self.assertEqual(self.call("GET", "/v1/compute/sets/")[1]["uuid"], 42)
        self.control(malformed=None)
        self.control(slow_ms=300)
        t = time.time()
        self.call("GET", "/v1/compute/sets/")
        self.assertGreaterEqual(time.time() - t, 0.3)
        self.control(slow_ms=0)
        self.call("POST", "/v1/compute/sets/", node_set())
        self.control(error_set=SET, reason="no capacity")
        self.wait_status("/v1/compute/sets/" + SET, "ERROR")
        calls = self.state()["calls"]
        self.assertIn({"method": "GET", "route": "sets", "status": 503}, calls)

    def test_external_nodes(self):
        self.tearDown()
        self.setUp_external()
        self.login()
        self.call("POST", "/v1/compute/sets/", node_set())
        path = "/v1/compute/sets/" + SET
        self.wait_status(path, "IN_PROGRESS")
        time.sleep(0.2)
        self.assertEqual(self.call("GET", path)[1]["nodes"], {})
        node = "11111111-2222-3333-4444-555555555555"
        key = "A" * 43 + "="
        self.call("POST", "/_fake/sets/%s/nodes" % SET, base=self.root,
                  body={"nodes": {node: {"ipv4": "127.9.0.1", "key": key}},
                        "status": "ACTIVE"})
        got = self.call("GET", path)[1]
        self.assertEqual(got["nodes"], {node: {"ipv4": "127.9.0.1"}})
        self.assertEqual(self.call("GET", path + "/actions/get_private_keys")[1],
                         {node: key})

    def setUp_external(self):
        self.dir = tempfile.mkdtemp()
        pw = os.path.join(self.dir, "pw")
        with open(pw, "w", encoding="utf-8") as f:
            f.write("s3cret")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fake_core", "--project", PROJECT,
             "--password-file", pw, "--tick-ms", "50", "--external-nodes"],
            cwd=HERE, stdout=subprocess.PIPE, text=True)
        self.base = self.root = self.proc.stdout.readline().split()[1]


NODE = "11111111-2222-3333-4444-555555555555"
AGENT = "239bb923-73ae-5e7f-a9be-30e0a13dff80"  # uuid5(NODE, "s3aas")
RES = "a1b2c3d4-e5f6-7890-a1b2-c3d4e5f67890"


class FakeCoreUa(unittest.TestCase):
    """The Orch and Status APIs of the EM path (fake_core/ua.py) against
    upstream's specification (docs/agent-protocol.md §2-§5): its hash vectors, the node header and
    key row, the payload's full and light answers, the strict get_payload
    arguments, the Status API's bodies and read-only timestamps."""

    setUp = FakeCore.setUp
    tearDown = FakeCore.tearDown
    call = FakeCore.call

    def ua(self, method, path, body=None, node=NODE):
        headers = {}
        data = None
        if node is not None:
            headers["X-Genesis-Node-UUID"] = node
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return self.call_raw(method, self.base + path, data, headers)

    def call_raw(self, method, url, data, headers):
        req = urllib.request.Request(url, data=data, headers=headers,
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def register(self):
        self.call("POST", "/_fake/ua/nodes", body={"nodes": [NODE]},
                  base=self.root)
        agent = {"uuid": AGENT, "name": "Universal Agent 239bb923",
                 "capabilities": {"capabilities": ["demo_vm"]},
                 "facts": {"facts": []}, "node": NODE, "status": "ACTIVE"}
        self.assertEqual(self.ua("POST", "/status/v1/agents/", agent)[0], 201)

    def test_ua_hash_vectors(self):
        sys.path.insert(0, HERE)
        from fake_core import ua
        self.assertEqual(ua.calc_hash([]), "831154110e30ac6a")
        self.assertEqual(ua.calc_hash({}), "1349cde127705c16")
        vm = {"cores": 1, "name": "vm", "ram": 1024, "uuid": RES}
        self.assertEqual(ua.calc_hash(vm), "e5ecd78270703c31")
        self.assertEqual(ua.calc_hash(["e5ecd78270703c31"]),
                         "486e18f02c531d23")
        self.assertEqual(ua.res_uuid(RES, "demo_vm"),
                         "bce5d269-12be-52b0-90df-0191f1a39ace")

    def test_ua_node_rules(self):
        status, body = self.ua("GET", "/orch/v1/agents/" + AGENT, node=None)
        self.assertEqual(status, 500)
        self.assertEqual(self.ua("GET", "/orch/v1/agents/" + AGENT)[0], 404)
        self.register()
        self.assertEqual(self.ua("GET", "/orch/v1/agents/" + AGENT)[0], 200)
        self.assertEqual(self.ua("GET", "/status/v1/node_verifiers/%s/"
                                 "actions/verify" % NODE), (200, {"valid": True}))
        self.assertEqual(self.ua("GET", "/status/v1/node_verifiers/%s/"
                                 "actions/verify" % AGENT)[0], 404)
        self.assertEqual(self.ua("GET", "/orch/v1/agents/")[0], 405)
        self.assertEqual(self.ua("GET", "/status/v1/kind/demo_vm/resources/")[0],
                         405)

    def test_ua_payload_cycle(self):
        self.register()
        vm = {"cores": 1, "name": "vm", "ram": 1024, "uuid": RES}
        self.call("POST", "/_fake/ua/targets", base=self.root, body={
            "agent": AGENT, "resources": [
                {"kind": "demo_vm", "uuid": RES, "value": vm}]})
        get = "/orch/v1/agents/%s/actions/get_payload" % AGENT
        status, p = self.ua("GET", get + "?hash=&version=3")
        self.assertEqual(status, 200)
        self.assertEqual(p["hash"], "486e18f02c531d23")
        self.assertEqual(p["version"], 0)
        self.assertEqual(p["facts"], {"demo_vm": {"resources": []}})
        target = p["capabilities"]["demo_vm"]["resources"][0]
        self.assertEqual(target["hash"], "e5ecd78270703c31")
        self.assertEqual(target["res_uuid"],
                         "bce5d269-12be-52b0-90df-0191f1a39ace")
        self.assertNotIn("agent", target)
        light = self.ua("GET", get + "?hash=486e18f02c531d23&version=3")[1]
        self.assertEqual(light, {"capabilities": {}, "facts": {},
                                 "hash": "486e18f02c531d23", "version": 3})
        status, err = self.ua("GET", get + "?hash=&version=0&wait=5")
        self.assertEqual((status, err["type"]), (500, "TypeError"))
        actual = dict(vm, status="ACTIVE",
                      created_at="2022-01-01 00:00:00.000000")
        res = {"uuid": RES, "kind": "/v1/kind/demo_vm",
               "res_uuid": "bce5d269-12be-52b0-90df-0191f1a39ace",
               "value": actual, "hash": "e5ecd78270703c31",
               "full_hash": "8e9ed58523af9b50", "status": "ACTIVE",
               "node": NODE}
        status, back = self.ua("POST", "/status/v1/kind/demo_vm/resources/",
                               res)
        self.assertEqual((status, back["kind"]), (201, "/v1/kind/demo_vm"))
        self.assertEqual(self.ua("POST", "/status/v1/kind/demo_vm/resources/",
                                 res)[0], 409)
        self.assertEqual(self.ua("GET", get + "?hash=&version=0")[1]["hash"],
                         "37a273eaeebbb63f")
        one = "/status/v1/kind/demo_vm/resources/" + RES
        self.assertEqual(self.ua("PUT", one, {"status": "ERROR",
                                              "bogus": 1})[0], 400)
        self.assertEqual(self.ua("PUT", one, {"updated_at": "x"})[1]["type"],
                         "ReadOnlyProperty")
        status, back = self.ua("PUT", one, {"value": actual, "hash": "h",
                                            "full_hash": "f",
                                            "status": "ERROR"})
        self.assertEqual((status, back["status"]), (200, "ERROR"))
        self.assertEqual(self.ua("DELETE", one)[0], 204)


if __name__ == "__main__":
    unittest.main()
