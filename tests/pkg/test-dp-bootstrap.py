# Suite dp: exordos/images/dp_bootstrap.sh run against a fake lib_bootstrap.sh
# and fake systemctl/mount on PATH (docs/mail.md §5.3, cases
# 6-10): the exact call sequence, failure propagation from every stage, a
# missing library, retry after a storage failure and lost mounts, judged by
# the AssertPathIsMountPoint= lines of the real configure unit.
import grp
import os
import pwd
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkgtest  # noqa: E402

SCRIPT = os.path.join(pkgtest.SOURCE_ROOT, "exordos", "images", "dp_bootstrap.sh")
CONFIGURE = "exordos-metapaas-mail-configure"
AGENT = "exordos-metapaas-mail-agent"
SUCCESS_CALLS = [
    "find_persistent_disk",
    "prepare_persistent_disk /dev/test-disk /persist xfs",
    "migrate_to_persistent_restart /var/log /persist/var/log systemd-journald rsyslog",
    "persist_migrate_complete",
    f"systemctl --no-block enable --now {CONFIGURE}",
]
STAGES = ["find_persistent_disk", "prepare_persistent_disk",
          "migrate_to_persistent_restart", "persist_migrate_complete"]

# The platform library, reduced to what the script calls. Each function logs
# its call and fails with 37 when FAKE_FAIL names it; mounts go through the
# fake `mount`, which keeps the mount table the unit assertions are judged by.
FAKE_LIB = r'''
PERSISTENT_MOUNT=/persist
_fake() {
  printf '%s\n' "$*" >>"$FAKE_CALLS"
  if [ "${FAKE_FAIL:-}" = "$1" ]; then return 37; fi
}
find_persistent_disk() { _fake find_persistent_disk || return; echo /dev/test-disk; }
prepare_persistent_disk() { _fake prepare_persistent_disk "$@" || return; mount "$1" "$2"; }
migrate_to_persistent_restart() {
  _fake migrate_to_persistent_restart "$@" || return; mount --bind "$2" "$1"
}
persist_migrate_complete() { _fake persist_migrate_complete || return; touch "$FAKE_STATE/migrated"; }
'''
FAKE_MOUNT = r'''#!/bin/sh
# fake mount: records the mount point (last argument) once
eval "target=\${$#}"
grep -qx "$target" "$FAKE_STATE/mounts" 2>/dev/null || echo "$target" >>"$FAKE_STATE/mounts"
'''
FAKE_SYSTEMCTL = r'''#!/bin/sh
printf 'systemctl %s\n' "$*" >>"$FAKE_CALLS"
[ "${FAKE_FAIL:-}" = systemctl ] && exit 37
exit 0
'''


def write(path, text, mode=0o644):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


class Node:
    """A fake node: PATH with the fakes, the library, call log and mount table."""

    def __init__(self, root):
        self.root = root
        self.bin = os.path.join(root, "bin")
        self.state = os.path.join(root, "state")
        self.calls = os.path.join(root, "calls")
        self.lib = os.path.join(root, "lib_bootstrap.sh")
        os.makedirs(self.bin)
        os.makedirs(self.state)
        write(self.lib, FAKE_LIB)
        write(os.path.join(self.bin, "mount"), FAKE_MOUNT, 0o755)
        write(os.path.join(self.bin, "systemctl"), FAKE_SYSTEMCTL, 0o755)
        write(os.path.join(self.bin, "sudo"), '#!/bin/sh\necho "sudo $*" >>"$FAKE_CALLS"\nexec "$@"\n', 0o755)

    def run(self, fail=None, lib=None):
        open(self.calls, "w").close()
        env = dict(os.environ)
        env.update(PATH=self.bin + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
                   EXORDOS_BOOTSTRAP_LIB=lib or self.lib, EXM_BOOTSTRAP_ROOT=self.root,
                   FAKE_CALLS=self.calls, FAKE_STATE=self.state)
        env.pop("FAKE_FAIL", None)
        if fail:
            env["FAKE_FAIL"] = fail
        return pkgtest.run(["bash", SCRIPT], env=env, timeout=60)

    def call_log(self):
        with open(self.calls, encoding="utf-8") as f:
            return f.read().splitlines()

    def mounts(self):
        try:
            with open(os.path.join(self.state, "mounts"), encoding="utf-8") as f:
                return set(f.read().split())
        except FileNotFoundError:
            return set()

    def lose_mount(self, path):
        left = self.mounts() - {path}
        write(os.path.join(self.state, "mounts"), "".join(p + "\n" for p in sorted(left)))


def assertions_hold(node, asserts):
    """What systemd would decide for the configure unit on this node."""
    return all(p in node.mounts() for p in asserts)


def agent_untouched(calls):
    return not any(AGENT in c for c in calls)


# The directories on the data disk the agent unit may write, with the owner
# and mode configure gives them (agent/dp/exm-dp-configure.c ensure_dirs()).
PERSIST_DIRS = {
    "/persist/exordos_mail/usage": ("root", "root", 0o700),
    "/persist/exordos_mail/exim-db": ("Debian-exim", "Debian-exim", 0o750),
    "/persist/exordos_mail/tls": ("root", "Debian-exim", 0o750),
    "/persist/exordos_mail/capture": ("Debian-exim", "Debian-exim", 0o750),
}


def case_agent_paths(t, root):
    """systemd leaves a ReadWritePaths=- directory that is missing when the
    unit starts read-only for it until it restarts, and the agent may start
    before configure: bootstrap (which the agent is ordered after) must make
    every such directory on /persist (docs/tls.md §8)."""
    unit = pkgtest.parse_unit(pkgtest.built_unit(AGENT + ".service"))
    paths = [p[1:] for p in pkgtest.unit_values(unit, "Service", "ReadWritePaths")
             if p.startswith("-/persist/")]
    t.eq(sorted(paths), sorted(PERSIST_DIRS), "the agent unit's optional /persist paths")
    for path in paths:
        want = PERSIST_DIRS.get(path)
        full = os.path.join(root, path.lstrip("/"))
        st = os.stat(full) if os.path.isdir(full) else None
        got = None if st is None else (pwd.getpwuid(st.st_uid).pw_name,
                                       grp.getgrgid(st.st_gid).gr_name,
                                       stat.S_IMODE(st.st_mode))
        t.eq(got, want, f"success: bootstrap made {path} before the agent starts")


def case_success(t, asserts):
    with pkgtest.TempDir() as d:
        node = Node(d)
        # the exim4 package made the spool with a db/ of its own
        os.makedirs(os.path.join(d, "var", "spool", "exim4", "db"))
        r = node.run()
        t.eq(r.returncode, 0, "success: exit 0")
        hints = os.path.join(d, "persist", "exordos_mail", "exim-db")
        spool_db = os.path.join(d, "var", "spool", "exim4", "db")
        hst = os.stat(hints) if os.path.isdir(hints) else None
        t.ok(hst is not None and stat.S_IMODE(hst.st_mode) == 0o750
             and hst.st_uid == pwd.getpwnam("Debian-exim").pw_uid,
             "success: the hints databases' directory is on the data disk, 0750 Debian-exim")
        t.ok(os.path.islink(spool_db) and os.readlink(spool_db) == hints,
             "success: the spool's db/ links to it (ratelimit state survives the root disk)")
        usage = os.path.join(d, "persist", "exordos_mail", "usage")
        ust = os.stat(usage) if os.path.isdir(usage) else None
        t.ok(ust is not None and stat.S_IMODE(ust.st_mode) == 0o700 and ust.st_uid == 0
             and ust.st_gid == 0,
             "success: the agent's usage state directory is on the data disk, root 0700")
        case_agent_paths(t, d)
        t.eq(node.call_log(), SUCCESS_CALLS, "success: exact call sequence")
        t.ok("Bootstrap completed successfully." in r.stdout, "success: completion message", r.stdout)
        mail_dir = os.path.join(d, "persist", "exordos_mail")
        st = os.stat(mail_dir) if os.path.isdir(mail_dir) else None
        t.ok(st is not None and stat.S_IMODE(st.st_mode) == 0o710,
             "success: /persist/exordos_mail created 0710")
        t.ok(st is not None and st.st_uid == 0 and st.st_gid == grp.getgrnam("Debian-exim").gr_gid,
             "success: /persist/exordos_mail owned by root:Debian-exim")
        os.chmod(mail_dir, 0o700)
        os.chown(mail_dir, 0, 0)
        r = node.run()
        st = os.stat(mail_dir)
        t.ok(r.returncode == 0 and stat.S_IMODE(st.st_mode) == 0o710 and st.st_gid != 0,
             "rerun: an existing 0700 root:root /persist/exordos_mail is fixed")
        t.ok(assertions_hold(node, asserts), "success: configure's mount assertions hold")


def case_stage_fails(t, stage, asserts):
    with pkgtest.TempDir() as d:
        node = Node(d)
        r = node.run(fail=stage)
        calls = node.call_log()
        t.eq(r.returncode, 37, f"{stage} fails: its exit code is propagated")
        t.ok(calls and calls[-1].startswith(stage), f"{stage} fails: the sequence stops there", calls)
        t.ok(not any(CONFIGURE in c for c in calls), f"{stage} fails: configure is not queued", calls)
        t.ok(agent_untouched(calls), f"{stage} fails: agent never touched")
        t.ok("Bootstrap completed" not in r.stdout, f"{stage} fails: no completion message")
        if stage != "persist_migrate_complete":
            t.ok(not assertions_hold(node, asserts), f"{stage} fails: configure's mount assertions fail")
            # Case 9: a clean rerun repairs the node.
            r = node.run()
            t.ok(r.returncode == 0 and node.call_log() == SUCCESS_CALLS,
                 f"{stage} fails: a clean rerun runs the full sequence", node.call_log())
            t.ok(assertions_hold(node, asserts), f"{stage} fails: after the rerun the assertions hold")
            t.ok(agent_untouched(node.call_log()), f"{stage} fails: agent untouched by the rerun")


def case_other_failures(t):
    with pkgtest.TempDir() as d:
        node = Node(d)
        r = node.run(fail="systemctl")
        t.ok(r.returncode != 0 and "Bootstrap completed" not in r.stdout,
             "systemctl fails: bootstrap fails without the completion message")
    with pkgtest.TempDir() as d:
        node = Node(d)
        write(os.path.join(d, "persist"), "not a directory")
        r = node.run()
        calls = node.call_log()
        t.ok(r.returncode != 0 and not any(CONFIGURE in c for c in calls),
             "/persist/exordos_mail cannot be created: fails before configure is queued", calls)
    with pkgtest.TempDir() as d:
        node = Node(d)
        r = node.run(lib=os.path.join(d, "nowhere", "lib_bootstrap.sh"))
        t.ok(r.returncode != 0, "missing library: non-zero exit")
        t.eq(node.call_log(), [], "missing library: no calls")
        t.ok("lib_bootstrap.sh" in r.stderr, "missing library: says which file", r.stderr)


def case_lost_mount(t, lost, asserts):
    with pkgtest.TempDir() as d:
        node = Node(d)
        node.run()
        node.lose_mount(lost)
        t.ok(os.path.exists(os.path.join(node.state, "migrated")) and not assertions_hold(node, asserts),
             f"{lost} lost: assertions fail although the migration marker exists")


def main():
    try:
        grp.getgrnam("Debian-exim")
    except KeyError:
        pkgtest.peer_missing("group Debian-exim (exim4-daemon-light)")
    if os.geteuid() != 0:
        pkgtest.peer_missing("root (dp_bootstrap.sh chowns /persist/exordos_mail)")
    t = pkgtest.Tap()
    unit = pkgtest.parse_unit(pkgtest.built_unit(CONFIGURE + ".service"))
    asserts = pkgtest.unit_values(unit, "Unit", "AssertPathIsMountPoint")
    t.eq(sorted(asserts), ["/persist", "/var/log"], "configure unit asserts the two mounts")
    case_success(t, asserts)
    for stage in STAGES:
        case_stage_fails(t, stage, asserts)
    case_other_failures(t)
    for lost in ("/persist", "/var/log"):
        case_lost_mount(t, lost, asserts)
    t.done()


main()
