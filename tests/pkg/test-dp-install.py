# Suite dp: exordos/images/dp_install.sh run against fake apt-get, meson and
# systemctl on PATH, installing under a DESTDIR-like root (EXM_DESTDIR):
# packages, the meson build with prefix /usr, /etc/exim4/passwd 0640
# root:Debian-exim, the first-boot script, exactly the agent enabled, and
# unbound as exim's validating resolver (DANE, docs/tls.md §7).
import grp
import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkgtest  # noqa: E402

SCRIPT = os.path.join(pkgtest.SOURCE_ROOT, "exordos", "images", "dp_install.sh")
BOOTSTRAP = os.path.join(pkgtest.SOURCE_ROOT, "exordos", "images", "dp_bootstrap.sh")
AGENT = "exordos-metapaas-mail-agent"
BOOTSTRAP_DST = "var/lib/exordos/bootstrap/scripts/0100-metapaas-mail-dp-bootstrap.sh"

RECORDER = r'''#!/bin/sh
printf '%s %s\n' "$(basename "$0")" "$*" >>"$FAKE_CALLS"
[ "${FAKE_FAIL:-}" = "$(basename "$0")" ] && exit 100
exit 0
'''


class Image:
    def __init__(self, tmp):
        self.tmp = tmp
        self.root = os.path.join(tmp, "root")
        self.calls = os.path.join(tmp, "calls")
        self.bin = os.path.join(tmp, "bin")
        os.makedirs(self.root)
        os.makedirs(self.bin)
        for name in ("apt-get", "meson", "systemctl"):
            path = os.path.join(self.bin, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(RECORDER)
            os.chmod(path, 0o755)

    def run(self, fail=None):
        open(self.calls, "w").close()
        env = dict(os.environ)
        env.update(PATH=self.bin + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
                   EXM_DESTDIR=self.root, EXM_SRC_DIR=pkgtest.SOURCE_ROOT,
                   EXM_BUILD_DIR=os.path.join(self.tmp, "build"), FAKE_CALLS=self.calls)
        env.pop("FAKE_FAIL", None)
        if fail:
            env["FAKE_FAIL"] = fail
        return pkgtest.run(["bash", SCRIPT], env=env, timeout=60)

    def call_log(self):
        with open(self.calls, encoding="utf-8") as f:
            return f.read().splitlines()

    def path(self, rel):
        return os.path.join(self.root, rel)


def enabled_units(calls):
    out = set()
    for c in calls:
        argv = c.split()
        if argv[0] == "systemctl" and "enable" in argv:
            out.update(a for a in argv[argv.index("enable") + 1:] if not a.startswith("-"))
    return out


def check_packages(t, calls):
    installs = [c for c in calls if c.startswith("apt-get ") and " install " in f" {c} "]
    t.ok(installs and "exim4-daemon-light" in installs[0].split(), "apt-get installs exim4-daemon-light", calls)
    t.ok(not any(re.search(r"\bexim4(-daemon-heavy)?\b(?!-)", c.split(" ", 1)[1]) for c in installs),
         "no heavy daemon or exim4 metapackage")
    t.ok(calls.index(installs[0]) > calls.index("apt-get update"), "apt-get update first")


def check_build(t, img, calls):
    meson = [c.split()[1:] for c in calls if c.startswith("meson ")]
    t.eq([m[0] for m in meson], ["setup", "compile", "install"], "meson setup, compile, install")
    setup = meson[0] if meson else []
    t.ok("--prefix=/usr" in setup and "--sysconfdir=/etc" in setup and pkgtest.SOURCE_ROOT in setup
         and "-Dtests=false" in setup, "meson builds the source with prefix /usr, /etc", setup)
    install = meson[2] if len(meson) > 2 else []
    t.ok("--destdir" in install and img.root in install, "meson install honours the destdir", install)


def check_files(t, img):
    passwd = img.path("etc/exim4/passwd")
    st = os.stat(passwd) if os.path.exists(passwd) else None
    t.ok(st is not None and stat.S_IMODE(st.st_mode) == 0o640, "passwd mode 0640")
    t.ok(st is not None and st.st_uid == 0 and st.st_gid == grp.getgrnam("Debian-exim").gr_gid,
         "passwd owner root:Debian-exim")
    boot = img.path(BOOTSTRAP_DST)
    t.ok(os.path.exists(boot) and stat.S_IMODE(os.stat(boot).st_mode) == 0o755,
         "first-boot script installed 0755")
    with open(BOOTSTRAP, "rb") as a:
        want = a.read()
    got = None
    if os.path.exists(boot):
        with open(boot, "rb") as b:
            got = b.read()
    t.ok(got == want, "first-boot script is dp_bootstrap.sh")
    for rel in ("var/lib/exordos/exordos_metapaas", "var/lib/exordos/universal_agent"):
        p = img.path(rel)
        t.ok(os.path.isdir(p) and stat.S_IMODE(os.stat(p).st_mode) == 0o700, f"/{rel} exists 0700")


def check_resolver(t, img, calls):
    """Issue 22 item 6 (docs/tls.md §7): unbound is exim's validating resolver."""
    installs = [c for c in calls if c.startswith("apt-get ") and " install " in f" {c} "]
    words = installs[0].split() if installs else []
    t.ok("unbound" in words and "dns-root-data" in words, "apt-get installs unbound and its root anchor")
    conf = img.path("etc/unbound/unbound.conf.d/exordos-mail.conf")
    text = open(conf, encoding="utf-8").read() if os.path.exists(conf) else ""
    t.ok("interface: 127.0.0.1" in text and "val-permissive-mode: no" in text,
         "unbound listens on 127.0.0.1 and refuses bogus answers", text)
    resolv = img.path("etc/exordos_metapaas/exim4-resolv.conf")
    text = open(resolv, encoding="utf-8").read() if os.path.exists(resolv) else ""
    t.eq(text, "nameserver 127.0.0.1\noptions edns0 trust-ad\n", "exim's resolv.conf: unbound, trust-ad")
    dropin = img.path("etc/systemd/system/exim4.service.d/exordos-resolver.conf")
    text = open(dropin, encoding="utf-8").read() if os.path.exists(dropin) else ""
    t.ok("BindReadOnlyPaths=/etc/exordos_metapaas/exim4-resolv.conf:/etc/resolv.conf" in text
         and "Wants=unbound.service" in text and "After=unbound.service" in text,
         "exim4.service sees that resolv.conf and starts after unbound", text)


def check_units(t, calls):
    t.eq(enabled_units(calls), {AGENT}, "exactly the agent is enabled")
    t.ok(not any(c.startswith("systemctl") and re.search(r"\b(start|restart|reload)\b|--now", c)
                 for c in calls), "nothing is started during the image build", calls)
    with open(SCRIPT, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f if "systemctl" in ln and AGENT in ln]
    t.eq(lines, [f"systemctl enable {AGENT}"], "one systemctl line for the agent: enable only")


def check_rerun(t, img):
    passwd = img.path("etc/exim4/passwd")
    with open(passwd, "w", encoding="utf-8") as f:
        f.write("alice@example.com:$6$x$y\n")
    os.chmod(passwd, 0o666)
    r = img.run()
    with open(passwd, encoding="utf-8") as f:
        kept = f.read()
    t.ok(r.returncode == 0 and kept == "alice@example.com:$6$x$y\n", "rerun keeps passwd content")
    t.eq(stat.S_IMODE(os.stat(passwd).st_mode), 0o640, "rerun restores passwd mode")


def check_failure(t):
    with pkgtest.TempDir() as tmp:
        img = Image(tmp)
        r = img.run(fail="apt-get")
        calls = img.call_log()
        t.ok(r.returncode != 0, "apt-get failure fails the image build")
        t.ok(enabled_units(calls) == set() and not any(c.startswith("meson") for c in calls),
             "apt-get failure: nothing built or enabled", calls)
    with pkgtest.TempDir() as tmp:
        img = Image(tmp)
        r = img.run(fail="meson")
        t.ok(r.returncode != 0 and enabled_units(img.call_log()) == set(),
             "meson failure fails the build before anything is enabled")


def main():
    try:
        grp.getgrnam("Debian-exim")
    except KeyError:
        pkgtest.peer_missing("group Debian-exim (exim4-daemon-light)")
    if os.geteuid() != 0:
        pkgtest.peer_missing("root (dp_install.sh chowns passwd)")
    t = pkgtest.Tap()
    with pkgtest.TempDir() as tmp:
        img = Image(tmp)
        r = img.run()
        if not t.ok(r.returncode == 0, "dp_install.sh succeeds", r.stderr[-3000:]):
            t.done()
        calls = img.call_log()
        check_packages(t, calls)
        check_build(t, img, calls)
        check_files(t, img)
        check_units(t, calls)
        check_resolver(t, img, calls)
        check_rerun(t, img)
    check_failure(t)
    t.done()


main()
