#!/usr/bin/env bash
# The whole test suite of exordos_mail, from a fresh Debian 12 machine (root):
#   1. installs the dependencies (tests/setup.sh),
#   2. builds with -Dwerror=true and runs every suite (unit pg http dp pkg e2e faults fuzz
#      check image) and prints the fault runs' figures next to their targets,
#   3. runs unit, pg, http, dp, pkg, e2e, faults (its times printed, not asserted there),
#      fuzz in an ASan+UBSan build and unit, pg, http, e2e, fuzz under valgrind (not
#      faults: valgrind's slowdown would only distort its times and counts),
#   4. runs the benchmarks (figures are printed, never asserted),
#   5. runs the seed README's Quick Start on the stand (tests/stand/quickstart),
#      once on the local backend with the token file, once on the fake Core
#      with its IAM,
#   6. runs the static analysers (cppcheck, clang-tidy, scan-build) over the
#      product code (tests/check/analyze.sh) and, from the sanitizer build
#      (built with -Db_coverage=true), prints line and branch coverage per
#      directory against the floors of tests/check/coverage-floors.txt
#      (tests/check/coverage.sh),
#   7. ends with the line "N passed, N failed" counted from meson's test logs;
#      every section's duration is printed when the next one begins.
# Options: --quick  skip the sanitizer (and so the coverage), valgrind and
#          benchmark runs.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
QUICK=0
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "run-tests: unknown option $a" >&2; exit 2 ;;
  esac
done

export EXM_REQUIRE_REAL_PEERS=${EXM_REQUIRE_REAL_PEERS:-1}
export MESON_TESTTHREADS=${MESON_TESTTHREADS:-2}
# the image suite's debootstrapped base (keyed on dp_install.sh's package
# lists) outlives the clone: a machine that ran the suite once is warm
export EXM_IMAGE_CACHE=${EXM_IMAGE_CACHE:-/var/cache/exordos-mail/image}

# Every heading ends the section before it with that section's duration and
# the run's time so far; "summary" is the last.
section_name=
section_start=0
section() {
  if [ -n "$section_name" ]; then
    echo "run-tests: section \"$section_name\" took $((SECONDS - section_start))s (${SECONDS}s elapsed)"
  fi
  section_name=$*
  section_start=$SECONDS
  printf '\n==== %s ====\n' "$*"
}

section "setup (tests/setup.sh)"
bash tests/setup.sh || { echo "run-tests: setup failed" >&2; exit 1; }

status=0
logs=()
COVERAGE=0

setup_build() { # dir, extra meson args...
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    # meson 1.0's --reconfigure keeps a base option such as b_coverage as it
    # was; configure applies every option given
    meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1 &&
      meson configure "$dir" "$@" >>"$dir.setup.log" 2>&1
  else
    rm -rf "$dir"
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
  fi || { cat "$dir.setup.log"; return 1; }
  ninja -C "$dir" || return 1
}

run_meson_test() { # dir, logname, meson test args...
  local dir=$1 name=$2 log; shift 2
  rm -f "$dir/meson-logs/$name".json "$dir/meson-logs/$name"-*.json
  meson test -C "$dir" --print-errorlogs --logbase "$name" "$@" || status=1
  # with --setup, meson appends the setup's name to the log base
  log="$dir/meson-logs/$name.json"
  for f in "$dir/meson-logs/$name"-*.json; do
    if [ -f "$f" ]; then log=$f; fi
  done
  logs+=("$log")
}

section "build (werror)"
if setup_build build -Dwerror=true; then
  section "all suites"
  run_meson_test build testlog-all
  section "fault figures"
  # the faults suite asserts its targets; its figures (TAP comments) are shown here too
  grep -h '^# figure:' build/meson-logs/testlog-all.txt || true
else
  echo "run-tests: build failed" >&2; status=1
fi

# one entry per analyser (analyze/cppcheck, analyze/clang-tidy,
# analyze/scan-build) in the summary; each prints its duration
section "static analysis: cppcheck clang-tidy scan-build"
bash tests/check/analyze.sh --build build --json build/meson-logs/analyze.json || status=1
logs+=("build/meson-logs/analyze.json")

if [ $QUICK = 0 ]; then
  section "sanitizer build (address,undefined; coverage): unit pg http dp pkg e2e faults fuzz"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp
  # gcc's gcov counters ride along in this pass (-Db_coverage=true): no
  # extra build or run for the coverage figures
  if setup_build build-sanitize -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dbenchmarks=false -Db_coverage=true; then
    bash tests/check/coverage.sh --build build-sanitize --reset
    run_meson_test build-sanitize testlog-sanitize --suite unit --suite pg --suite http --suite dp --suite pkg --suite e2e --suite faults --suite fuzz
    COVERAGE=1
  else
    echo "run-tests: sanitizer build failed" >&2; status=1
  fi
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

  section "valgrind: unit pg http e2e fuzz"
  run_meson_test build testlog-valgrind --setup valgrind --suite unit --suite pg --suite http --suite e2e --suite fuzz

  section "benchmarks"
  meson test -C build --benchmark --verbose --logbase benchlog || status=1
  section "benchmark figures"
  # meson parses the benchmarks' TAP, so their figures (TAP comments) only
  # reach its log: print them here.
  grep -E '^# ' build/meson-logs/benchlog.txt \
    | grep -vE 'DEBUG|random seed|Start of|End of' || true
fi

# ---- the stand: the seed README's Quick Start (tests/stand/quickstart) ----
# Starts the stand from scratch in build/ and .stand/, stops it again; one
# entry ("stand/quickstart") in the summary.
section "stand: quickstart"
rm -f build/meson-logs/quickstart.json
bash tests/stand/quickstart --json build/meson-logs/quickstart.json || status=1
logs+=("build/meson-logs/quickstart.json")
# the production path on one machine: the fake Exordos Core makes the nodes
# and its IAM checks real JWTs
section "stand: quickstart --infra core --iam core"
rm -f build/meson-logs/quickstart-core.json
bash tests/stand/quickstart --infra core --iam core --json build/meson-logs/quickstart-core.json \
  || status=1
logs+=("build/meson-logs/quickstart-core.json")
# ---- end of the stand section ----

# the coverage the sanitizer run reached (gcovr), printed last; one entry
# ("coverage/floors") in the summary
if [ $COVERAGE = 1 ]; then
  section "coverage (the sanitizer run): lines and branches per directory, floors"
  bash tests/check/coverage.sh --build build-sanitize --json build-sanitize/meson-logs/coverage.json \
    || status=1
  logs+=("build-sanitize/meson-logs/coverage.json")
fi

[ $status = 0 ] || echo "run-tests: FAILED (see the logs above)" >&2
section "summary"
if ! /usr/bin/python3 - "${logs[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        print(f"missing test log {path}")
        failed += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        entry = json.loads(line)
        r = entry.get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
            # named here, next to the count, so a log's tail says which
            print(f"FAILED {path}: {entry.get('name')} ({r}, "
                  f"{entry.get('duration', 0):.0f} s)")
            for tail in (entry.get("stdout") or "").splitlines()[-12:]:
                print(f"  | {tail[:200]}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
then
  status=1
fi
exit $status
