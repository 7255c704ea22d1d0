# Shared helpers of the tests/pkg suite: TAP output, the missing-peer rule of
# tests/lib (skip, or fail under EXM_REQUIRE_REAL_PEERS=1), temp dirs and a
# systemd unit-file parser that keeps repeated keys.
import os
import shutil
import subprocess
import sys
import tempfile

SOURCE_ROOT = os.environ.get(
    "EXM_SOURCE_ROOT",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD_ROOT = os.environ.get("EXM_BUILD_ROOT", "")


class Tap:
    """Collects results and prints them as TAP, plan last."""

    def __init__(self):
        self.count = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.count += 1
        status = "ok" if cond else "not ok"
        print(f"{status} {self.count} - {name}", flush=True)
        if not cond:
            self.failed += 1
            if diag:
                for line in str(diag).splitlines():
                    print(f"# {line}", flush=True)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, f"got:  {got!r}\nwant: {want!r}")

    def skip_missing(self, name, what):
        """One check whose peer is missing: a TAP skip, or a failure in CI."""
        if os.environ.get("EXM_REQUIRE_REAL_PEERS") == "1":
            return self.ok(False, name, f"peer missing: {what}")
        self.count += 1
        print(f"ok {self.count} - {name} # SKIP peer missing: {what}", flush=True)
        return False

    def note(self, text):
        for line in str(text).splitlines():
            print(f"# {line}", flush=True)

    def done(self):
        print(f"1..{self.count}", flush=True)
        sys.exit(1 if self.failed or self.count == 0 else 0)


def peer_missing(what):
    """A missing peer skips the whole test, or fails it in CI."""
    if os.environ.get("EXM_REQUIRE_REAL_PEERS") == "1":
        print(f"1..1\nnot ok 1 - peer missing: {what}", flush=True)
        sys.exit(1)
    print(f"1..0 # SKIP peer missing: {what}", flush=True)
    sys.exit(0)


def require_program(path_or_name):
    found = shutil.which(path_or_name)
    if not found:
        peer_missing(path_or_name)
    return found


class TempDir:
    """A unique temp dir (mode 0755, so exim/other users could traverse),
    removed on exit even when the test fails."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix=f"exm-pkg-{os.getpid()}-")
        os.chmod(self.path, 0o755)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
        return False


def parse_unit(path):
    """Returns {section: [(key, value), ...]} keeping repeated keys in order."""
    sections = {}
    current = None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], [])
                continue
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def unit_values(sections, section, key):
    """All values of key in section, each split on whitespace, flattened."""
    out = []
    for k, v in sections.get(section, []):
        if k == key:
            out.extend(v.split())
    return out


def unit_keys(sections):
    return [(s, k) for s, pairs in sections.items() for k, _ in pairs]


def built_unit(name):
    """The meson-configured unit in the build tree (falls back to the .in)."""
    if BUILD_ROOT:
        path = os.path.join(BUILD_ROOT, "data", "systemd", name)
        if os.path.exists(path):
            return path
    return os.path.join(SOURCE_ROOT, "data", "systemd", name + ".in")


def run(argv, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    return subprocess.run(argv, check=False, **kw)
