# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""python3 -m fake_core [options]: serve a fake Exordos Core on 127.0.0.1.

Prints `listening http://127.0.0.1:<port><prefix>` on stdout once it
accepts connections (and writes the port to --port-file).  Exits on
SIGTERM/SIGINT and, with --die-with-parent, when its parent goes away, so a
test that crashes leaves nothing behind.
"""

import argparse
import importlib
import os
import signal
import sys
import threading
import time

from . import AREAS, control
from .server import Clock, Router, Server, Settings, State


def parse():
    p = argparse.ArgumentParser(prog="fake_core")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--prefix", default="", help="e.g. /api/core")
    p.add_argument("--project", required=True)
    p.add_argument("--user", default="metapaas")
    p.add_argument("--password-file", required=True)
    p.add_argument("--client-id", default="GenesisCoreClientId")
    p.add_argument("--client-secret", default="GenesisCoreSecret")
    p.add_argument("--token-ttl", type=int, default=3600)
    p.add_argument("--tick-ms", type=int, default=200)
    p.add_argument("--external-nodes", action="store_true")
    p.add_argument("--die-with-parent", action="store_true")
    return p.parse_args()


def watch_parent(server):
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.2)
    threading.Thread(target=server.shutdown, daemon=True).start()


def main():
    args = parse()
    with open(args.password_file, encoding="utf-8") as f:
        password = f.read().strip()
    settings = Settings(prefix=args.prefix.rstrip("/"), project=args.project,
                        user=args.user, password=password,
                        client_id=args.client_id,
                        client_secret=args.client_secret,
                        token_ttl=args.token_ttl, tick=args.tick_ms / 1000.0,
                        external_nodes=args.external_nodes)
    state = State(settings)
    router = Router()
    steps = []
    for name in AREAS:
        area = importlib.import_module("." + name, __package__)
        area.register(router)
        if hasattr(area, "step"):
            steps.append(area.step)
    server = Server(state, router, control.router(), args.port)
    clock = Clock(state, steps)
    clock.start()
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w", encoding="utf-8") as f:
            f.write("%d\n" % port)
        os.rename(args.port_file + ".tmp", args.port_file)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: threading.Thread(
            target=server.shutdown, daemon=True).start())
    if args.die_with_parent:
        threading.Thread(target=watch_parent, args=(server,), daemon=True).start()
    print("listening http://127.0.0.1:%d%s" % (port, settings.prefix), flush=True)
    server.serve_forever()
    clock.stop()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
