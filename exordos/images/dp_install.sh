#!/usr/bin/env bash
# Image build script of the mailaas DP image `exordos-metapaas-mail-dp`
# (exordos/exordos.yaml: profile exordos_base). Runs as root inside the build
# VM, where the build copied this repository to /opt/exordos_mail.
#
# It installs exim4 (daemon-light) and builds and installs this project
# (binaries, systemd units, agent config) with prefix /usr, prepares
# /etc/exim4/passwd (0640 root:Debian-exim), installs the first-boot script
# and enables only the mail agent: exim4 and the configure unit are started
# later, by the bootstrap script and the configure unit (never here).
#
# Test hooks (tests/pkg only): EXM_DESTDIR installs under that directory
# instead of /; EXM_SRC_DIR and EXM_BUILD_DIR move the source and build dirs.
set -euo pipefail
set -x

SRC_DIR="${EXM_SRC_DIR:-/opt/exordos_mail}"
BUILD_DIR="${EXM_BUILD_DIR:-/var/tmp/exordos_mail-build}"
ROOT="${EXM_DESTDIR:-}"

CFG_DIR="/etc/exordos_metapaas"
WORK_DIR="/var/lib/exordos/exordos_metapaas"
UA_WORK_DIR="/var/lib/exordos/universal_agent"
BOOTSTRAP_DIR="/var/lib/exordos/bootstrap/scripts"
BOOTSTRAP_SCRIPT="0100-metapaas-mail-dp-bootstrap.sh"
EXIM_GROUP="Debian-exim"

RUNTIME_PACKAGES=(exim4-daemon-light ca-certificates uacme)
BUILD_PACKAGES=(
  build-essential meson ninja-build pkg-config
  libglib2.0-dev libsoup-3.0-dev libjson-glib-dev libpq-dev libcrypt-dev
  libssl-dev uuid-dev libxxhash-dev
)

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get dist-upgrade -y
  apt-get install -y --no-install-recommends \
    "${RUNTIME_PACKAGES[@]}" "${BUILD_PACKAGES[@]}"
}

# Build and install this project (binaries, units, agent config).
build_and_install() {
  meson setup "$BUILD_DIR" "$SRC_DIR" \
    --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
    --buildtype=release -Dtests=false -Dbenchmarks=false -Dplugin=false
  meson compile -C "$BUILD_DIR"
  if [ -n "$ROOT" ]; then
    meson install -C "$BUILD_DIR" --destdir "$ROOT"
  else
    meson install -C "$BUILD_DIR"
  fi
}

prepare_directories() {
  install -d -m 0755 "${ROOT}${CFG_DIR}"
  # Agent state: payload.json and the SDK work dir (mail_meta.json). Both are
  # ReadWritePaths of the agent unit, which fails to start if they are missing.
  install -d -m 0700 "${ROOT}${WORK_DIR}"
  if [ ! -d "${ROOT}${UA_WORK_DIR}" ]; then
    install -d -m 0700 "${ROOT}${UA_WORK_DIR}"
  fi
  install -d -m 0755 "${ROOT}/etc/exim4"
}

# The agent rewrites passwd atomically and keeps this owner and mode; exim
# (group Debian-exim) reads it per SMTP session.
prepare_passwd() {
  local passwd="${ROOT}/etc/exim4/passwd"
  if [ ! -e "$passwd" ]; then
    : >"$passwd"
  fi
  chown "root:${EXIM_GROUP}" "$passwd"
  chmod 0640 "$passwd"
}

install_bootstrap() {
  install -D -m 0755 "${SRC_DIR}/exordos/images/dp_bootstrap.sh" \
    "${ROOT}${BOOTSTRAP_DIR}/${BOOTSTRAP_SCRIPT}"
}

enable_units() {
  # exim4 starts once configure has written its config (configure restarts it).
  systemctl disable exim4 || true
  # Only the agent is enabled here; the bootstrap script enables configure.
  systemctl enable exordos-metapaas-mail-agent
}

install_packages
build_and_install
prepare_directories
prepare_passwd
install_bootstrap
enable_units
echo "dp_install: done"
