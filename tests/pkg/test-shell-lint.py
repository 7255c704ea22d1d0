# Suite dp: every shell script in the repository passes `bash -n` (or
# `sh -n` for /bin/sh scripts) and shellcheck. Scripts are found by
# extension (.sh) or by a sh/bash shebang; build trees, .git and .stand are
# skipped. A missing shellcheck is a missing peer.
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkgtest  # noqa: E402

SKIP_DIRS = {".git", ".stand", "subprojects", "node_modules", "__pycache__"}
SHEBANG = re.compile(rb"^#!\s*(?:/usr)?/bin/(?:env\s+)?(bash|sh|dash)\b")


def is_build_dir(root, name):
    # meson build trees (build/, build-*/ or any other name) carry meson-private/
    return name.startswith("build") or os.path.isdir(os.path.join(root, name, "meson-private"))


def shell_of(path):
    try:
        with open(path, "rb") as f:
            head = f.readline()
    except OSError:
        return None
    m = SHEBANG.match(head)
    if m:
        return "sh" if m.group(1) in (b"sh", b"dash") else "bash"
    return "bash" if path.endswith(".sh") else None


def find_scripts(top):
    found = []
    for root, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not is_build_dir(root, d))
        for name in sorted(files):
            path = os.path.join(root, name)
            shell = shell_of(path)
            if shell and os.path.isfile(path):
                found.append((path, shell))
    return found


def main():
    shellcheck = pkgtest.require_program("shellcheck")
    scripts = find_scripts(pkgtest.SOURCE_ROOT)
    t = pkgtest.Tap()
    names = {os.path.relpath(p, pkgtest.SOURCE_ROOT) for p, _ in scripts}
    t.ok({"exordos/images/dp_install.sh", "exordos/images/dp_bootstrap.sh"} <= names,
         "the DP scripts are among the scripts found", sorted(names))
    for path, shell in scripts:
        rel = os.path.relpath(path, pkgtest.SOURCE_ROOT)
        r = pkgtest.run([shell, "-n", path], timeout=60)
        t.ok(r.returncode == 0, f"{shell} -n {rel}", r.stderr)
        r = pkgtest.run([shellcheck, "--shell=" + shell, "--external-sources", path],
                        cwd=os.path.dirname(path), timeout=120)
        t.ok(r.returncode == 0, f"shellcheck {rel}", r.stdout + r.stderr)
    t.done()


main()
