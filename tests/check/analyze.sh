#!/usr/bin/env bash
# shellcheck disable=SC2317  # the analysers are run indirectly, through analyse()
# Static analysis of the product code: common/, plugin/, agent/ and the host
# library tests/host/ (never the suites themselves), with three analysers:
#   cppcheck    settings in tests/check/cppcheck.cfg (checks off, each with why)
#   clang-tidy  the checks of the repository's .clang-tidy, two files at a time,
#               but for clang-analyzer-*: scan-build runs that analyzer (once)
#   scan-build  clang's static analyzer on the compile database (analyze-build)
# Every finding is fixed or suppressed at its line with a one-line reason:
#   clang-tidy  // NOLINT(check): reason      (NOLINTNEXTLINE(check) above)
#   scan-build  the same NOLINT(clang-analyzer-<checker>) comment: clang-tidy's
#               clang-analyzer-* checks are the same analyzer, one comment
#               silences both
#   cppcheck    // cppcheck-suppress id ; reason   (on the line above)
# Prints each analyser's findings, count and duration, and the number of
# suppressions in the product code; exits 1 on any unsuppressed finding.
# usage: tests/check/analyze.sh [--build DIR] [--only NAME]... [--json FILE]
#   --build DIR  the meson build directory whose compile_commands.json is
#                used (default build; configured if missing)
#   --only NAME  run only cppcheck, clang-tidy or scan-build (repeatable)
#   --json FILE  also write one line of meson's JSON test log per analyser
#                (names analyze/<name>), for tests/run-tests.sh's summary
# Reports: DIR/analyze/{cppcheck,clang-tidy,scan-build}.txt and scan-build's
# HTML under DIR/analyze/scan-build/.  See docs/static-analysis.md.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=build
JSON=''
ONLY=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) [ $# -ge 2 ] || { echo "analyze: --build needs a directory" >&2; exit 2; }
      BUILD=$2; shift 2 ;;
    --only) [ $# -ge 2 ] || { echo "analyze: --only needs a name" >&2; exit 2; }
      ONLY+=("$2"); shift 2 ;;
    --json) [ $# -ge 2 ] || { echo "analyze: --json needs a file" >&2; exit 2; }
      JSON=$2; shift 2 ;;
    -h|--help) sed -n '3,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "analyze: unknown option $1" >&2; exit 2 ;;
  esac
done

OUT="$ROOT/$BUILD/analyze"
# scan-build's compile-database front end (clang-tools); Debian names it -14
ANALYZE_BUILD=$(command -v analyze-build || command -v analyze-build-14 || echo analyze-build)
PRODUCT_RE='^(common|plugin|agent|tests/host)/'
status=0

wanted() { # name
  [ ${#ONLY[@]} = 0 ] && return 0
  local n
  for n in "${ONLY[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}

json_line() { # name, result, seconds
  [ -z "$JSON" ] && return 0
  printf '{"name": "analyze/%s", "result": "%s", "duration": %s}\n' "$1" "$2" "$3" >>"$JSON"
}

# The product's compile database, one entry per source file: DIR/analyze/cdb
# (gcc's flags as meson wrote them) and DIR/analyze/cdb-nosys (without the
# system include paths: cppcheck models GLib with its gtk library instead of
# parsing the headers, 20 times faster and fewer false findings).
make_cdb() {
  if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" -Dwerror=true -Dbenchmarks=false >/dev/null || return 1
  fi
  # the generated header the plugin includes
  ninja -C "$BUILD" plugin/exm-plugin-sql.h >/dev/null || return 1
  mkdir -p "$OUT/cdb" "$OUT/cdb-nosys"
  /usr/bin/python3 - "$BUILD" "$ROOT" "$OUT" "$PRODUCT_RE" <<'PY'
import json, os, re, sys
build, root, out, product = sys.argv[1:]
seen, keep = set(), []
for e in json.load(open(os.path.join(build, "compile_commands.json"))):
    path = os.path.relpath(os.path.normpath(os.path.join(e["directory"], e["file"])), root)
    if not re.match(product, path) or path in seen:
        continue
    seen.add(path)
    e["file"] = os.path.join(root, path)
    # system headers as such (-isystem); no -Werror: gcc's build holds the
    # code to its warnings, clang's differ (and would stop the analysis)
    cmd = re.sub(r" -Werror(=\S+)?", "", e["command"].replace("-fdiagnostics-color=always", ""))
    e["command"] = re.sub(r" -I(/usr/\S+)", r" -isystem \1", cmd)
    keep.append(e)
json.dump(keep, open(os.path.join(out, "cdb", "compile_commands.json"), "w"), indent=1)
for e in keep:
    e["command"] = re.sub(r" -isystem /usr/\S+", "", e["command"])
json.dump(keep, open(os.path.join(out, "cdb-nosys", "compile_commands.json"), "w"), indent=1)
print(f"analyze: {len(keep)} product sources")
PY
}

# Prints the findings of a report normalised to `path:line: message [id]`,
# dropping those whose line carries the matching NOLINT (scan-build).
run_cppcheck() {
  mkdir -p "$OUT/cppcheck-cache"
  cppcheck --project="$OUT/cdb-nosys/compile_commands.json" -j 2 --quiet \
    --std=c11 --library=gtk --library=posix \
    --enable=warning,style,performance,portability --inline-suppr \
    --suppressions-list=tests/check/cppcheck.cfg \
    --template='{file}:{line}: {severity}: {message} [{id}]' \
    --cppcheck-build-dir="$OUT/cppcheck-cache" >"$OUT/cppcheck.log" 2>&1 || return 1
  sed "s|^$ROOT/||" "$OUT/cppcheck.log" | { grep -E '^[^ ]+:[0-9]+: ' || true; } | sort -u
}

run_clang_tidy() {
  # the analyzer is clang-tidy's slow part (7 of every 8 seconds): it runs once,
  # as scan-build; editors and a plain clang-tidy still run it from .clang-tidy
  run-clang-tidy -p "$OUT/cdb" -j 2 -quiet -checks='-clang-analyzer-*' \
    "$ROOT/(common|plugin|agent|tests/host)/" >"$OUT/clang-tidy.log" 2>&1
  /usr/bin/python3 -c '
import os, re, sys
root, build = sys.argv[1:]
seen = set()
for line in sys.stdin:
    line = re.sub(r"\x1b\[[0-9;]*m", "", line.rstrip())
    m = re.match(r"([^ :]+\.[ch]):(\d+):\d+: (warning|error): (.*)$", line)
    if not m:
        continue
    path = os.path.relpath(os.path.normpath(os.path.join(build, m.group(1))), root)
    if not re.match(r"(common|plugin|agent|tests/host)/", path):
        continue
    key = f"{path}:{m.group(2)}: {m.group(4)}"
    if key not in seen:
        seen.add(key)
        print(key)
' "$ROOT" "$ROOT/$BUILD" <"$OUT/clang-tidy.log" | sort
}

run_scan_build() {
  rm -rf "$OUT/scan-build"
  mkdir -p "$OUT/scan-build"
  "$ANALYZE_BUILD" --cdb "$OUT/cdb/compile_commands.json" --output "$OUT/scan-build" \
    --keep-empty --sarif-html >"$OUT/scan-build.log" 2>&1 || return 1
  /usr/bin/python3 - "$ROOT" "$OUT/scan-build" <<'PY'
import glob, json, os, re, sys
root, out = sys.argv[1:]
seen = set()
for sarif in glob.glob(os.path.join(out, "**", "*.sarif"), recursive=True):
    for run in json.load(open(sarif)).get("runs", []):
        for r in run.get("results", []):
            loc = r["locations"][0]["physicalLocation"]
            uri = loc["artifactLocation"]["uri"].replace("file://", "")
            line = loc["region"]["startLine"]
            path = os.path.relpath(os.path.normpath(uri), root)
            try:
                src = open(os.path.join(root, path)).read().splitlines()
            except OSError:
                src = []
            tag = "NOLINT(clang-analyzer-" + r["ruleId"]
            here = src[line - 1] if 0 < line <= len(src) else ""
            above = src[line - 2] if 1 < line <= len(src) + 1 else ""
            if tag in here or tag.replace("NOLINT(", "NOLINTNEXTLINE(") in above:
                continue
            seen.add(f"{path}:{line}: {r['message']['text']} [{r['ruleId']}]")
for f in sorted(seen):
    print(f)
PY
}

analyse() { # name, function, the program it needs
  local name=$1 fn=$2 t0 secs n report="$OUT/$1.txt"
  wanted "$name" || return 0
  command -v "$3" >/dev/null 2>&1 || {
    echo "analyze: $name: not installed (bash tests/setup.sh)" >&2
    json_line "$name" FAIL 0; status=1; return 0; }
  printf '\n---- %s ----\n' "$name"
  t0=$(date +%s)
  if ! "$fn" >"$report"; then
    echo "analyze: $name: the analyser failed (see $OUT)" >&2
    json_line "$name" FAIL $(($(date +%s) - t0)); status=1; return 0
  fi
  secs=$(($(date +%s) - t0))
  n=$(grep -c . "$report")
  cat "$report"
  printf 'analyze: %s: %d unsuppressed findings in %ds\n' "$name" "$n" "$secs"
  if [ "$n" = 0 ]; then json_line "$name" OK "$secs"; else json_line "$name" FAIL "$secs"; status=1; fi
}

count_suppressions() {
  local tidy cpp
  tidy=$(grep -rhoE --include='*.[ch]' 'NOLINT(NEXTLINE|BEGIN)?\([^)]*\)' \
    common plugin agent tests/host | wc -l)
  cpp=$(grep -rh --include='*.[ch]' 'cppcheck-suppress' common plugin agent tests/host | wc -l)
  printf 'analyze: suppressions at the line: %d (clang-tidy/scan-build NOLINT %d, cppcheck %d)\n' \
    $((tidy + cpp)) "$tidy" "$cpp"
  printf 'analyze: checks off for the whole tree: %d in .clang-tidy, %d in tests/check/cppcheck.cfg\n' \
    "$(grep -cE '^ +-[a-z]' .clang-tidy)" "$(grep -cE '^[a-zA-Z]' tests/check/cppcheck.cfg)"
}

[ -z "$JSON" ] || rm -f "$JSON"
t_all=$(date +%s)
if ! make_cdb; then
  echo "analyze: no compile database (meson setup $BUILD failed)" >&2
  for a in cppcheck clang-tidy scan-build; do wanted "$a" && json_line "$a" FAIL 0; done
  exit 1
fi
analyse cppcheck run_cppcheck cppcheck
analyse clang-tidy run_clang_tidy run-clang-tidy
analyse scan-build run_scan_build "$ANALYZE_BUILD"
count_suppressions
printf 'analyze: %ds in all\n' $(($(date +%s) - t_all))
exit $status
