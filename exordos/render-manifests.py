#!/usr/bin/python3
# Renders element manifest templates (Jinja2) the way `exordos build` does, so
# the build tree has the YAML an Exordos installation would receive, and
# checks that each result parses as YAML.
#
#   render-manifests.py --outdir DIR [--var KEY=VALUE]... TEMPLATE...
#
# Each TEMPLATE `<name>.yaml.j2` becomes DIR/<name>.yaml. Variables the
# templates use (documented at the top of each template): `version`
# (required), `repository`, `plugin_version`, `versions_project_id`, `domain`.
# An undefined variable without a default is an error (StrictUndefined).
#
# Must run with /usr/bin/python3 (Debian's python3-jinja2 and python3-yaml).
import argparse
import os
import sys

import jinja2
import yaml


def parse_vars(pairs):
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise SystemExit(f"render-manifests: bad --var {pair!r} (want KEY=VALUE)")
        result[key] = value
    return result


def render(template_path, outdir, variables):
    directory, name = os.path.split(os.path.abspath(template_path))
    if not name.endswith(".yaml.j2"):
        raise SystemExit(f"render-manifests: {name}: expected a *.yaml.j2 template")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    text = env.get_template(name).render(**variables)
    yaml.safe_load(text)  # a template that renders to broken YAML fails here
    out = os.path.join(outdir, name[: -len(".j2")])
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, out)


def main():
    parser = argparse.ArgumentParser(description="render element manifests")
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--var", action="append", default=[])
    parser.add_argument("templates", nargs="+")
    args = parser.parse_args()
    variables = parse_vars(args.var)
    os.makedirs(args.outdir, exist_ok=True)
    for template in args.templates:
        try:
            render(template, args.outdir, variables)
        except (jinja2.TemplateError, yaml.YAMLError) as e:
            print(f"render-manifests: {template}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
