#!/bin/sh
# Launches one tests/pkg test (a Python script printing TAP) with
# /usr/bin/python3, the interpreter that has Debian's python3-jinja2 and
# python3-yaml. `exec` keeps a valgrind test setup from tracing Python: only
# this shell runs under the wrapper.
set -eu
if [ ! -x /usr/bin/python3 ]; then
  if [ "${EXM_REQUIRE_REAL_PEERS:-0}" = 1 ]; then
    printf '1..1\nnot ok 1 - peer missing: /usr/bin/python3\n'
    exit 1
  fi
  printf '1..0 # SKIP peer missing: /usr/bin/python3\n'
  exit 0
fi
exec /usr/bin/python3 "$@"
