#!/usr/bin/env bash
# Installs every build and test dependency of exordos_mail on Debian 12 (root).
# Idempotent and non-interactive: when everything is present it does nothing,
# otherwise it runs `apt-get update` once and installs what is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential meson ninja-build pkg-config
  libglib2.0-dev libsoup-3.0-dev libjson-glib-dev libpq-dev libcrypt-dev
  libssl-dev uuid-dev libxxhash-dev libunbound-dev
  # libunbound.pc requires libevent.pc (libunbound-dev does not pull it in)
  libevent-dev
  # test peers and tools
  postgresql exim4-daemon-light swaks libnet-ssleay-perl
  python3 python3-cryptography python3-dkim python3-dnspython python3-jinja2 python3-yaml
  curl jq openssl valgrind shellcheck iproute2 procps psmisc
  # the OpenAPI validator's runtime (tests/http/test-host-openapi.c)
  nodejs
  # a real Prometheus and promtool (tests/http/test-host-metrics.c, tests/dp/test-dp-metrics.c)
  systemd xxhash prometheus
  # the TLS profile's scanner (tests/dp/test-dp-tls.c)
  sslscan
  # ACME on the node: the client the agent runs and a real ACME server
  # (tests/dp/test-dp-acme.c; the stand's certificates, docs/tls.md §6)
  uacme pebble
  # the live DNS check's authoritative peer (tests/dp/test-dns-verify.c); with
  # its keymgr, the signed zone of the DANE test (tests/dp/test-dp-dane.c)
  knot
  # the DANE test's validating resolver (tests/dp/exm-dp-dnssec.c)
  unbound
  # static analysis and coverage (tests/check/analyze.sh, tests/check/coverage.sh)
  clang clang-tools clang-tidy cppcheck gcovr
  # the image suite (tests/image): builds and boots the DP image
  debootstrap qemu-system-x86
)

if [ "$(id -u)" != 0 ]; then
  echo "setup: must run as root (apt-get installs the dependencies)" >&2
  exit 1
fi

# The OpenAPI validator (tests/http/test-host-openapi.c) from the npm registry,
# pinned, cached in OPENAPI_DIR: installed once, the tests then run offline.
OPENAPI_DIR=/opt/exm-openapi
OPENAPI_PKG=@seriousme/openapi-schema-validator
OPENAPI_VERSION=2.11.0
install_openapi_validator() {
  local pkg_json="$OPENAPI_DIR/node_modules/$OPENAPI_PKG/package.json"
  if [ -x "$OPENAPI_DIR/node_modules/.bin/validate-api" ] &&
    grep -q "\"version\": \"$OPENAPI_VERSION\"" "$pkg_json" 2>/dev/null; then
    echo "setup: $OPENAPI_PKG@$OPENAPI_VERSION present"
    return 0
  fi
  if ! command -v npm >/dev/null; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends npm
  fi
  mkdir -p "$OPENAPI_DIR"
  npm install --no-audit --no-fund --prefix "$OPENAPI_DIR" "$OPENAPI_PKG@$OPENAPI_VERSION"
}

# nodemailer 6, the most used Node.js mail client, with its default options:
# the Quick Start's verified login (tests/stand/nodemailer-login.js), pinned and
# cached like the validator.
NODEMAILER_DIR=/opt/exm-nodemailer
NODEMAILER_VERSION=6.10.1
install_nodemailer() {
  if grep -q "\"version\": \"$NODEMAILER_VERSION\"" \
    "$NODEMAILER_DIR/node_modules/nodemailer/package.json" 2>/dev/null; then
    echo "setup: nodemailer@$NODEMAILER_VERSION present"
    return 0
  fi
  mkdir -p "$NODEMAILER_DIR"
  npm install --no-audit --no-fund --prefix "$NODEMAILER_DIR" "nodemailer@$NODEMAILER_VERSION"
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  install_openapi_validator
  install_nodemailer
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# exim4 and postgresql must not start system-wide daemons: the tests and the
# stand run their own instances on loopback.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -q --no-install-recommends "${missing[@]}"
install_openapi_validator
install_nodemailer
echo "setup: done"
