#!/usr/bin/env bash
# Suite `image`: the DP image built by the project's own exordos/images/dp_install.sh
# on a debootstrapped Debian 12 and booted for real (qemu TCG, systemd as PID 1,
# a second virtio disk as the data disk), twice. Prints TAP; the figures
# (step durations, boot-to-first-login, systemd-analyze security) as
# `# figure: ...` comments.
#
#   image-test.sh            (meson passes EXM_SOURCE_ROOT and EXM_BUILD_ROOT)
#
# Stand-ins for the platform (tests/image/exordos_base, the only non-project
# parts): exordos-bootstrap.service and its runner, lib_bootstrap.sh, the base
# image's DHCP network. The test places what the platform's Config render and
# node bootstrap would (mail.env, the agent's config, the node key) and adds
# its own channel into the guest (a root shell on the second serial port).
#
# Network: everything runs in a network namespace the test creates (only its
# loopback): the reference host's Orch/Status APIs, PostgreSQL (a unix
# socket), the SMTP sink on 127.0.0.1:25, a fake DNS on 127.0.0.1:53 and qemu
# with user-mode networking on 203.0.113.0/24 (TEST-NET-3; 203.0.113.2 is the
# namespace's loopback, 203.0.113.3 its DNS). The mirror is only contacted while
# building the image (debootstrap and dp_install.sh's apt-get), outside the
# namespace, as the platform's image build does.
#
# Cache: the debootstrapped base (with dp_install.sh's package lists already
# installed) is kept under the build directory, keyed on those lists;
# EXM_IMAGE_CACHE puts it elsewhere (tests/run-tests.sh uses a directory of
# the machine, so a fresh clone on a machine that ran the suite before is warm).
# EXM_IMAGE_MIRROR overrides the Debian mirror; EXM_IMAGE_KEEP=1 keeps the
# run directory's disks after a pass.
set -euo pipefail

SRC=${EXM_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BLD=${EXM_BUILD_ROOT:-$SRC/build}
HERE=$SRC/tests/image
CACHE=${EXM_IMAGE_CACHE:-$BLD/tests/image/cache}
WORK=$BLD/tests/image/run
MIRROR=${EXM_IMAGE_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
NS=exm-image-$$
DOMAIN=example.com
USER_NAME=alice
USER_ADDR=$USER_NAME@$DOMAIN
PASSWORD=image-test-$$-secret
NODE_UUID=6d61696c-0000-4000-8000-00000000d9a1
GATEWAY=203.0.113.2
BOOT_TIMEOUT=${EXM_IMAGE_BOOT_TIMEOUT:-900}
# What the platform's base image has and a minbase debootstrap lacks: the
# kernel, systemd as init, udev, the data disk's mkfs.xfs, util-linux tools.
BASE_PACKAGES=(systemd-sysv udev dbus linux-image-amd64 initramfs-tools
  xfsprogs iproute2 kmod procps)

n=0
failed=0
pids=()
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
  n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
  if [ $# -gt 1 ]; then printf '%s\n' "$2" | sed 's/^/# /' | tail -n 40; fi
}
# check DESCRIPTION COMMAND...: one TAP line for the command's status
check() {
  local desc=$1 out; shift
  if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
}
figure() { echo "# figure: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# bail REASON: the rest cannot run; the plan ends here (cleanup runs on EXIT)
bail() {
  not_ok "$1" "${2:-}"
  echo "1..$n"
  exit 1
}

peer_missing() {
  if [ "${EXM_REQUIRE_REAL_PEERS:-0}" = 1 ]; then
    printf '1..1\nnot ok 1 - peer missing: %s\n' "$1"
    exit 1
  fi
  printf '1..0 # SKIP peer missing: %s\n' "$1"
  exit 0
}

check_peers() {
  local p
  [ "$(id -u)" = 0 ] || peer_missing "root (debootstrap, chroot, ip netns)"
  for p in qemu-system-x86_64 debootstrap mkfs.ext4 ip unshare chroot xxhsum openssl; do
    command -v "$p" >/dev/null || peer_missing "$p"
  done
  PG_BIN=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort | tail -n 1)
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then peer_missing "PostgreSQL (initdb)"; fi
  /usr/bin/python3 -c 'import dkim, dns.message' 2>/dev/null ||
    peer_missing "python3-dkim / python3-dnspython"
  HOST_BIN=$BLD/tests/host/exordos-paas-host
  PLUGIN=$BLD/plugin/libexordos_paas_mail.so
  [ -x "$HOST_BIN" ] || peer_missing "$HOST_BIN (build the project first)"
  [ -f "$PLUGIN" ] || peer_missing "$PLUGIN (build the project first)"
}

cleanup() {
  local p
  set +e
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null
  done
  if [ -f "$WORK/qemu.pid" ]; then
    kill "$(cat "$WORK/qemu.pid")" 2>/dev/null
  fi
  if [ -d "$WORK/pg" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1
  fi
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null
  done
  ip netns del "$NS" 2>/dev/null
  rm -rf "/etc/netns/$NS"
  if [ "$failed" = 0 ] && [ "${EXM_IMAGE_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK/rootfs" "$WORK/root.img" "$WORK/data.img" "$WORK/root.pristine"
  fi
}

# ---------------------------------------------------------------- the image

# run_chroot ROOT COMMAND...: COMMAND in ROOT with /proc, /sys, /dev and a
# private /run, all in a mount namespace of its own (gone when it exits).
run_chroot() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  unshare -m --propagation private bash -euo pipefail -c '
    r=$1; shift
    mount -t proc proc "$r/proc"
    mount -t sysfs sys "$r/sys"
    mount --rbind /dev "$r/dev"
    mount -t tmpfs tmpfs "$r/run"
    exec chroot "$r" "$@"' run_chroot "$@"
}

# The package lists of dp_install.sh (its RUNTIME_PACKAGES and BUILD_PACKAGES)
dp_install_packages() {
  local RUNTIME_PACKAGES=() BUILD_PACKAGES=()
  eval "$(awk '/^(RUNTIME|BUILD)_PACKAGES=\(/ { on = 1 } on { print } on && /\)/ { on = 0 }' \
    "$SRC/exordos/images/dp_install.sh")"
  [ ${#RUNTIME_PACKAGES[@]} -gt 0 ] && [ ${#BUILD_PACKAGES[@]} -gt 0 ] || return 1
  echo "${RUNTIME_PACKAGES[@]}" "${BUILD_PACKAGES[@]}"
}

# No package may start a daemon in the chroot (the build VM's systemd would
# start them in the VM; here they would run on this machine).
no_daemons() {
  printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
  chmod 0755 "$1/usr/sbin/policy-rc.d"
}

build_base() {
  local pkgs key dir t0
  pkgs=$(dp_install_packages) || bail "dp_install.sh's package lists are readable"
  key=$(printf '%s\n' "$SUITE" "$MIRROR" "${BASE_PACKAGES[*]}" "$pkgs" | sha256sum | cut -c1-16)
  dir=$CACHE/base-$key
  figure "base cache key $key (${BASE_PACKAGES[*]} $pkgs)"
  if [ -f "$dir/done" ]; then
    ok "base rootfs cached ($dir)"
    figure "step debootstrap: cached"
    BASE=$dir/rootfs
    return 0
  fi
  t0=$(now)
  rm -rf "$CACHE"/base-*
  mkdir -p "$dir"
  # debootstrap's own resolver ignores alternatives (dconf-service's
  # dbus-session-bus), so only the base comes from it and apt installs the rest.
  if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${BASE_PACKAGES[*]}")" \
    "$SUITE" "$dir/rootfs" "$MIRROR" >"$dir/debootstrap.log" 2>&1; then
    bail "debootstrap $SUITE" "$(tail -n 30 "$dir/debootstrap.log")"
  fi
  cp /etc/resolv.conf "$dir/rootfs/etc/resolv.conf"
  no_daemons "$dir/rootfs"
  if ! run_chroot "$dir/rootfs" env DEBIAN_FRONTEND=noninteractive bash -euo pipefail -c \
    "apt-get update -q; apt-get install -y -q --no-install-recommends $pkgs; apt-get clean" \
    >"$dir/apt.log" 2>&1; then
    bail "apt-get install of dp_install.sh's packages in the base" "$(tail -n 30 "$dir/apt.log")"
  fi
  rm -f "$dir/rootfs/usr/sbin/policy-rc.d"
  touch "$dir/done"
  ok "debootstrap $SUITE with dp_install.sh's packages"
  figure "step debootstrap: $(since "$t0") s"
  BASE=$dir/rootfs
}

# The platform's exordos_base profile (stand-ins) and the base image's network.
install_base_standins() {
  local r=$1 b=$HERE/exordos_base
  install -D -m 0644 "$b/lib_bootstrap.sh" "$r/usr/local/lib/exordos/lib_bootstrap.sh"
  install -D -m 0755 "$b/exordos-bootstrap" "$r/usr/local/lib/exordos/exordos-bootstrap"
  install -D -m 0644 "$b/exordos-bootstrap.service" "$r/etc/systemd/system/exordos-bootstrap.service"
  install -D -m 0644 "$b/20-wired.network" "$r/etc/systemd/network/20-wired.network"
  echo "mail-dp" >"$r/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 mail-dp\n' >"$r/etc/hosts"
  echo "LABEL=root / ext4 defaults 0 1" >"$r/etc/fstab"
  run_chroot "$r" systemctl enable exordos-bootstrap.service systemd-networkd.service \
    systemd-networkd-wait-online.service >"$WORK/standins.log" 2>&1 ||
    bail "the exordos_base stand-ins are enabled" "$(cat "$WORK/standins.log")"
}

# The source as the image build copies it (tracked and new files of the tree).
copy_source() {
  local dst=$1/opt/exordos_mail
  mkdir -p "$dst"
  (cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -xf - -C "$dst"
}

# What the platform puts on the node before its first boot: mail.env (Config
# render), the agent's config pointing at the CP (Config render), the node key
# (node bootstrap). Plus the test's own channel: a root shell on ttyS1.
place_platform_files() {
  local r=$1 conf=$1/etc/exordos_metapaas/metapaas_mail_agent.conf
  printf 'MAIL_DOMAIN=%s\n' "$DOMAIN" >"$r/etc/exordos_metapaas/mail.env"
  sed -i -e "s|^orch_endpoint = .*|orch_endpoint = http://$GATEWAY:11011|" \
    -e "s|^status_endpoint = .*|status_endpoint = http://$GATEWAY:11012|" "$conf"
  NODE_KEY=$(head -c 32 /dev/urandom | base64)
  install -d -m 0700 "$r/var/lib/exordos/universal_agent"
  (umask 077 && printf '%s' "$NODE_KEY" >"$r/var/lib/exordos/universal_agent/private_key")
  echo "nameserver 203.0.113.3" >"$r/etc/resolv.conf"
  # exim resolves through the node's own validating unbound (dp_install.sh,
  # docs/tls.md §7), which recurses from the root; the namespace has no root,
  # so the test's DNS stands in for the internet's: sink.test is forwarded to
  # it, unsigned (insecure: no DANE, opportunistic TLS as before). `test.` is
  # one of unbound's built-in empty zones (RFC 6761), undone here.
  cat >"$r/etc/unbound/unbound.conf.d/zz-image-test.conf" <<'CONF'
server:
  local-zone: "test." nodefault
  domain-insecure: "sink.test"
forward-zone:
  name: "sink.test"
  forward-addr: 203.0.113.3
CONF
  # a plain root shell, no login session (a getty's session scope could fail
  # on its own and show up in systemctl --failed)
  cat >"$r/etc/systemd/system/exm-test-shell.service" <<'UNIT'
[Unit]
Description=image suite: the test's root shell on ttyS1 (not part of the image)

[Service]
# agetty opens the serial line (-L: no carrier needed) and runs bash in place
# of login (-n -l): no PAM, no session
ExecStart=-/sbin/agetty -n -L -l /bin/bash --login-options=-l --keep-baud 115200 ttyS1 dumb
Environment=SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
  ln -sf /etc/systemd/system/exm-test-shell.service \
    "$r/etc/systemd/system/multi-user.target.wants/exm-test-shell.service"
}

build_image() {
  local r=$WORK/rootfs t0
  t0=$(now)
  rm -rf "$r"
  cp -a "$BASE" "$r"
  install_base_standins "$r"
  copy_source "$r"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  no_daemons "$r"
  figure "step copy base + source: $(since "$t0") s"
  t0=$(now)
  if run_chroot "$r" bash /opt/exordos_mail/exordos/images/dp_install.sh \
    >"$WORK/dp_install.log" 2>&1 && grep -q '^dp_install: done' "$WORK/dp_install.log"; then
    ok "dp_install.sh runs in the rootfs as the image build runs it"
  else
    bail "dp_install.sh runs in the rootfs" "$(tail -n 30 "$WORK/dp_install.log")"
  fi
  figure "step dp_install.sh: $(since "$t0") s"
  rm -f "$r/usr/sbin/policy-rc.d"
  place_platform_files "$r"
  t0=$(now)
  cp "$(find "$r/boot" -name 'vmlinuz-*' | sort | tail -n 1)" "$WORK/vmlinuz"
  cp "$(find "$r/boot" -name 'initrd.img-*' | sort | tail -n 1)" "$WORK/initrd.img"
  rm -f "$WORK/root.img" "$WORK/data.img"
  truncate -s 6G "$WORK/root.img"
  truncate -s 2G "$WORK/data.img"
  check "root disk image made from the rootfs (mkfs.ext4 -d)" \
    mkfs.ext4 -q -F -L root -d "$r" "$WORK/root.img"
  figure "step disk images: $(since "$t0") s"
}

# ------------------------------------------------------- the namespace and CP

in_ns() { ip netns exec "$NS" "$@"; }

# spawn LOG COMMAND...: a background child in the namespace, stopped by cleanup
spawn() {
  local log=$1; shift
  # not through in_ns: $! must be the process itself (ip execs it), not a subshell
  ip netns exec "$NS" "$@" >"$log" 2>&1 &
  pids+=($!)
}

wait_for() { # SECONDS COMMAND...: retries until it succeeds
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 1
  done
}

psql_cp() {
  runuser -u postgres -- "$PG_BIN/psql" -h "$WORK/pgsock" -d metapaas -v ON_ERROR_STOP=1 -qAt "$@"
}

start_namespace() {
  ip netns add "$NS"
  in_ns ip link set lo up
  # qemu's user-mode DNS forwards to the namespace's resolver: the fake DNS
  mkdir -p "/etc/netns/$NS"
  echo "nameserver 127.0.0.1" >"/etc/netns/$NS/resolv.conf"
  mkdir -p "$WORK/sink"
  spawn "$WORK/dns.log" /usr/bin/python3 "$SRC/tests/dp/dns-fake.py" 127.0.0.1 53 \
    sink.test MX "10 mx.sink.test." mx.sink.test A "$GATEWAY"
  spawn "$WORK/sink.log" /usr/bin/python3 "$SRC/tests/dp/smtp-sink.py" 127.0.0.1 25 "$WORK/sink"
  wait_for 30 grep -q ready "$WORK/dns.log" || bail "fake DNS starts" "$(cat "$WORK/dns.log")"
  wait_for 30 grep -q ready "$WORK/sink.log" || bail "SMTP sink starts" "$(cat "$WORK/sink.log")"
}

start_cp() {
  install -d -o postgres -g postgres -m 0700 "$WORK/pg" "$WORK/pgsock"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg" -U postgres --auth=trust >"$WORK/initdb.log" 2>&1 ||
    bail "initdb" "$(cat "$WORK/initdb.log")"
  in_ns runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pg/postgres.log" \
    -o "-k $WORK/pgsock -c listen_addresses=''" start >/dev/null ||
    bail "PostgreSQL starts" "$(cat "$WORK/pg/postgres.log")"
  runuser -u postgres -- "$PG_BIN/psql" -h "$WORK/pgsock" -d postgres -qc 'CREATE DATABASE metapaas'
  cat >"$WORK/host.conf" <<CONF
[host]
listen = 127.0.0.1
port = 18080
plugins = $PLUGIN;
[db]
conninfo = host=$WORK/pgsock dbname=metapaas user=postgres
[agent_api]
enabled = true
orch_port = 11011
status_port = 11012
CONF
  spawn "$WORK/host.log" "$HOST_BIN" --config "$WORK/host.conf" --verbose
  wait_for 60 in_ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/11011' ||
    bail "reference host serves the Orch API" "$(tail -n 20 "$WORK/host.log")"
  psql_cp -c "INSERT INTO ua_node_encryption_keys (uuid, private_key) VALUES ('$NODE_UUID', '$NODE_KEY')"
  ok "reference host (Orch/Status API, PostgreSQL) runs in namespace $NS with the node key"
}

# ------------------------------------------------------------------ the guest

start_vm() { # BOOT_NO
  rm -f "$WORK/shell.sock"
  in_ns qemu-system-x86_64 -machine pc,accel=tcg -cpu max -smp 2 -m 1536 \
    -uuid "$NODE_UUID" -nodefaults -no-user-config -display none \
    -kernel "$WORK/vmlinuz" -initrd "$WORK/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.show_status=1" \
    -drive "file=$WORK/root.img,format=raw,if=virtio" \
    -drive "file=$WORK/data.img,format=raw,if=virtio" \
    -netdev "user,id=n0,net=203.0.113.0/24,host=$GATEWAY,dns=203.0.113.3,dhcpstart=203.0.113.15,hostfwd=tcp:127.0.0.1:10025-:25,hostfwd=tcp:127.0.0.1:10465-:465,hostfwd=tcp:127.0.0.1:10587-:587" \
    -device virtio-net-pci,netdev=n0 -device virtio-rng-pci \
    -serial "file:$WORK/console.log" \
    -chardev "socket,id=sh,path=$WORK/shell.sock,server=on,wait=off" -serial chardev:sh \
    -pidfile "$WORK/qemu.pid" -daemonize
}

# guest COMMAND [TIMEOUT]: runs COMMAND in the guest (root shell on ttyS1)
guest() {
  /usr/bin/python3 "$HERE/guest-shell.py" "$WORK/shell.sock" "${2:-120}" "$1"
}

smtp() { # ARGS of tests/dp/smtp-client.py, in the namespace
  in_ns /usr/bin/python3 "$SRC/tests/dp/smtp-client.py" "$@"
}

login_code() { # PORT MODE PASSWORD: the SMTP code of one AUTH attempt
  smtp auth 127.0.0.1 "$1" "$2" "$USER_ADDR" "$3" 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("code", 0))' 2>/dev/null ||
    echo 0
}

login_ok() { [ "$(login_code "$1" "$2" "$PASSWORD")" = 235 ]; }

tls_fingerprint() {
  in_ns openssl s_client -connect 127.0.0.1:10465 </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256
}

# ------------------------------------------------------------------ the checks

# waits for the guest's shell and the end of its boot; prints the state
wait_boot() {
  local state
  guest true "$BOOT_TIMEOUT" >/dev/null || bail "boot $1: the guest's shell answers" \
    "$(tail -n 40 "$WORK/console.log")"
  state=$(guest 'systemctl is-system-running --wait' "$BOOT_TIMEOUT" | tr -d '\r\n ' || true)
  if [ "$state" = running ]; then
    ok "boot $1: systemd reaches running (multi-user) with no failed unit"
  else
    not_ok "boot $1: systemd reaches running, not '$state'" \
      "$(guest 'systemctl --failed --no-pager; journalctl -b -p warning --no-pager | tail -n 40')"
  fi
}

check_storage() {
  check "boot $1: the data disk is xfs on /persist" \
    guest 'findmnt -no SOURCE,FSTYPE /persist | grep -Eq "^/dev/vdb +xfs$"'
  # shellcheck disable=SC2016 # expanded in the guest
  check "boot $1: /var/log lives on the data disk" \
    guest 'mountpoint -q /var/log && test "$(stat -c %d /var/log)" = "$(stat -c %d /persist)"'
  check "boot $1: the configure unit ran (its mount assertions held)" \
    guest 'systemctl is-active exordos-metapaas-mail-configure'
  check "boot $1: DKIM and TLS keys are on the data disk" \
    guest 'test -s /persist/exordos_mail/dkim/platform.private && test -s /persist/exordos_mail/tls/exim.key && test -s /persist/exordos_mail/tls/exim.crt && test -s /etc/exim4/dkim/platform.txt'
  # systemd leaves a ReadWritePaths=- directory missing at the unit's start
  # read-only for it: the agent (started before configure on a first boot)
  # must see every one it writes on the data disk writable (dp_bootstrap.sh)
  # shellcheck disable=SC2016 # expanded in the guest
  check "boot $1: the agent can write its directories on the data disk" \
    guest 'p=$(systemctl show -p MainPID --value exordos-metapaas-mail-agent) && [ "$p" -gt 0 ] && for d in tls capture usage exim-db; do nsenter -t "$p" -m -- test -w "/persist/exordos_mail/$d" || { echo "read-only: $d"; exit 1; }; done'
}

starttls_on_25() { smtp ehlo 127.0.0.1 10025 plain | grep -qi starttls; }

check_listeners() {
  check "boot $1: exim answers on 25 (STARTTLS offered)" wait_for 60 starttls_on_25
  check "boot $1: exim answers on 587 (STARTTLS)" wait_for 30 smtp ehlo 127.0.0.1 10587 starttls
  check "boot $1: exim answers on 465 (implicit TLS)" wait_for 30 smtp ehlo 127.0.0.1 10465 tls
}

agent_registered() {
  [ "$(psql_cp -c "SELECT count(*) FROM ua_agents WHERE uuid = '$AGENT_UUID'")" = 1 ]
}

seed_account() {
  local pw_hash
  AGENT_UUID=$(/usr/bin/python3 -c 'import sys, uuid; print(uuid.uuid5(uuid.UUID(sys.argv[1]), "mailaas"))' "$NODE_UUID")
  if wait_for 300 agent_registered; then
    ok "the mail agent registers with the reference host (agent $AGENT_UUID)"
  else
    bail "the mail agent registers with the reference host" \
      "$(guest 'journalctl -b -u exordos-metapaas-mail-agent --no-pager | tail -n 30')"
  fi
  pw_hash=$(openssl passwd -6 "$PASSWORD")
  /usr/bin/python3 "$HERE/seed-target.py" "$AGENT_UUID" "$NODE_UUID" "$DOMAIN" "$USER_NAME" \
    "$pw_hash" | psql_cp
  check "the agent writes passwd from its mail_instance_node payload" \
    guest "for i in \$(seq 120); do grep -q '^$USER_ADDR:' /etc/exim4/passwd && exit 0; sleep 1; done; exit 1" 180
}

check_logins() {
  local t0=$1 code
  if wait_for 120 login_ok 10465 tls; then
    ok "boot $2: AUTH over 465 (implicit TLS) succeeds"
    figure "boot $2 to first login: $(since "$t0") s"
  else
    not_ok "boot $2: AUTH over 465 (implicit TLS) succeeds" "code $(login_code 10465 tls "$PASSWORD")"
  fi
  check "boot $2: AUTH over 587 (STARTTLS) succeeds" login_ok 10587 starttls
  code=$(login_code 10587 starttls "wrong-$PASSWORD")
  if [ "$code" = 535 ]; then ok "boot $2: a wrong password is refused (535)"; else
    not_ok "boot $2: a wrong password is refused (535), got $code"; fi
  code=$(login_code 10465 tls "wrong-$PASSWORD")
  if [ "$code" = 535 ]; then ok "boot $2: a wrong password is refused on 465 (535)"; else
    not_ok "boot $2: a wrong password is refused on 465 (535), got $code"; fi
}

check_relay() {
  local out
  out=$(smtp send 127.0.0.1 10587 starttls "$USER_ADDR" "$PASSWORD" "$USER_ADDR" "bob@sink.test" 2>&1) || true
  if wait_for 120 test -f "$WORK/sink/msg-$1.eml"; then
    ok "boot $1: a message is relayed to the sink outside the VM"
  else
    not_ok "boot $1: a message is relayed to the sink outside the VM" \
      "$out $(guest 'tail -n 20 /var/log/exim4/mainlog')"
    return 0
  fi
  guest 'cat /etc/exim4/dkim/platform.txt' >"$WORK/platform-$1.txt"
  check "boot $1: the relayed message carries a valid DKIM signature (python3-dkim)" \
    /usr/bin/python3 "$SRC/tests/dp/dkim-verify.py" "$WORK/sink/msg-$1.eml" "$WORK/platform-$1.txt"
}

check_units() {
  local out
  out=$(guest 'systemctl --failed --no-legend --plain --no-pager')
  if [ -z "$(echo "$out" | tr -d '[:space:]')" ]; then ok "boot $1: systemctl --failed is empty"
  else not_ok "boot $1: systemctl --failed is empty" "$out"; fi
  # what the hardening would log: a denied path, a denied or killed syscall
  out=$(guest 'journalctl -b --no-pager -o short -u exordos-bootstrap -u exordos-metapaas-mail-configure -u exordos-metapaas-mail-agent -u exim4 | grep -Ei "read-only file system|permission denied|operation not permitted|bad system call|status=31/SYS|seccomp|denied"' || true)
  if [ -z "$out" ]; then ok "boot $1: the journal shows no denied path or syscall of the hardening"
  else not_ok "boot $1: the journal shows no denied path or syscall of the hardening" "$out"; fi
  out=$(guest 'dmesg | grep -E "audit: type=1326|apparmor=\"DENIED\"" | tail -n 5' || true)
  if [ -z "$out" ]; then ok "boot $1: the kernel logged no seccomp or LSM denial"
  else not_ok "boot $1: the kernel logged no seccomp or LSM denial" "$out"; fi
}

rebooted() { # OLD_BOOT_ID: the guest's shell answers with another boot id
  local id
  id=$(guest 'cat /proc/sys/kernel/random/boot_id' 20) || return 1
  [ -n "$id" ] && [ "$id" != "$1" ]
}

security_figures() {
  local u line
  for u in exordos-metapaas-mail-agent exordos-metapaas-mail-configure exordos-bootstrap exim4; do
    line=$(guest "systemd-analyze security --no-pager $u.service | grep -i 'overall exposure'" | tr -d '\r' | sed 's/.*Overall/Overall/' || true)
    figure "systemd-analyze security $u: ${line:-n/a}"
  done
}

main() {
  local t0 t_boot dkim1 tls1 dkim2 tls2 boot_id
  trap cleanup EXIT
  trap 'exit 143' TERM INT
  check_peers
  mkdir -p "$WORK" "$CACHE"
  rm -rf "$WORK/sink" "$WORK/pg" "$WORK/pgsock" "$WORK/console.log" "$WORK/qemu.pid"
  t0=$(now)
  if [ "${EXM_IMAGE_REUSE:-0}" = 1 ] && [ -f "$WORK/root.pristine" ]; then
    # development only: boot the image of the previous run again
    cp --sparse=always "$WORK/root.pristine" "$WORK/root.img"
    rm -f "$WORK/data.img" && truncate -s 2G "$WORK/data.img"
    NODE_KEY=$(cat "$WORK/rootfs/var/lib/exordos/universal_agent/private_key")
    ok "image of the previous run reused (EXM_IMAGE_REUSE=1)"
  else
    build_base
    build_image
    if [ "${EXM_IMAGE_KEEP:-0}" = 1 ]; then cp --sparse=always "$WORK/root.img" "$WORK/root.pristine"; fi
  fi
  figure "step image build total: $(since "$t0") s"

  start_namespace
  start_cp
  t_boot=$(now)
  start_vm 1 || bail "qemu starts"
  pids+=("$(cat "$WORK/qemu.pid")")
  wait_boot 1
  figure "step boot 1 to systemd running: $(since "$t_boot") s"
  check_storage 1
  check_listeners 1
  seed_account
  check_logins "$t_boot" 1
  check_relay 1
  check_units 1
  security_figures
  dkim1=$(guest 'cat /etc/exim4/dkim/platform.txt')
  tls1=$(tls_fingerprint || true)
  boot_id=$(guest 'cat /proc/sys/kernel/random/boot_id')

  guest 'systemctl reboot' 10 >/dev/null || true
  t_boot=$(now)
  if wait_for "$BOOT_TIMEOUT" rebooted "$boot_id"; then
    ok "the guest reboots"
  else
    bail "the guest reboots" "$(tail -n 40 "$WORK/console.log")"
  fi
  wait_boot 2
  figure "step boot 2 to systemd running: $(since "$t_boot") s"
  check_storage 2
  check_listeners 2
  check_logins "$t_boot" 2
  dkim2=$(guest 'cat /etc/exim4/dkim/platform.txt')
  tls2=$(tls_fingerprint || true)
  if [ -n "$dkim1" ] && [ "$dkim1" = "$dkim2" ]; then ok "the reboot keeps the DKIM public key"
  else not_ok "the reboot keeps the DKIM public key" "$dkim1 / $dkim2"; fi
  if [ -n "$tls1" ] && [ "$tls1" = "$tls2" ]; then ok "the reboot keeps the TLS certificate ($tls2)"
  else not_ok "the reboot keeps the TLS certificate" "'$tls1' / '$tls2'"; fi
  check_relay 2
  check_units 2
  figure "step whole suite: $(since "$t0") s"
  echo "1..$n"
  [ "$failed" = 0 ]
}

main "$@"
