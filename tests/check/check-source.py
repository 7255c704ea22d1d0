#!/usr/bin/python3
# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""check-source: the structural rules of CONTRIBUTING.md, checked on the tree.

usage: check-source.py [--root DIR] [--exceptions FILE] [--rule RULE]... [--quiet]

Rules (each finding is printed as `file:line: rule: what (why)`):

  prefix   An exported (non-static) function defined in a C file under common/,
           plugin/, agent/ or tests/host/ must be named after its file:
           exm-foo-bar.c holds exm_foo_bar_* or exactly exm_foo_bar (exh- alike).
           A static function carries no exm_/exh_ prefix (the one convention
           for statics), so a prefixed name always means an exported one;
           except the <type>_init and <type>_class_init that GObject's
           G_DEFINE_*TYPE macros make a file define.
           Files that define main() and test files are not checked.
  length   No function is longer than 80 lines (from the line with its name to
           its closing brace).  Lines between `/* check-source: table */` and
           `/* check-source: end */` do not count, so data tables may be long.
  docs     A reference to a document must resolve inside the repository:
           paths ending in .md and paths below docs/ (relative to the root or
           to the citing file), and never one of the documents that were not
           in the repository (DESIGN.md, reference/..., bare rest-conventions,
           ua-protocol, upstream-mail, exordos-production, style-anchors; a bare
           name that resolves next to the citing file, as docs/ linking its own
           rest-conventions.md, is fine).  A `§N.M` right after a reference to a
           Markdown file must be a numbered heading (`## N.` / `### N.M`) of it.
           tests/check/ is not scanned.
  mail     The generic libraries (common/base, common/rest, common/proto,
           agent/ua) and the host library (tests/host) contain no mail string
           (mail, exim, smtp, dkim, passwd; any case) in their C sources and
           headers, comments included (the licence header's project name
           aside).  The host's fake plugin and test fixture (exh-fake-plugin.c,
           exh-test.c, exh-test.h; HOST_MAIL_ALLOWED) are exempt.

Documented exceptions live in tests/check/exceptions.txt, one per line:
  <rule> <path> <name>   # reason
where <name> is the function (prefix, length), the cited reference (docs) or
the matched word in lower case (mail).  An exception that matches nothing is
itself reported, so the list cannot rot.

Exit status: 0 when the tree is clean, 1 on any finding, 2 on a usage error.
"""

import argparse
import os
import re
import subprocess
import sys

RULES = ("prefix", "length", "docs", "mail")

PREFIX_DIRS = ("common/", "plugin/", "agent/", "tests/host/")
MAX_FUNCTION_LINES = 80
TABLE_BEGIN = "/* check-source: table */"
TABLE_END = "/* check-source: end */"

# The generic libraries and the host library: no mail string in their code.
MAIL_FREE_DIRS = ("common/base/", "common/rest/", "common/proto/", "agent/ua/", "tests/host/")
# The host library's own test doubles may speak of mail: a fake plugin and the
# fixture the suites share.  Matched by file name anywhere below tests/host/,
# so they may move into its subdirectories.
HOST_MAIL_ALLOWED = (
    "exh-fake-plugin.c",
    "exh-test.c",
    "exh-test.h",
)
MAIL_WORDS = re.compile(r"mail|exim|smtp|dkim|passwd", re.IGNORECASE)
# Words that contain a mail word but are no knowledge of mail: the licence
# header names the project, and `struct passwd` is the POSIX user database
# record (getpwnam), not the mail passwd file.
MAIL_NOT_MAIL = ("The exordos_mail authors", "struct passwd")

# Never scanned for document references: this checker and its own tests
# necessarily spell the old citations.
DOCS_SKIP_DIRS = ("tests/check/",)
# Documents that never were in this repository.
OLD_DOCS = re.compile(
    r"(?<![\w/.-])(?:reference/[\w.-]+|DESIGN\.md|"
    r"(?<!docs/)(?:rest-conventions|ua-protocol|upstream-mail|exordos-production|style-anchors)"
    r"(?:\.md)?)(?![\w-])"
)
# A path-like token ending in .md, or anything below docs/.
DOC_PATH = re.compile(r"(?<![\w/.:-])((?:\.\./|\./)*(?:[\w.-]+/)*[\w.-]+\.md|(?:\.\./)*docs/[\w./-]*[\w/])")
# Section citations right after a reference: "§2.1, §2.3", "§4–§6", "§13.1–13.2",
# "§6.4/§6.5", "§2 step 5", "§5/§11", possibly continued on the next comment line.
SECTION_RUN = re.compile(
    r"^(?:[\s*#/`)\]-]|--)*((?:§\s*\d+(?:\.\d+)*)(?:(?:\s*(?:,|/|–|-|and|step\s+\d+)\s*)+(?:§\s*)?\d+(?:\.\d+)*)*)"
)
SECTION_NUMBER = re.compile(r"(?:§\s*|[–/,-]\s*|and\s+)(\d+(?:\.\d+)*)")
HEADING = re.compile(r"^#+\s+(?:§\s*)?(\d+(?:\.\d+)*)\.?(?:\s|$)")

C_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do"}


class Finding:
    def __init__(self, path, line, rule, what, why, key=None):
        self.path, self.line, self.rule, self.what, self.why = path, line, rule, what, why
        self.key = key

    def __str__(self):
        return f"{self.path}:{self.line}: {self.rule}: {self.what} ({self.why})"


# ---------------------------------------------------------------- the tree


def list_files(root):
    """Tracked files when root is a git checkout, otherwise every file."""
    try:
        out = subprocess.run(
            ["git", "-C", root, "ls-files", "-z"],
            check=True,
            capture_output=True,
        ).stdout
        files = [f for f in out.decode().split("\0") if f]
        if files:
            return sorted(f for f in files if os.path.isfile(os.path.join(root, f)))
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "build"))]
        for name in filenames:
            files.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(files)


def read_text(root, rel):
    try:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            return f.read()
    except (UnicodeDecodeError, OSError):
        return None


# ---------------------------------------------------------------- C parsing


def strip_c(text):
    """Comments, string and character literals and preprocessor lines become
    blanks; newlines stay, so offsets keep their line numbers."""
    out = []
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c == "#":
            j = i
            while j < n and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n and text[j + 1] == "\n":
                    out.append(" \n")
                    j += 2
                    continue
                out.append(" ")
                j += 1
            i = j
            continue
        if c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1 : j - 1]) + c)
            i = j
            continue
        out.append(c)
        if c == "\n":
            at_line_start = True
        elif not c.isspace():
            at_line_start = False
        i += 1
    return "".join(out)


def c_functions(text):
    """Yield (name, is_static, first_line, last_line) of every function
    definition at file scope."""
    code = strip_c(text)
    depth = 0
    head_start = 0
    i = 0
    while i < len(code):
        c = code[i]
        if c == "{":
            if depth == 0:
                fn = parse_head(code, head_start, i)
                if fn is not None:
                    end = matching_brace(code, i)
                    name, static, name_pos = fn
                    yield (
                        name,
                        static,
                        code.count("\n", 0, name_pos) + 1,
                        code.count("\n", 0, end) + 1,
                    )
                    i = end + 1
                    head_start = i
                    continue
            depth += 1
        elif c == "}":
            depth = max(depth - 1, 0)
            if depth == 0:
                head_start = i + 1
        elif c == ";" and depth == 0:
            head_start = i + 1
        i += 1


def matching_brace(code, start):
    depth = 0
    for j in range(start, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


def parse_head(code, start, brace):
    """The text between the previous declaration and a file-scope `{`:
    a function definition when it ends with a parameter list."""
    head = code[start:brace]
    stripped = head.rstrip()
    if not stripped.endswith(")") or "=" in head:
        return None
    # the parameter list: the last balanced (...) group
    depth = 0
    for j in range(len(stripped) - 1, -1, -1):
        if stripped[j] == ")":
            depth += 1
        elif stripped[j] == "(":
            depth -= 1
            if depth == 0:
                break
    else:
        return None
    m = re.search(r"([A-Za-z_]\w*)\s*$", stripped[:j])
    if m is None or m.group(1) in C_KEYWORDS:
        return None
    before = stripped[: m.start()]
    # a macro call without `;` (G_DEFINE_AUTOPTR_CLEANUP_FUNC(...)) may precede
    decl = before[before.rfind(")") + 1 :]
    if re.search(r"\b(?:struct|union|enum|typedef)\b\s*\w*\s*$", decl):
        return None
    if not decl.strip():
        return None  # K&R-less macro invocation such as G_DEFINE_QUARK(...) { }
    static = re.search(r"\bstatic\b", decl) is not None
    return m.group(1), static, start + m.start(1)


def table_lines(text):
    """Line numbers inside /* check-source: table */ ... /* check-source: end */."""
    lines = set()
    inside = None
    for no, line in enumerate(text.split("\n"), 1):
        if TABLE_BEGIN in line:
            inside = no
        elif TABLE_END in line and inside is not None:
            lines.update(range(inside, no + 1))
            inside = None
    return lines


# ---------------------------------------------------------------- rules


def is_test_file(rel):
    base = os.path.basename(rel)
    if rel.startswith("tests/") and not rel.startswith("tests/host/"):
        return True
    return base.startswith(("test-", "fuzz-", "bench-"))


GOBJECT_TYPE = re.compile(r"G_DEFINE_[A-Z_]*TYPE[A-Z_]*\(\s*\w+\s*,\s*(\w+)")


def check_prefix(root, files):
    for rel in files:
        if not rel.endswith(".c") or not rel.startswith(PREFIX_DIRS) or is_test_file(rel):
            continue
        text = read_text(root, rel)
        if text is None:
            continue
        functions = list(c_functions(text))
        if any(name == "main" and not static for name, static, _, _ in functions):
            continue
        prefix = os.path.basename(rel)[:-2].replace("-", "_")
        # GObject's G_DEFINE_*TYPE macros name a type's static init functions
        gobject = {f"{t}{suffix}" for t in GOBJECT_TYPE.findall(text)
                   for suffix in ("_init", "_class_init")}
        for name, static, line, _ in functions:
            if static and name.startswith(("exm_", "exh_")) and name not in gobject:
                yield Finding(
                    rel,
                    line,
                    "prefix",
                    f"static function {name} carries a library prefix",
                    "statics are named without exm_/exh_, which only exported "
                    "functions carry",
                    key=name,
                )
                continue
            if static or name == prefix or name.startswith(prefix + "_"):
                continue
            yield Finding(
                rel,
                line,
                "prefix",
                f"exported function {name} is not {prefix} or {prefix}_*",
                f"{os.path.basename(rel)} holds {prefix}_*: rename the function or move it "
                "to the file its prefix names",
                key=name,
            )


def check_length(root, files):
    for rel in files:
        if not rel.endswith(".c"):
            continue
        text = read_text(root, rel)
        if text is None:
            continue
        tables = table_lines(text)
        for name, _, first, last in c_functions(text):
            count = sum(1 for no in range(first, last + 1) if no not in tables)
            if count > MAX_FUNCTION_LINES:
                yield Finding(
                    rel,
                    first,
                    "length",
                    f"function {name} has {count} lines",
                    f"at most {MAX_FUNCTION_LINES} outside a marked table: split it, or mark "
                    f"a data table with {TABLE_BEGIN} ... {TABLE_END}",
                    key=name,
                )


def doc_headings(root, rel, cache):
    if rel not in cache:
        text = read_text(root, rel) or ""
        cache[rel] = {m.group(1) for m in map(HEADING.match, text.split("\n")) if m}
    return cache[rel]


def resolve(root, rel, target):
    """A cited path relative to the repository root or to the citing file."""
    for base in ("", os.path.dirname(rel)):
        path = os.path.normpath(os.path.join(base, target))
        if not path.startswith("..") and os.path.exists(os.path.join(root, path)):
            return path
    return None


def cited_sections(text, end):
    m = SECTION_RUN.match(text[end : end + 160])
    if m is None:
        return []
    run = m.group(1)
    return [s.group(1) for s in SECTION_NUMBER.finditer(run)]


def check_docs(root, files):
    cache = {}
    for rel in files:
        if rel.startswith(DOCS_SKIP_DIRS):
            continue
        text = read_text(root, rel)
        if text is None:
            continue
        for m in OLD_DOCS.finditer(text):
            if m.group(0).endswith(".md") and resolve(root, rel, m.group(0)) is not None:
                continue  # a docs/ file of that name, cited relative to docs/
            line = text.count("\n", 0, m.start()) + 1
            yield Finding(
                rel,
                line,
                "docs",
                f"reference to {m.group(0)}",
                "that document is not in the repository: cite the docs/ file that answers it",
                key=m.group(0),
            )
        for m in DOC_PATH.finditer(text):
            target = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            path = resolve(root, rel, target)
            if (OLD_DOCS.fullmatch(target) and path is None) or text[
                max(m.start() - 12, 0) : m.start()
            ].find("//") >= 0:
                continue  # reported above, or part of a URL
            if path is None:
                yield Finding(
                    rel,
                    line,
                    "docs",
                    f"reference to {target}",
                    "no such file or directory in the repository",
                    key=target,
                )
                continue
            if not path.endswith(".md"):
                continue
            headings = doc_headings(root, path, cache)
            for section in cited_sections(text, m.end()):
                if section not in headings:
                    yield Finding(
                        rel,
                        line,
                        "docs",
                        f"reference to {target} §{section}",
                        f"{path} has no heading numbered {section}",
                        key=f"{target} §{section}",
                    )


def check_mail(root, files):
    for rel in files:
        if not rel.startswith(MAIL_FREE_DIRS):
            continue
        if rel.startswith("tests/host/") and os.path.basename(rel) in HOST_MAIL_ALLOWED:
            continue
        if not rel.endswith((".c", ".h")):
            continue
        text = read_text(root, rel)
        if text is None:
            continue
        for no, line in enumerate(text.split("\n"), 1):
            for phrase in MAIL_NOT_MAIL:
                line = line.replace(phrase, "")
            for m in MAIL_WORDS.finditer(line):
                yield Finding(
                    rel,
                    no,
                    "mail",
                    f"mail string '{m.group(0)}'",
                    "a generic library or the host library knows no mail: move it to "
                    "common/mail, plugin/ or agent/dp, or make it data shipped with the type",
                    key=m.group(0).lower(),
                )


CHECKS = {
    "prefix": check_prefix,
    "length": check_length,
    "docs": check_docs,
    "mail": check_mail,
}


# ---------------------------------------------------------------- exceptions


def load_exceptions(path):
    """{(rule, path, name): line number} from the exceptions file."""
    exceptions = {}
    if path is None or not os.path.exists(path):
        return exceptions, []
    errors = []
    with open(path, encoding="utf-8") as f:
        for no, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 2)
            if len(parts) != 3 or parts[0] not in RULES:
                errors.append(f"{path}:{no}: expected '<rule> <path> <name>  # reason'")
                continue
            if "#" not in raw:
                errors.append(f"{path}:{no}: an exception needs a '# reason'")
            exceptions[(parts[0], parts[1], parts[2])] = no
    return exceptions, errors


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(
        prog="check-source.py",
        description=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=__doc__.split("\n\n")[1].replace("usage: ", ""),
    )
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(here)),
                        help="the source tree (default: the one holding this script)")
    parser.add_argument("--exceptions", default=None,
                        help="exceptions file (default: ROOT/tests/check/exceptions.txt)")
    parser.add_argument("--rule", action="append", choices=RULES,
                        help="run only this rule (repeatable; default: all)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)

    root = os.path.abspath(args.root)
    exc_path = args.exceptions or os.path.join(root, "tests", "check", "exceptions.txt")
    exceptions, errors = load_exceptions(exc_path)
    for e in errors:
        print(e)
    rules = args.rule or list(RULES)
    files = list_files(root)
    used = set()
    counts = {}
    for rule in rules:
        counts[rule] = 0
        for finding in CHECKS[rule](root, files):
            key = (rule, finding.path, finding.key)
            if key in exceptions:
                used.add(key)
                continue
            counts[rule] += 1
            if not args.quiet:
                print(finding)
    stale = 0
    for key, no in sorted(exceptions.items(), key=lambda kv: kv[1]):
        if key[0] in rules and key not in used:
            stale += 1
            print(f"{os.path.relpath(exc_path, root)}:{no}: exceptions: "
                  f"{' '.join(key)} matches nothing (remove the stale exception)")
    total = sum(counts.values()) + stale + len(errors)
    summary = ", ".join(f"{rule} {counts[rule]}" for rule in rules)
    print(f"check-source: {total} finding(s): {summary}"
          + (f", stale exceptions {stale}" if stale else ""))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
