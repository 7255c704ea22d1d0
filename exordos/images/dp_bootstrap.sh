#!/usr/bin/env bash
# First boot of a mailaas DP node. Installed by dp_install.sh as
# /var/lib/exordos/bootstrap/scripts/0100-metapaas-mail-dp-bootstrap.sh and run
# by the platform's exordos-bootstrap.service.
#
# 1. The data disk becomes /persist through the platform library
#    (lib_bootstrap.sh) and /var/log moves onto it; any failure stops here with
#    its exit code, before configure is queued.
# 2. /persist/exordos_mail holds the private DKIM and TLS keys (a
#    ReadWritePaths of the configure unit, so it must exist first). It is
#    root:Debian-exim 0710: exim (group Debian-exim) must traverse it to read
#    its keys in dkim/ and tls/, nobody else may enter it. configure enforces
#    the same owner and mode on every run (EXM_DP_PERSIST_MODE).
# 3. The configure unit is enabled and queued with --no-block: it is ordered
#    after exordos-bootstrap.service, so waiting for it here would deadlock.
#    Its AssertPathIsMountPoint=/persist and /var/log refuse to run it on a
#    node whose storage is not in place.
#
# EXORDOS_BOOTSTRAP_LIB overrides the library path; EXM_BOOTSTRAP_ROOT (tests
# only) prefixes the directory created in step 2.
set -euo pipefail

BOOTSTRAP_LIB="${EXORDOS_BOOTSTRAP_LIB:-/usr/local/lib/exordos/lib_bootstrap.sh}"
if [ ! -r "$BOOTSTRAP_LIB" ]; then
  echo "dp_bootstrap: bootstrap library not found: $BOOTSTRAP_LIB" >&2
  exit 1
fi
# shellcheck source=/dev/null
source "$BOOTSTRAP_LIB"
: "${PERSISTENT_MOUNT:=/persist}"

PERSISTENT_DISK="$(find_persistent_disk)"
prepare_persistent_disk "$PERSISTENT_DISK" "$PERSISTENT_MOUNT" "xfs"
if [ -n "$PERSISTENT_DISK" ]; then
  migrate_to_persistent_restart "/var/log" "${PERSISTENT_MOUNT}/var/log" \
    "systemd-journald rsyslog"
  persist_migrate_complete
fi

MAIL_DIR="${EXM_BOOTSTRAP_ROOT:-}${PERSISTENT_MOUNT}/exordos_mail"
install -d -o root -g Debian-exim -m 0710 "$MAIL_DIR"

# exim's hints databases (the ratelimit state of the abuse controls,
# docs/abuse-controls.md) on the data disk, so a rebuilt root disk keeps the
# send limits and login lock-outs: the spool's db/ becomes a link there.
HINTS_DIR="${MAIL_DIR}/exim-db"
SPOOL_DIR="${EXM_BOOTSTRAP_ROOT:-}/var/spool/exim4"
install -d -o Debian-exim -g Debian-exim -m 0750 "$HINTS_DIR"
if [ -d "$SPOOL_DIR" ] && [ ! -L "$SPOOL_DIR/db" ]; then
  rm -rf "$SPOOL_DIR/db"
  ln -s "$HINTS_DIR" "$SPOOL_DIR/db"
fi

# The mail agent's usage state (docs/usage.md §1.1): on the data disk with
# the main log whose position it records; root only (a ReadWritePaths of the
# agent unit, so it must exist before the agent starts).
install -d -o root -g root -m 0700 "${MAIL_DIR}/usage"

# Every other directory on /persist the agent writes (its unit's
# ReadWritePaths=-): systemd makes a path that is missing when the unit starts
# read-only for the agent until it restarts, and the agent may start before
# configure, which makes them too. tls/ holds the keys (root:Debian-exim 0750,
# exim reads them); capture/ is exim's maildir (Debian-exim 0750); configure
# enforces the same owners and modes (agent/dp/exm-dp-configure.c).
install -d -o root -g Debian-exim -m 0750 "${MAIL_DIR}/tls"
install -d -o Debian-exim -g Debian-exim -m 0750 "${MAIL_DIR}/capture"

systemctl --no-block enable --now exordos-metapaas-mail-configure
echo "Bootstrap completed successfully."
