#!/usr/bin/python3
# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""The source check itself: each rule fires on a bad tree and passes on a
good one (temporary trees, not the repository)."""

import contextlib
import importlib.util
import io
import os
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("check_source", os.path.join(HERE, "check-source.py"))
cs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cs)


def function(name, lines, static=False):
    body = "".join(f"\tx += {i};\n" for i in range(lines - 4))
    return f"{'static ' if static else ''}int\n{name}(int x)\n{{\n{body}\treturn x;\n}}\n\n"


TREES = []


class Tree:
    def __init__(self, files):
        self.tmp = tempfile.TemporaryDirectory()
        TREES.append(self.tmp)
        self.root = self.tmp.name
        for rel, text in files.items():
            path = os.path.join(self.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)

    def run(self, *rules):
        out = io.StringIO()
        args = ["--root", self.root]
        for r in rules:
            args += ["--rule", r]
        with contextlib.redirect_stdout(out):
            rc = cs.main(args)
        return rc, out.getvalue()


class PrefixRule(unittest.TestCase):
    def test_matching_names_pass(self):
        t = Tree({"common/base/exm-foo-bar.c": function("exm_foo_bar", 5)
                  + function("exm_foo_bar_get", 5) + function("helper", 5, static=True)})
        self.assertEqual(t.run("prefix"), (0, "check-source: 0 finding(s): prefix 0\n"))

    def test_foreign_prefix_fires(self):
        t = Tree({"plugin/exm-foo-bar.c": function("exm_foo_get", 5)
                  + function("exm_foo_barbaz", 5)})
        rc, out = t.run("prefix")
        self.assertEqual(rc, 1)
        self.assertIn("plugin/exm-foo-bar.c:2: prefix: exported function exm_foo_get", out)
        self.assertIn("exm_foo_barbaz is not exm_foo_bar or exm_foo_bar_*", out)

    def test_prefixed_static_fires(self):
        t = Tree({"common/rest/exm-rest-x.c": function("exm_rest_x_helper", 5, static=True)
                  + function("x_helper", 5, static=True)})
        rc, out = t.run("prefix")
        self.assertEqual(rc, 1)
        self.assertIn("common/rest/exm-rest-x.c:2: prefix: static function exm_rest_x_helper "
                      "carries a library prefix", out)
        self.assertNotIn("x_helper carries", out.replace("exm_rest_x_helper carries", ""))

    def test_gobject_type_functions_pass(self):
        # G_DEFINE_*TYPE makes the file define <type>_init/_class_init; any
        # other prefixed static still fires
        t = Tree({"tests/host/exh-s.c": "G_DEFINE_FINAL_TYPE(ExhS, exh_s, G_TYPE_OBJECT)\n"
                  + function("exh_s_init", 5, static=True)
                  + function("exh_s_class_init", 5, static=True)
                  + function("exh_s_helper", 5, static=True)})
        rc, out = t.run("prefix")
        self.assertEqual(rc, 1)
        self.assertIn("static function exh_s_helper carries", out)
        self.assertNotIn("exh_s_init carries", out)
        self.assertNotIn("exh_s_class_init carries", out)

    def test_main_tests_and_exceptions_skipped(self):
        t = Tree({
            "agent/exm-x-main.c": function("main", 5) + function("exm_other", 5),
            "tests/unit/test-foo.c": function("anything", 5),
            "tests/host/exh-a.c": function("exh_b", 5),
            "tests/check/exceptions.txt": "prefix tests/host/exh-a.c exh_b  # reason\n",
        })
        self.assertEqual(t.run("prefix")[0], 0)

    def test_stale_exception_fires(self):
        t = Tree({"tests/check/exceptions.txt": "prefix agent/exm-a.c exm_gone  # reason\n"})
        rc, out = t.run("prefix")
        self.assertEqual(rc, 1)
        self.assertIn("matches nothing", out)


class LengthRule(unittest.TestCase):
    def test_eighty_lines_pass(self):
        t = Tree({"tests/unit/test-a.c": function("test_a", 80)})
        self.assertEqual(t.run("length")[0], 0)

    def test_eighty_one_lines_fire(self):
        t = Tree({"tests/unit/test-a.c": "/* x */\n" + function("test_a", 81)})
        rc, out = t.run("length")
        self.assertEqual(rc, 1)
        self.assertIn("tests/unit/test-a.c:3: length: function test_a has 81 lines", out)

    def test_marked_table_does_not_count(self):
        table = "\t/* check-source: table */\n" + "\tx++;\n" * 60 + "\t/* check-source: end */\n"
        text = "int\nf(int x)\n{\n" + table + "\tx += 1;\n" * 40 + "\treturn x;\n}\n"
        t = Tree({"common/rest/exm-f.c": text})
        self.assertEqual(t.run("length")[0], 0)

    def test_braces_in_strings_and_comments_ignored(self):
        text = 'int\nf(void)\n{\n\tconst char *s = "}{";\n\t/* } */\n\treturn 0;\n}\n' + function("g", 90)
        rc, out = Tree({"agent/exm-f.c": text}).run("length")
        self.assertIn("function g has 90 lines", out)
        self.assertNotIn("function f ", out)


class DocsRule(unittest.TestCase):
    DOC = "# Doc\n\n## 1. One\n\n### 1.2 Sub\n\n## 5. Five\n"

    def test_resolving_references_pass(self):
        t = Tree({
            "docs/a.md": self.DOC,
            "README.md": "see docs/a.md §1.2 and docs/a.md §1, §5 or docs/ and [b](docs/a.md)\n",
            "agent/x.c": "/* the rule (docs/a.md\n * §1.2–§5) */\n",
            "docs/b.md": "see [a](a.md) §5 and https://example.org/x/README.md\n",
        })
        self.assertEqual(t.run("docs"), (0, "check-source: 0 finding(s): docs 0\n"))

    def test_old_citations_fire(self):
        t = Tree({"agent/x.c": "/* DESIGN.md §2, reference/ua-protocol.md §4,\n"
                               " * rest-conventions §5.2, upstream-mail.md */\n"})
        rc, out = t.run("docs")
        self.assertEqual(rc, 1)
        for line, ref in ((1, "DESIGN.md"), (1, "reference/ua-protocol.md"),
                          (2, "rest-conventions"), (2, "upstream-mail.md")):
            self.assertIn(f"agent/x.c:{line}: docs: reference to {ref} (", out)

    def test_missing_file_and_section_fire(self):
        t = Tree({"docs/a.md": self.DOC,
                  "plugin/y.c": "/* docs/a.md §1.3; docs/nope.md §1 */\n"})
        rc, out = t.run("docs")
        self.assertEqual(rc, 1)
        self.assertIn("plugin/y.c:1: docs: reference to docs/a.md §1.3 (docs/a.md has no heading numbered 1.3)", out)
        self.assertIn("reference to docs/nope.md (no such file", out)
        rc, out = Tree({"docs/a.md": self.DOC, "docs/b.md": "see [a](a.md) §9\n"}).run("docs")
        self.assertIn("docs/b.md:1: docs: reference to a.md §9 (docs/a.md has no heading numbered 9)", out)

    def test_new_name_of_an_old_document_passes(self):
        t = Tree({"docs/rest-conventions.md": "## 5. Five\n### 5.2 Order\n",
                  "docs/a.md": "see [rest](rest-conventions.md) §5.2\n",
                  "common/rest/a.c": "/* docs/rest-conventions.md §5.2 */\n"})
        self.assertEqual(t.run("docs")[0], 0)
        rc, out = Tree({"docs/rest-conventions.md": "## 5. Five\n",
                        "docs/a.md": "see rest-conventions.md §6\n"}).run("docs")
        self.assertIn("docs/a.md:1: docs: reference to rest-conventions.md §6 (", out)


class MailRule(unittest.TestCase):
    def test_allowed_name_elsewhere_fires(self):
        rc, out = Tree({"common/base/exh-test.c": "/* smtp */\n"}).run("mail")
        self.assertIn("common/base/exh-test.c:1: mail: mail string 'smtp'", out)

    def test_generic_library_fires(self):
        t = Tree({"common/rest/exm-rest.c": "/* Copyright The exordos_mail authors */\n"
                                            "static const char *p = \"/etc/exim4/passwd\";\n",
                  "agent/ua/exm-ua-x.h": "/* SMTP */\n"})
        rc, out = t.run("mail")
        self.assertEqual(rc, 1)
        self.assertIn("common/rest/exm-rest.c:2: mail: mail string 'exim'", out)
        self.assertIn("common/rest/exm-rest.c:2: mail: mail string 'passwd'", out)
        self.assertIn("agent/ua/exm-ua-x.h:1: mail: mail string 'SMTP'", out)
        self.assertNotIn("exm-rest.c:1:", out)

    def test_posix_user_record_is_no_mail(self):
        t = Tree({"tests/host/infra/exh-x.c": "struct passwd *pw = getpwnam(u);\n"
                                              "/* the passwd file */\n"})
        rc, out = t.run("mail")
        self.assertNotIn("exh-x.c:1:", out)
        self.assertIn("tests/host/infra/exh-x.c:2: mail: mail string 'passwd'", out)

    def test_mail_places_pass(self):
        t = Tree({"common/mail/exm-mail.c": "/* mail */\n",
                  "plugin/exm-plugin.c": "/* exim */\n",
                  "tests/host/exh-fake-plugin.c": "/* mail */\n",
                  "tests/host/exh-test.h": "/* dkim */\n",
                  "tests/host/server/exh-fake-plugin.c": "/* exim */\n",
                  "tests/host/README.md": "mail\n",
                  "common/base/exm-json.c": "/* json */\n"})
        self.assertEqual(t.run("mail")[0], 0)


class Cli(unittest.TestCase):
    def test_help(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), self.assertRaises(SystemExit) as e:
            cs.main(["--help"])
        self.assertEqual(e.exception.code, 0)
        self.assertIn("prefix", out.getvalue())
        self.assertIn("exceptions.txt", out.getvalue())


def tearDownModule():
    for tmp in TREES:
        tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
