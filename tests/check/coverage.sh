#!/usr/bin/env bash
# Line and branch coverage of the product code (common/, plugin/, agent/, the
# host library tests/host/) from a -Db_coverage=true build whose suites ran
# (tests/run-tests.sh: the sanitizer build), with gcovr:
#   prints one line per directory (line %, branch %, and the floor of each) and
#   the total, writes the HTML report DIR/coverage/index.html, and fails when a
#   directory falls below its floor in tests/check/coverage-floors.txt.
# usage: tests/check/coverage.sh [--build DIR] [--floors FILE] [--json FILE] [--reset]
#   --build DIR    the coverage build (default build-sanitize)
#   --floors FILE  the floors (default tests/check/coverage-floors.txt)
#   --json FILE    also write one line of meson's JSON test log
#                  (name "coverage/floors"), for tests/run-tests.sh's summary
#   --reset        delete the build's counters (*.gcda) and exit: run it
#                  before the suites so the figures are this run's
# A directory missing from the floors file fails too (add it with its figures);
# raise a floor when the tests reach more, never lower one to pass.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=build-sanitize
FLOORS=tests/check/coverage-floors.txt
JSON=''
RESET=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) [ $# -ge 2 ] || { echo "coverage: --build needs a directory" >&2; exit 2; }
      BUILD=$2; shift 2 ;;
    --floors) [ $# -ge 2 ] || { echo "coverage: --floors needs a file" >&2; exit 2; }
      FLOORS=$2; shift 2 ;;
    --json) [ $# -ge 2 ] || { echo "coverage: --json needs a file" >&2; exit 2; }
      JSON=$2; shift 2 ;;
    --reset) RESET=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "coverage: unknown option $1" >&2; exit 2 ;;
  esac
done

if [ $RESET = 1 ]; then
  [ -d "$BUILD" ] && find "$BUILD" -name '*.gcda' -delete
  exit 0
fi

t0=$(date +%s)
result=FAIL
finish() {
  [ -z "$JSON" ] || printf '{"name": "coverage/floors", "result": "%s", "duration": %s}\n' \
    "$result" $(($(date +%s) - t0)) >"$JSON"
}
trap finish EXIT

if ! command -v gcovr >/dev/null; then
  echo "coverage: gcovr is not installed (bash tests/setup.sh)" >&2; exit 1
fi
if [ -z "$(find "$BUILD" -name '*.gcda' -print -quit 2>/dev/null)" ]; then
  echo "coverage: no counters in $BUILD (a -Db_coverage=true build whose tests ran)" >&2; exit 1
fi
mkdir -p "$BUILD/coverage"
# unreachable and exception branches are the compiler's, not the code's
if ! gcovr --root "$ROOT" --object-directory "$BUILD" -j 2 \
    --filter "$ROOT/common/" --filter "$ROOT/plugin/" --filter "$ROOT/agent/" \
    --filter "$ROOT/tests/host/" \
    --exclude-unreachable-branches --exclude-throw-branches \
    --json-summary "$BUILD/coverage/summary.json" \
    --html-details "$BUILD/coverage/index.html" \
    --html-title 'exordos_mail coverage' >"$BUILD/coverage/gcovr.log" 2>&1; then
  cat "$BUILD/coverage/gcovr.log" >&2
  echo "coverage: gcovr failed" >&2; exit 1
fi

/usr/bin/python3 - "$BUILD/coverage/summary.json" "$FLOORS" <<'PY' || exit 1
import json, os, sys
summary, floors_path = sys.argv[1:]
floors = {}
for line in open(floors_path):
    line = line.split("#", 1)[0].split()
    if line:
        floors[line[0]] = (float(line[1]), float(line[2]))
dirs = {}
for f in json.load(open(summary))["files"]:
    d = dirs.setdefault(os.path.dirname(f["filename"]), [0, 0, 0, 0])
    d[0] += f["line_covered"]; d[1] += f["line_total"]
    d[2] += f["branch_covered"]; d[3] += f["branch_total"]
pct = lambda a, b: 100.0 * a / b if b else 100.0
bad = 0
print(f"{'directory':<24} {'lines':>20} {'branches':>20}   floors (lines, branches)")
total = [0, 0, 0, 0]
for name in sorted(dirs):
    c = dirs[name]
    total = [t + x for t, x in zip(total, c)]
    lp, bp = pct(c[0], c[1]), pct(c[2], c[3])
    fl = floors.get(name)
    if fl is None:
        verdict = "NO FLOOR (add it to " + floors_path + ")"
        bad += 1
    elif lp + 1e-9 < fl[0] or bp + 1e-9 < fl[1]:
        verdict = f"{fl[0]:.1f} {fl[1]:.1f}  BELOW THE FLOOR"
        bad += 1
    else:
        verdict = f"{fl[0]:.1f} {fl[1]:.1f}"
    print(f"{name:<24} {lp:5.1f}% {c[0]:>6}/{c[1]:<6} {bp:5.1f}% {c[2]:>6}/{c[3]:<6}   {verdict}")
for name in sorted(set(floors) - set(dirs)):
    print(f"{name:<24} no source measured (a stale floor: remove it)")
    bad += 1
print(f"{'total':<24} {pct(total[0], total[1]):5.1f}% {total[0]:>6}/{total[1]:<6} "
      f"{pct(total[2], total[3]):5.1f}% {total[2]:>6}/{total[3]:<6}")
sys.exit(1 if bad else 0)
PY
result=OK
echo "coverage: HTML report $BUILD/coverage/index.html ($(($(date +%s) - t0))s)"
