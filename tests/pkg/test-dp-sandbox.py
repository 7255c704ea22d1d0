# Suite dp: the real exordos-mail-configure and mail agent, run in a mount
# namespace that reproduces ProtectSystem=strict + ReadWritePaths= of their
# units on a sandbox root (the DP code's --root): the sandbox is read-only
# except the unit's ReadWritePaths. Configure (mail.env → keys, exim4.conf,
# DKIM TXT) and the agent (`apply` a mail_instance_node payload → passwd,
# mail_meta.json) must succeed inside exactly that write set; negative
# controls drop one writable path and must fail, which proves the sandbox
# bites. Directories marked `preexisting` in data/dp-write-paths.txt are
# created beforehand, as the image and the unit's ExecStartPre do.
import grp
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkgtest  # noqa: E402

# Runs "$@" after making $ROOT read-only and re-binding each $RW_* writable.
NS_SCRIPT = r'''
set -eu
root=$1; shift
count=$1; shift
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
while [ "$count" -gt 0 ]; do
  mount --bind "$root$1" "$root$1"
  mount -o remount,bind,rw "$root$1"
  shift; count=$((count - 1))
done
exec "$@"
'''
DOMAIN = "mail.example.test"
HASH = "$6$saltsalt$" + "a" * 85 + "."  # last char carries 2 bits: one of ./01


def rw_paths(unit):
    u = pkgtest.parse_unit(pkgtest.built_unit(unit))
    return [p.lstrip("-+") for p in pkgtest.unit_values(u, "Service", "ReadWritePaths")]


def preexisting():
    out = []
    with open(os.path.join(pkgtest.SOURCE_ROOT, "data", "dp-write-paths.txt"), encoding="utf-8") as f:
        for line in f:
            parts = line.split("#", 1)[0].split()
            if len(parts) == 2 and parts[0] == "preexisting":
                out.append(parts[1].rstrip("/"))
    return out


def run_image_script(name, env):
    """exordos/images/<name> against the sandbox, stubs of tests/dp/node-stubs first on PATH."""
    stubs = os.path.join(pkgtest.SOURCE_ROOT, "tests", "dp", "node-stubs")
    full = dict(os.environ)
    full.update(env, PATH=stubs + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
    r = pkgtest.run(["bash", os.path.join(pkgtest.SOURCE_ROOT, "exordos", "images", name)],
                    env=full, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"{name}: {r.stderr[-2000:]}")


def make_node(root):
    """A freshly booted node: the image and first boot as dp_install.sh and
    dp_bootstrap.sh lay them out (the same stubs as the dp fixture), mail.env."""
    gid = grp.getgrnam("Debian-exim").gr_gid
    run_image_script("dp_install.sh", {"EXM_DESTDIR": root, "EXM_SRC_DIR": pkgtest.SOURCE_ROOT,
                                       "EXM_BUILD_DIR": os.path.join(root, "var/tmp/build")})
    run_image_script("dp_bootstrap.sh", {
        "EXM_BOOTSTRAP_ROOT": root,
        "EXORDOS_BOOTSTRAP_LIB": os.path.join(pkgtest.SOURCE_ROOT, "tests", "dp", "node-stubs",
                                              "lib_bootstrap.sh")})
    for d in preexisting():
        path = os.path.join(root, d.lstrip("/"))
        os.makedirs(path, exist_ok=True)
        os.chown(path, 0, gid)
    with open(os.path.join(root, "etc/exordos_metapaas/mail.env"), "w", encoding="utf-8") as f:
        f.write(f"MAIL_DOMAIN={DOMAIN}\n")


def in_sandbox(root, writable, argv):
    missing = [p for p in writable if not os.path.isdir(os.path.join(root, p.lstrip("/")))]
    if missing:
        return None, f"ReadWritePaths missing on the node: {missing}"
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", NS_SCRIPT, "sh",
           root, str(len(writable))] + writable + argv
    r = pkgtest.run(cmd, timeout=120)
    return r.returncode, r.stdout + r.stderr


def configure(root, binary, writable):
    return in_sandbox(root, writable, [binary, "--root", root, "--restart-command", "", "--no-verify"])


def agent_apply(root, binary, writable, payload_file):
    return in_sandbox(root, writable, [binary, "apply", "--payload", payload_file, "--root", root])


def write_payload(tmp):
    path = os.path.join(tmp, "payload.json")
    value = {"uuid": "8f0c6a52-5c4e-4b7e-9a53-2f0f5a0c1d11", "name": "mail-prod", "domain": DOMAIN,
             "accounts": {"alice": {"password_hash": HASH, "active": True},
                          "bob": {"password_hash": HASH, "active": False}}}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)
    return path


def check_configure(t, root, rc, out):
    t.ok(rc == 0, "configure succeeds inside its unit's write set", out)
    for rel in ("etc/exim4/exim4.conf", "etc/exim4/dkim/platform.txt", "etc/exim4/passwd",
                "persist/exordos_mail/dkim/platform.private", "persist/exordos_mail/tls/exim.key"):
        t.ok(os.path.isfile(os.path.join(root, rel)), f"configure wrote /{rel}")


def check_agent(t, root, binary, writable, payload):
    rc, out = agent_apply(root, binary, writable, payload)
    t.ok(rc == 0, "agent apply succeeds inside its unit's write set", out)
    try:
        with open(os.path.join(root, "etc/exim4/passwd"), encoding="utf-8") as f:
            passwd = f.read()
    except OSError as e:
        passwd = str(e)
    t.eq(passwd, f"alice@{DOMAIN}:{HASH}\n", "agent wrote passwd (active accounts only)")
    t.ok(os.path.isfile(os.path.join(root, "var/lib/exordos/universal_agent/mail_meta.json")),
         "agent wrote mail_meta.json")


def check_controls(t, tmp, configure_bin, agent_bin, conf_rw, agent_rw, payload):
    """Without one writable path the same runs fail: the sandbox is real."""
    root = os.path.join(tmp, "control-configure")
    os.makedirs(root)
    make_node(root)
    rc, out = configure(root, configure_bin, [p for p in conf_rw if p != "/persist/exordos_mail"])
    t.ok(rc not in (0, None) and "Read-only file system" in out,
         "control: configure fails when /persist/exordos_mail is read-only", out)
    root = os.path.join(tmp, "control-agent")
    os.makedirs(root)
    make_node(root)
    configure(root, configure_bin, conf_rw)
    rc, out = agent_apply(root, agent_bin, [p for p in agent_rw if "universal_agent" not in p], payload)
    t.ok(rc not in (0, None) and "Read-only file system" in out,
         "control: agent fails when its work dir is read-only", out)


def main():
    if os.geteuid() != 0:
        pkgtest.peer_missing("root (mount namespaces)")
    pkgtest.require_program("unshare")
    try:
        grp.getgrnam("Debian-exim")
    except KeyError:
        pkgtest.peer_missing("group Debian-exim (exim4-daemon-light)")
    bins = [os.path.join(pkgtest.BUILD_ROOT, "agent", n)
            for n in ("exordos-mail-configure", "exordos-metapaas-mail-agent")]
    if not pkgtest.BUILD_ROOT or not all(os.access(b, os.X_OK) for b in bins):
        pkgtest.peer_missing(f"DP binaries {bins} (agent/ not built yet?)")
    probe = pkgtest.run(["unshare", "-m", "true"])
    if probe.returncode != 0:
        pkgtest.peer_missing("mount namespaces (unshare -m): " + probe.stderr.strip())
    conf_rw = rw_paths("exordos-metapaas-mail-configure.service")
    agent_rw = rw_paths("exordos-metapaas-mail-agent.service")
    with pkgtest.TempDir() as tmp:
        root = os.path.join(tmp, "node")
        os.makedirs(root)
        make_node(root)
        payload = write_payload(tmp)
        # The DP libraries may still be placeholders while they are written.
        rc, out = configure(root, bins[0], conf_rw)
        if "not implemented yet" in out:
            pkgtest.peer_missing("a working exordos-mail-configure (libexm-mail placeholders)")
        t = pkgtest.Tap()
        check_configure(t, root, rc, out)
        check_agent(t, root, bins[1], agent_rw, payload)
        rc, out = configure(root, bins[0], conf_rw)
        t.ok(rc == 0, "configure reruns inside its write set (keys kept)", out)
        check_controls(t, tmp, bins[0], bins[1], conf_rw, agent_rw, payload)
    t.done()


if __name__ == "__main__":
    main()
