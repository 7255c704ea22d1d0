#!/usr/bin/env bash
# The local stand: PostgreSQL + reference host + mail plugin + local backend.
# Usage: tests/stand/stand.sh [up|stop|clean|--help]
# Until the stand issue lands, `up` installs the dependencies and builds everything.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cmd=${1:-up}
case "$cmd" in
  -h|--help) sed -n '2,4p' "$0" | sed 's/^# //'; exit 0 ;;
  up)
    bash "$ROOT/tests/setup.sh"
    if [ -f "$ROOT/build/build.ninja" ]; then
      meson setup --reconfigure "$ROOT/build" "$ROOT" >/dev/null
    else
      meson setup "$ROOT/build" "$ROOT"
    fi
    ninja -C "$ROOT/build"
    echo "stand: built into $ROOT/build (the running stand arrives with the stand issue)"
    ;;
  stop|clean) echo "stand: nothing running" ;;
  *) echo "stand: unknown command '$cmd' (try --help)" >&2; exit 2 ;;
esac
