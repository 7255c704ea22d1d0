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
# unbound is the node's validating resolver for exim's DANE (docs/tls.md §7):
# exim4 sees a resolv.conf of its own that names it; the rest of the node
# keeps the platform's resolv.conf.
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

# unbound + dns-root-data (the root trust anchor unbound starts from; only a
# Recommends of unbound): the node's validating resolver (docs/tls.md §7);
# uacme: the ACME client the agent runs (docs/tls.md §5).
RUNTIME_PACKAGES=(exim4-daemon-light ca-certificates unbound dns-root-data uacme)
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

# Issue 22 item 6, DANE (docs/tls.md §7). exim validates no DNSSEC itself: it
# trusts the AD bit of its resolver, so the resolver must be on the node
# (nobody on the path can set AD) and validating: unbound, recursive from the
# root with Debian's root trust anchor, on 127.0.0.1 only. exim4.service gets
# its own /etc/resolv.conf naming it (a bind mount, so the platform's own
# resolv.conf, which may be rewritten, stays for everything else), with
# `trust-ad`: without it glibc (>= 2.31) clears AD and exim never uses DANE.
# unbound's package enables it; exim4's Wants= starts it with exim in any case.
# The node needs outbound DNS (53) to the internet, as it needs outbound 25.
configure_resolver() {
  install -d -m 0755 "${ROOT}/etc/unbound/unbound.conf.d"
  cat >"${ROOT}/etc/unbound/unbound.conf.d/exordos-mail.conf" <<'CONF'
# exordos_mail (exordos/images/dp_install.sh): exim's validating resolver.
server:
  interface: 127.0.0.1
  access-control: 127.0.0.0/8 allow
  val-permissive-mode: no
  harden-dnssec-stripped: yes
CONF
  chmod 0644 "${ROOT}/etc/unbound/unbound.conf.d/exordos-mail.conf"
  install -d -m 0755 "${ROOT}${CFG_DIR}"
  printf 'nameserver 127.0.0.1\noptions edns0 trust-ad\n' >"${ROOT}${CFG_DIR}/exim4-resolv.conf"
  chmod 0644 "${ROOT}${CFG_DIR}/exim4-resolv.conf"
  install -d -m 0755 "${ROOT}/etc/systemd/system/exim4.service.d"
  cat >"${ROOT}/etc/systemd/system/exim4.service.d/exordos-resolver.conf" <<CONF
# exordos_mail (exordos/images/dp_install.sh): exim resolves through the
# node's validating unbound (DANE, docs/tls.md §7).
[Unit]
Wants=unbound.service
After=unbound.service

[Service]
BindReadOnlyPaths=${CFG_DIR}/exim4-resolv.conf:/etc/resolv.conf
CONF
  chmod 0644 "${ROOT}/etc/systemd/system/exim4.service.d/exordos-resolver.conf"
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
configure_resolver
install_bootstrap
enable_units
echo "dp_install: done"
