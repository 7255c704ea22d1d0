#!/usr/bin/python3
# Prints the SQL that gives the guest's mail agent its `mail_instance_node`
# target in the reference host's store, as the mail plugin's builders would
# (docs/agent-protocol.md): res_uuid = uuid5(uuid, kind), hash and full_hash =
# XXH3-64 of the canonical JSON (xxhsum, Debian's xxhash).
#   seed-target.py AGENT_UUID NODE_UUID DOMAIN USER PASSWORD_HASH
import json
import subprocess
import sys
import uuid

KIND = "mail_instance_node"


def xxh3(text):
    out = subprocess.run(["xxhsum", "-H3", "-"], input=text.encode(), check=True,
                         capture_output=True).stdout.decode()
    return out.split("=")[-1].strip() if "=" in out else out.split()[0]


def quote(text):
    return "'" + text.replace("'", "''") + "'"


def main():
    agent, node, domain, user, pw_hash = sys.argv[1:6]
    value = {"uuid": agent, "name": "mail1", "domain": domain,
             "accounts": {user: {"password_hash": pw_hash, "active": True}}}
    canonical = json.dumps(value, separators=(",", ":"), sort_keys=True)
    h = xxh3(canonical)
    res_uuid = str(uuid.uuid5(uuid.UUID(agent), KIND))
    print("INSERT INTO ua_target_resources (uuid, kind, res_uuid, value, status, hash, "
          "full_hash, node, agent) VALUES (%s, %s, %s, %s::jsonb, 'ACTIVE', %s, %s, %s, %s);"
          % (quote(agent), quote(KIND), quote(res_uuid), quote(canonical), quote(h), quote(h),
             quote(node), quote(agent)))


if __name__ == "__main__":
    main()
