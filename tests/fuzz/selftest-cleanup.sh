#!/bin/bash
# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
#
# A fuzz target whose property breaks exits at once (exm_fuzz_fail()), before
# atexit() could remove the directory exm_test_init() made for the test's
# user dirs: the driver removes it itself.  Runs fuzz-selftest (which fails by design) with a
# TMPDIR of its own and checks the failure and that nothing is left there.
set -u
selftest=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

env -u G_TEST_TMPDIR TMPDIR="$tmp" "$selftest" --iterations=5000 >/dev/null 2>&1
rc=$?
if [ "$rc" -ne 1 ]; then
	echo "fuzz-selftest exited $rc, expected 1 (its property must break)" >&2
	exit 1
fi
left=$(ls -A "$tmp")
if [ -n "$left" ]; then
	echo "fuzz-selftest left in TMPDIR: $left" >&2
	exit 1
fi
echo "fuzz-selftest failed as designed and left nothing in TMPDIR"
