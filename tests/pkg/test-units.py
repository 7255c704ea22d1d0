# Suite dp: the two DP units and the base-agent drop-in, as configured by
# meson: V10 ordering and conditions (docs/mail.md §4.2 and
# §5.3 cases 1-5), the hardening set, nothing that would break configure's
# `systemctl restart exim4`, and ReadWritePaths= that cover every path of
# data/dp-write-paths.txt and nothing else.
import configparser
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkgtest  # noqa: E402

AGENT = "exordos-metapaas-mail-agent.service"
CONFIGURE = "exordos-metapaas-mail-configure.service"
DROPIN = os.path.join(pkgtest.SOURCE_ROOT, "data", "systemd",
                      "exordos-universal-agent.service.d", "20-mail-bootstrap.conf")
BOOTSTRAP = "exordos-bootstrap.service"
AGENT_CONF = os.path.join(pkgtest.SOURCE_ROOT, "data", "exordos_metapaas", "metapaas_mail_agent.conf")
WRITE_PATHS = os.path.join(pkgtest.SOURCE_ROOT, "data", "dp-write-paths.txt")
HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes", "LockPersonality": "yes", "RestrictRealtime": "yes",
    "RestrictNamespaces": "yes", "SystemCallArchitectures": "native", "UMask": "0077",
}


def single(sections, section, key):
    vals = [v for k, v in sections.get(section, []) if k == key]
    return vals[-1] if vals else None


def check_ordering(t, name, sections, network):
    for key in ("Wants", "After"):
        vals = pkgtest.unit_values(sections, "Unit", key)
        t.ok(BOOTSTRAP in vals, f"{name}: {key}= {BOOTSTRAP}", vals)
        if network:
            t.ok("network-online.target" in vals, f"{name}: {key}= network-online.target", vals)
    hard = [v for k in ("Requires", "Requisite", "BindsTo")
            for v in pkgtest.unit_values(sections, "Unit", k)]
    t.ok(BOOTSTRAP not in hard, f"{name}: never Requires/Requisite/BindsTo the bootstrap", hard)


def no_condition_assert(sections):
    return [k for _, k in pkgtest.unit_keys(sections) if k.startswith(("Condition", "Assert"))]


def check_agent(t, u):
    check_ordering(t, "agent", u, True)
    t.eq(single(u, "Install", "WantedBy"), "multi-user.target", "agent: WantedBy=multi-user.target")
    t.eq(single(u, "Service", "Restart"), "on-failure", "agent: Restart=on-failure")
    t.eq(no_condition_assert(u), [], "agent: no Condition/Assert")
    t.eq(pkgtest.unit_values(u, "Unit", "RequiresMountsFor"), [], "agent: no RequiresMountsFor")
    argv = (single(u, "Service", "ExecStart") or "").split()
    t.ok(len(argv) == 4 and argv[0].endswith("/exordos-metapaas-mail-agent") and argv[1:3] == ["run", "--config-file"]
         and argv[3].endswith("/exordos_metapaas/metapaas_mail_agent.conf"),
         "agent: ExecStart runs the daemon with its config", argv)
    # docs/scale.md §2 and §3: the memory of a change is given back (malloc,
    # not GLib's slices) and faulted in again as huge pages
    env = pkgtest.unit_values(u, "Service", "Environment")
    t.ok("G_SLICE=always-malloc" in env, "agent: G_SLICE=always-malloc", env)
    t.ok("GLIBC_TUNABLES=glibc.malloc.hugetlb=1" in env, "agent: malloc asks for huge pages", env)


def check_configure(t, u):
    check_ordering(t, "configure", u, True)
    t.eq(pkgtest.unit_values(u, "Unit", "RequiresMountsFor"), ["/persist", "/var/log"],
         "configure: RequiresMountsFor=/persist /var/log")
    t.eq(pkgtest.unit_values(u, "Unit", "AssertPathIsMountPoint"), ["/persist", "/var/log"],
         "configure: AssertPathIsMountPoint /persist and /var/log")
    t.eq([(s, v) for s, pairs in u.items() for k, v in pairs if k == "ConditionPathExists"],
         [("Unit", "/etc/exordos_metapaas/mail.env")], "configure: ConditionPathExists=mail.env, [Unit] only")
    t.ok("ConditionPathIsMountPoint" not in [k for _, k in pkgtest.unit_keys(u)],
         "configure: no ConditionPathIsMountPoint (a missing mount must fail, not skip)")
    t.eq(single(u, "Service", "Type"), "oneshot", "configure: Type=oneshot")
    t.eq(single(u, "Service", "RemainAfterExit"), "yes", "configure: RemainAfterExit=yes")
    t.ok((single(u, "Service", "ExecStart") or "").endswith("/exordos-mail-configure"),
         "configure: ExecStart exordos-mail-configure")
    t.eq(single(u, "Install", "WantedBy"), "multi-user.target", "configure: WantedBy=multi-user.target")


def allows(values, item):
    """Whether a systemd allow list (or ~deny list) lets item through."""
    if not values:
        return True
    deny = values[0].startswith("~")
    return (item in [v.lstrip("~") for v in values]) != deny


def check_systemctl_survives(t, u):
    """configure ends with `systemctl restart exim4` through PID 1's socket."""
    svc = dict(u.get("Service", []))
    fams = pkgtest.unit_values(u, "Service", "RestrictAddressFamilies")
    t.ok(allows(fams, "AF_UNIX"),
         "configure: AF_UNIX allowed (systemctl talks to PID 1)", fams)
    t.ok(svc.get("PrivateUsers", "no") == "no" and svc.get("DynamicUser", "no") == "no"
         and "User" not in svc, "configure: runs as real root (PID 1 authorises by uid)")
    caps = pkgtest.unit_values(u, "Service", "CapabilityBoundingSet")
    t.ok(allows(caps, "CAP_SYS_ADMIN"), "configure: CAP_SYS_ADMIN stays in the bounding set", caps)
    t.ok(not any(p.lstrip("-").startswith("/run") for p in
                 pkgtest.unit_values(u, "Service", "InaccessiblePaths")),
         "configure: /run stays reachable")


def check_hardening(t, name, u):
    svc = {k: v for k, v in u.get("Service", [])}
    for key, want in HARDENING.items():
        t.eq(svc.get(key), want, f"{name}: {key}={want}")


def read_write_paths():
    out = {}
    with open(WRITE_PATHS, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                unit, path = line.split()
                out.setdefault(unit, []).append(path)
    return out


def covered(path, rw):
    path = path.rstrip("/")
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in rw)


def check_rw(t, name, u, paths):
    rw = [p.lstrip("-+") for p in pkgtest.unit_values(u, "Service", "ReadWritePaths")]
    t.ok(bool(paths), f"{name}: dp-write-paths.txt lists its paths")
    for p in paths:
        t.ok(covered(p, rw), f"{name}: ReadWritePaths covers {p}", rw)
    for r in rw:
        t.ok(any(covered(p, [r]) for p in paths), f"{name}: ReadWritePaths {r} is needed", paths)


def check_preexisting(t, configure, paths):
    """Directories no unit may write: the image or the unit must provide them."""
    pre = [v for k, v in configure.get("Service", []) if k == "ExecStartPre" and v.startswith("+")]
    for p in paths:
        d = p.rstrip("/")
        if d.startswith("/run/"):
            t.ok(any(d in v.split() and "install -d" in v for v in pre),
                 f"preexisting {d}: created by a privileged ExecStartPre of configure", pre)
            continue
        # exim4's packages create them in postinst (dpkg -S does not know them)
        if not os.path.exists("/usr/sbin/exim4"):
            t.note(f"exim4 not installed here: cannot check that it creates {d}")
            continue
        t.ok(os.path.isdir(d), f"preexisting {d}: created by the exim4 packages")


def check_agent_config(t, agent, paths):
    """The shipped agent config: protocol keys, and its files are writable."""
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(AGENT_CONF, encoding="utf-8")
    ua = cp["universal_agent"] if cp.has_section("universal_agent") else {}
    t.eq(ua.get("uuid5_name"), "mailaas", "agent config: uuid5_name = mailaas")
    t.eq(ua.get("long_poll"), "false", "agent config: long_poll off for an upstream CP")
    t.ok(all(ua.get(k, "").startswith("http://") for k in ("orch_endpoint", "status_endpoint")),
         "agent config: orch and status endpoints")
    t.ok("node_uuid" not in ua, "agent config: node_uuid only as a comment (identity override)")
    with open(AGENT_CONF, encoding="utf-8") as f:
        text = " ".join(f.read().replace("#", " ").split())
    # the agent's node uuid is node_uuid, else the DMI system uuid: a comment
    # that names the node-id file must say the agent does not read it
    t.ok("/var/lib/exordos/node-id" not in text
         or "does not read /var/lib/exordos/node-id" in text,
         "agent config: the node uuid source it names is the one the agent reads")
    payload = ua.get("payload_path", "")
    rw = [p.lstrip("-+") for p in pkgtest.unit_values(agent, "Service", "ReadWritePaths")]
    t.ok(covered(payload, rw) and payload in paths, "agent config: payload_path is writable and listed",
         payload)
    t.ok(not covered(ua.get("private_key_path", "/"), ["/var/lib/exordos/exordos_metapaas"]),
         "agent config: the node key stays with the platform's work dir")
    argv = (single(agent, "Service", "ExecStart") or "").split()
    t.ok(argv and argv[-1].endswith("/exordos_metapaas/" + os.path.basename(AGENT_CONF)),
         "agent unit runs with the shipped config file", argv)


def main():
    t = pkgtest.Tap()
    agent = pkgtest.parse_unit(pkgtest.built_unit(AGENT))
    configure = pkgtest.parse_unit(pkgtest.built_unit(CONFIGURE))
    dropin = pkgtest.parse_unit(DROPIN)
    check_agent(t, agent)
    check_configure(t, configure)
    check_ordering(t, "drop-in", dropin, False)
    t.eq(no_condition_assert(dropin), [], "drop-in: no Condition/Assert")
    t.eq(pkgtest.unit_values(dropin, "Unit", "RequiresMountsFor"), [], "drop-in: no RequiresMountsFor")
    check_hardening(t, "agent", agent)
    check_hardening(t, "configure", configure)
    check_systemctl_survives(t, configure)
    paths = read_write_paths()
    t.eq(sorted(paths), ["agent", "configure", "preexisting"],
         "dp-write-paths.txt names the two units and the preexisting directories")
    check_rw(t, "agent", agent, paths.get("agent", []))
    check_rw(t, "configure", configure, paths.get("configure", []))
    check_preexisting(t, configure, paths.get("preexisting", []))
    check_agent_config(t, agent, paths.get("agent", []))
    t.done()


main()
