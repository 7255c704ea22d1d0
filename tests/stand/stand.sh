#!/usr/bin/env bash
# The local stand: a throwaway PostgreSQL, the reference host with the mail
# plugin, its agent API (Orch/Status) and the `local` backend, on this machine.
#
# Usage: tests/stand/stand.sh [up [--infra local|core] [--iam token_file|core]|status|mail [N]|dns UUID|with-dns CMD…|stop|clean|--help]
#   up      install what is missing (tests/setup.sh), build into build/, start
#           PostgreSQL and the host in the background, seed the version
#           exim4_1, write .stand/stand.env and print the Quick Start
#           --infra core: the host drives the `core` backend against the fake
#           Exordos Core (tests/fakes/fake_core, on 127.0.0.1 with the prefix
#           /api/core), whose nodes are local sandboxes run by
#           fake-core-nodes: the production path on one machine.  The choice
#           is kept in .stand/infra for the next `up` (default local).
#           --iam core: the host checks real JWTs through the fake Core's IAM
#           (docs/iam.md): the stand's tokens are JWTs the fake mints (valid
#           24 h, new at every `up`), printed ready to use.  Kept in
#           .stand/iam (default token_file).
#           ACME (issue 22, docs/tls.md §6): `up` also starts pebble (an ACME
#           test server) and pebble-challtestsrv (the stand's DNS) on
#           loopback, seeds the version with pebble's directory and points
#           every node's agent at it; pebble's root, the one trust anchor a
#           client needs, is written to .stand/acme-root.pem.
#   status  what runs, where, and the instances of the dev project
#   dns     publish the instance's A records (actions/dns_records) into the
#           stand's DNS, as a tenant publishes them in its zone: pebble then
#           validates mail.<domain> on the node and issues its certificate
#   with-dns
#           run CMD with the stand's DNS as its only resolver (a private
#           mount namespace whose /etc/resolv.conf names it; the machine's
#           own files are not touched), so clients connect by smtp_hostname
#   mail    the last N (default 5) messages the stand's nodes sent: the nodes
#           deliver to a capture sink on 127.0.0.1, never to the outside
#           world; each is shown with its DKIM verification
#   stop    stop every process the stand started (the host stops its nodes)
#   clean   stop, then remove .stand/
#
# State lives in .stand/ at the repository root: ports (chosen once, reused),
# acme-root.pem, resolv.conf,
# tokens.conf (0600), host.conf, stand.env, pid files, logs/, pg/, nodes/.
# Environment: EXM_STAND_BUILD_DIR (default <repo>/build),
# EXM_STAND_SKIP_SETUP=1 (do not run tests/setup.sh), EXM_STAND_NO_BUILD=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STAND="$ROOT/.stand"
BUILD=${EXM_STAND_BUILD_DIR:-$ROOT/build}
LOGS="$STAND/logs"
PORTS_FILE="$STAND/ports"
ENV_FILE="$STAND/stand.env"
TOKENS="$STAND/tokens.conf"
HOST_CONF="$STAND/host.conf"
HOST_PID="$STAND/host.pid"
PG_PID="$STAND/postgres.pid"
PROJECT=4d657461-0000-0000-0000-000000000002
DEV_USER=4d657461-0000-0000-0000-000000000001
OPERATOR_USER=4d657461-0000-0000-0000-00000000000a
DB_NAME=exordos_metapaas
# the local backend's own default for root: private to root (mode 0700)
LOCK_DIR=/run/exordos-paas-host
VERSION_NAME=exim4_1
VERSION_IMAGE=https://repo.exordos.com/exordos-elements/mailaas/local/images/exordos-metapaas-mail-dp.raw.zst
HOST_BIN="$BUILD/tests/host/exordos-paas-host"
INFRA_FILE="$STAND/infra"
IAM_FILE="$STAND/iam"
JWKS_KEY="$STAND/jwks.key"
CORE_PID="$STAND/fake-core.pid"
NODES_PID="$STAND/fake-core-nodes.pid"
# the capture sink every node delivers to (tests/dp/smtp-sink.py)
SINK_PID="$STAND/mail-sink.pid"
MAIL_DIR="$STAND/mail"
CORE_PASSWORD="$STAND/core-password"
NODES_CONF="$STAND/nodes.conf"
NODES_BIN="$BUILD/tests/e2e/fake-core-nodes"
PLUGIN="$BUILD/plugin/libexordos_paas_mail.so"
CONFIGURE_BIN="$BUILD/agent/exordos-mail-configure"
AGENT_BIN="$BUILD/agent/exordos-metapaas-mail-agent"
# ACME: pebble and its DNS, pebble-challtestsrv (Debian package pebble)
PEBBLE_PID="$STAND/pebble.pid"
DNS_PID="$STAND/challtestsrv.pid"
ACME_ROOT="$STAND/acme-root.pem"
RESOLV_CONF="$STAND/resolv.conf"
ACME_CONTACT=mailto:postmaster@example.com
# what a mail node runs under the host's local backend ([local] node_descriptor)
NODE_DESCRIPTOR="$ROOT/data/exordos_metapaas/local-node.ini"

say() { printf 'stand: %s\n' "$*"; }
die() { printf 'stand: error: %s\n' "$*" >&2; exit 1; }
# die naming the log to read, with its last lines
die_log() { # log, message
  printf 'stand: error: %s\n' "$2" >&2
  if [ -f "$1" ]; then
    printf '  --- last lines of %s ---\n' "$1" >&2
    tail -n 15 "$1" | sed 's/^/  /' >&2
  fi
  printf 'stand: read %s\n' "$1" >&2
  printf 'stand: to end what did start: bash tests/stand/stand.sh stop\n' >&2
  exit 1
}

# the comment block at the top of this file
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

# ---- where the daemons' files live ---------------------------------------

# PostgreSQL (user postgres) and exim's children (Debian-exim) must traverse
# to their files: every ancestor of .stand needs the x bit for others.
others_can_enter() {
  local d=$1 perm
  while [ "$d" != / ]; do
    perm=$(stat -c %A "$d")
    case "${perm:9:1}" in x | t) ;; *) return 1 ;; esac
    d=$(dirname "$d")
  done
}

# Sets DATA: .stand itself, or (repository under a private directory such as
# /root) a directory under /var/tmp that .stand/pg and .stand/nodes link to.
resolve_data_dir() {
  if [ -L "$STAND/pg" ]; then
    DATA=$(dirname "$(readlink "$STAND/pg")")
  elif others_can_enter "$ROOT"; then
    DATA=$STAND
  else
    DATA="/var/tmp/exordos-mail-stand.$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
  fi
  PGDIR="$DATA/pg"
  NODES="$DATA/nodes"
  # pebble's own HTTPS certificate: read by the nodes' agents (acme_ca_file)
  ACME_DIR="$DATA/acme"
  PEBBLE_CERT="$ACME_DIR/pebble.crt"
  PEBBLE_KEY="$ACME_DIR/pebble.key"
  PEBBLE_CONF="$ACME_DIR/pebble.json"
}

make_dirs() {
  mkdir -p "$STAND" "$LOGS"
  chmod 0755 "$STAND" "$LOGS"
  if [ "$DATA" != "$STAND" ]; then
    say "$ROOT is not reachable by other users: daemon data in $DATA"
    mkdir -p "$DATA"
    chmod 0755 "$DATA"
    ln -sfn "$PGDIR" "$STAND/pg"
    ln -sfn "$NODES" "$STAND/nodes"
  fi
  mkdir -p "$PGDIR" "$NODES" "$ACME_DIR"
  chmod 0755 "$PGDIR" "$NODES" "$ACME_DIR"
}

# ---- pids ------------------------------------------------------------------

# The pid in file $1 when that process runs and its command line holds $2.
live_pid() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(head -n 1 "$1")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  printf '%s\n' "$pid"
}

# Running, not a zombie: a process whose parent (PID 1 once we exit) has not
# reaped it yet holds nothing any more.
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "${state:0:1}" != Z ]
}

regex_escape() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

# Pids of every process whose command line names the stand's state.
stand_pids() {
  local dirs=("$STAND/") d pid
  [ "${DATA:-$STAND}" = "$STAND" ] || dirs+=("$DATA/")
  for d in "${dirs[@]}"; do
    for pid in $(pgrep -f -- "$(regex_escape "$d")"); do
      ! alive "$pid" || printf '%s\n' "$pid"
    done
  done | sort -un
}

# ---- ports and subnet ------------------------------------------------------

# Something listens on TCP port $1.
port_busy() { [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }

# A new port: below the kernel's ephemeral range (a client's socket there, even
# in TIME-WAIT, would block our bind) and used by no socket at all.
pick_port() { # ports to avoid...
  local p low
  low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] || low=32768
  for _ in $(seq 1 200); do
    p=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
    case " $* " in *" $p "*) continue ;; esac
    [ -n "$(ss -Htan "sport = :$p" 2>/dev/null)" ] || { printf '%s\n' "$p"; return 0; }
  done
  die "no free TCP port found"
}

# 127.K.0.0/16 of the local backend is free: its lock is not held and nothing
# listens there.
subnet_free() {
  install -d -m 0700 "$LOCK_DIR"
  flock -n "$LOCK_DIR/127.$1.lock" true 2>/dev/null || return 1
  ! ss -Htln 2>/dev/null | awk '{print $4}' | grep -q "^127\.$1\."
}

pick_subnet() {
  local k
  for _ in $(seq 1 200); do
    k=$((16 + RANDOM % 112))
    subnet_free "$k" && { printf '%s\n' "$k"; return 0; }
  done
  die "no free 127.K.0.0/16 subnet for the local backend"
}

# Loads .stand/ports, keeps what is still free, picks the rest, saves.
choose_ports() {
  API_PORT='' ORCH_PORT='' STATUS_PORT='' SUBNET='' CORE_PORT='' METRICS_PORT='' SINK_PORT=''
  ACME_PORT='' ACME_MGMT_PORT='' ACME_HTTP_PORT='' DNS_MGMT_PORT=''
  # shellcheck source=/dev/null
  [ -f "$PORTS_FILE" ] && . "$PORTS_FILE"
  # a hand-edited file: anything but a number is picked anew
  [[ "$API_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || API_PORT=''
  [[ "$ORCH_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || ORCH_PORT=''
  [[ "$STATUS_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || STATUS_PORT=''
  [[ "$CORE_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || CORE_PORT=''
  [[ "$METRICS_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || METRICS_PORT=''
  [[ "$SINK_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || SINK_PORT=''
  [[ "$ACME_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || ACME_PORT=''
  [[ "$ACME_MGMT_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || ACME_MGMT_PORT=''
  [[ "$ACME_HTTP_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || ACME_HTTP_PORT=''
  [[ "$DNS_MGMT_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || DNS_MGMT_PORT=''
  [[ "$SUBNET" =~ ^[1-9][0-9]{1,2}$ ]] && [ "$SUBNET" -ge 16 ] && [ "$SUBNET" -le 127 ] || SUBNET=''
  local old="$API_PORT $ORCH_PORT $STATUS_PORT $SUBNET $CORE_PORT $METRICS_PORT $SINK_PORT $ACME_PORT $ACME_MGMT_PORT $ACME_HTTP_PORT $DNS_MGMT_PORT"
  if [ -z "$API_PORT" ] || port_busy "$API_PORT"; then API_PORT=$(pick_port "$ORCH_PORT" "$STATUS_PORT"); fi
  if [ -z "$ORCH_PORT" ] || port_busy "$ORCH_PORT"; then ORCH_PORT=$(pick_port "$API_PORT" "$STATUS_PORT"); fi
  if [ -z "$STATUS_PORT" ] || port_busy "$STATUS_PORT"; then STATUS_PORT=$(pick_port "$API_PORT" "$ORCH_PORT"); fi
  if [ -z "$CORE_PORT" ] || port_busy "$CORE_PORT"; then CORE_PORT=$(pick_port "$API_PORT" "$ORCH_PORT" "$STATUS_PORT"); fi
  if [ -z "$METRICS_PORT" ] || port_busy "$METRICS_PORT"; then
    METRICS_PORT=$(pick_port "$API_PORT" "$ORCH_PORT" "$STATUS_PORT" "$CORE_PORT")
  fi
  if [ -z "$SINK_PORT" ] || port_busy "$SINK_PORT"; then
    SINK_PORT=$(pick_port "$API_PORT" "$ORCH_PORT" "$STATUS_PORT" "$CORE_PORT" "$METRICS_PORT")
  fi
  choose_acme_ports
  if [ -z "$SUBNET" ] || ! subnet_free "$SUBNET"; then SUBNET=$(pick_subnet); fi
  if [ "$old" != "$API_PORT $ORCH_PORT $STATUS_PORT $SUBNET $CORE_PORT $METRICS_PORT $SINK_PORT $ACME_PORT $ACME_MGMT_PORT $ACME_HTTP_PORT $DNS_MGMT_PORT" ]; then
    [ "$old" = "           " ] || say "saved ports were taken: picked new ones"
    printf 'API_PORT=%s\nORCH_PORT=%s\nSTATUS_PORT=%s\nSUBNET=%s\nCORE_PORT=%s\nMETRICS_PORT=%s\nSINK_PORT=%s\n' \
      "$API_PORT" "$ORCH_PORT" "$STATUS_PORT" "$SUBNET" "$CORE_PORT" "$METRICS_PORT" "$SINK_PORT" >"$PORTS_FILE"
    printf 'ACME_PORT=%s\nACME_MGMT_PORT=%s\nACME_HTTP_PORT=%s\nDNS_MGMT_PORT=%s\n' \
      "$ACME_PORT" "$ACME_MGMT_PORT" "$ACME_HTTP_PORT" "$DNS_MGMT_PORT" >>"$PORTS_FILE"
  fi
  say "ports: api $API_PORT, orch $ORCH_PORT, status $STATUS_PORT, metrics $METRICS_PORT; nodes on 127.$SUBNET.0.N"
}

# pebble's directory and management ports and challtestsrv's management port
# on 127.0.0.1; the HTTP-01 port on which pebble reaches every node's
# responder (each on its own 127.K.0.N, so they share the one port pebble
# knows).  A port is taken anew when something else holds it.
choose_acme_ports() {
  local taken="$API_PORT $ORCH_PORT $STATUS_PORT $CORE_PORT $METRICS_PORT $SINK_PORT"
  # shellcheck disable=SC2086 # one port per word
  if [ -z "$ACME_PORT" ] || port_busy "$ACME_PORT"; then ACME_PORT=$(pick_port $taken); fi
  taken="$taken $ACME_PORT"
  # shellcheck disable=SC2086 # one port per word
  if [ -z "$ACME_MGMT_PORT" ] || port_busy "$ACME_MGMT_PORT"; then ACME_MGMT_PORT=$(pick_port $taken); fi
  taken="$taken $ACME_MGMT_PORT"
  # shellcheck disable=SC2086 # one port per word
  if [ -z "$ACME_HTTP_PORT" ] || port_busy "$ACME_HTTP_PORT"; then ACME_HTTP_PORT=$(pick_port $taken); fi
  taken="$taken $ACME_HTTP_PORT"
  # shellcheck disable=SC2086 # one port per word
  if [ -z "$DNS_MGMT_PORT" ] || port_busy "$DNS_MGMT_PORT"; then DNS_MGMT_PORT=$(pick_port $taken); fi
}

# ---- setup and build -------------------------------------------------------

# ninja's [n/m] lines become a progress line every 10 %.
progress() {
  awk '/^\[[0-9]+\/[0-9]+\]/ {
         split(substr($1, 2), a, "/"); n = a[1] + 0; m = a[2] + 0
         if (m > 0 && (int(n * 10 / m) != last || n == m)) {
           last = int(n * 10 / m); printf "stand:   building %d/%d\n", n, m; fflush()
         }
       }'
}

build() {
  if [ "${EXM_STAND_SKIP_SETUP:-0}" != 1 ]; then
    say "installing what is missing (tests/setup.sh; log $LOGS/setup.log)"
    bash "$ROOT/tests/setup.sh" >"$LOGS/setup.log" 2>&1 || die_log "$LOGS/setup.log" "setup failed"
    tail -n 1 "$LOGS/setup.log" | sed 's/^/stand:   /'
  fi
  if [ "${EXM_STAND_NO_BUILD:-0}" != 1 ]; then
    compile
  fi
  for f in "$HOST_BIN" "$PLUGIN" "$CONFIGURE_BIN" "$AGENT_BIN"; do
    [ -e "$f" ] || die_log "$LOGS/build.log" "the build did not produce $f"
  done
}

compile() {
  say "building into $BUILD (log $LOGS/build.log)"
  : >"$LOGS/build.log"
  if [ -f "$BUILD/build.ninja" ]; then
    meson setup --reconfigure "$BUILD" "$ROOT" >>"$LOGS/build.log" 2>&1
  else
    # the options of tests/run-tests.sh, so that both commands share one build
    meson setup "$BUILD" "$ROOT" -Dwerror=true >>"$LOGS/build.log" 2>&1
  fi || die_log "$LOGS/build.log" "meson setup failed"
  ninja -C "$BUILD" 2>&1 | tee -a "$LOGS/build.log" | progress
  [ "${PIPESTATUS[0]}" = 0 ] || die_log "$LOGS/build.log" "build failed"
}

# ---- PostgreSQL ------------------------------------------------------------

pg_bindir() {
  local d
  d=$(pg_config --bindir 2>/dev/null || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then printf '%s\n' "$d"; return 0; fi
  d=$(find /usr/lib/postgresql -maxdepth 3 -name initdb -path '*/bin/*' 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || die "PostgreSQL server binaries (initdb) not found: run tests/setup.sh"
  dirname "$d"
}

# from /, as the cwd may be private to root (initdb, psql complain)
as_postgres() { (cd / && runuser -u postgres -- "$@"); }

pg_quote() { printf "'%s'" "${1//\'/\'\'}"; }

pg_init() {
  local bin=$1
  chown postgres:postgres "$PGDIR"
  if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
    say "creating the PostgreSQL cluster in $PGDIR/data"
    rm -rf "$PGDIR/data"
    as_postgres "$bin/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --no-locale \
      >"$LOGS/initdb.log" 2>&1 || die_log "$LOGS/initdb.log" "initdb failed"
    echo "include_if_exists 'stand.conf'" >>"$PGDIR/data/postgresql.conf"
  fi
  mkdir -p "$PGDIR/run"
  chown postgres:postgres "$PGDIR/run"
  chmod 0700 "$PGDIR/run"
  # only the socket: no TCP listener; only root and postgres reach the socket
  {
    echo "listen_addresses = ''"
    echo "unix_socket_directories = $(pg_quote "$PGDIR/run")"
    echo "port = 5432"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "max_connections = 100"
  } >"$PGDIR/data/stand.conf"
  chown postgres:postgres "$PGDIR/data/stand.conf"
}

pg_start() {
  local bin pid log
  bin=$(pg_bindir)
  if pid=$(live_pid "$PG_PID" "$PGDIR/data"); then
    say "PostgreSQL already running (pid $pid)"
    return 0
  fi
  pg_init "$bin"
  # postgres writes its log itself: beside its data when it cannot reach logs/
  log="$LOGS/postgres.log"
  if [ "$DATA" != "$STAND" ]; then
    log="$PGDIR/postgres.log"
    ln -sfn "$log" "$LOGS/postgres.log"
  fi
  touch "$log"
  chown postgres:postgres "$log"
  say "starting PostgreSQL (log $LOGS/postgres.log)"
  (cd / && exec setsid -w runuser -u postgres -- "$bin/pg_ctl" -D "$PGDIR/data" -l "$log" \
    -w -t 60 start) </dev/null >>"$LOGS/pg_ctl.log" 2>&1 \
    || die_log "$LOGS/postgres.log" "PostgreSQL did not start"
  head -n 1 "$PGDIR/data/postmaster.pid" >"$PG_PID"
  if [ -z "$(as_postgres "$bin/psql" -h "$PGDIR/run" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]; then
    as_postgres "$bin/createdb" -h "$PGDIR/run" "$DB_NAME" >>"$LOGS/pg_ctl.log" 2>&1 \
      || die_log "$LOGS/pg_ctl.log" "createdb failed"
  fi
}

pg_stop() {
  local bin pid log
  [ -f "$PGDIR/data/postmaster.pid" ] || { rm -f "$PG_PID"; return 0; }
  bin=$(pg_bindir)
  pid=$(head -n 1 "$PGDIR/data/postmaster.pid")
  say "stopping PostgreSQL"
  as_postgres "$bin/pg_ctl" -D "$PGDIR/data" -m fast -w -t 60 stop >>"$LOGS/pg_ctl.log" 2>&1 \
    || say "pg_ctl stop failed (see $LOGS/pg_ctl.log)"
  # pg_ctl returns when the pid file is gone, a moment before the postmaster
  for _ in $(seq 1 50); do
    alive "$pid" || break
    sleep 0.1
  done
  rm -f "$PG_PID"
}

# ---- tokens, host config ---------------------------------------------------

new_token() { printf '%s-%s' "$1" "$(openssl rand -hex 20)"; }

# Reads the tokens back from tokens.conf (the group names are the tokens).
read_tokens() {
  DEV_TOKEN=$(sed -n 's/^\[\(stand-dev-[0-9a-f]*\)\]$/\1/p' "$TOKENS" | head -n 1)
  OPERATOR_TOKEN=$(sed -n 's/^\[\(stand-operator-[0-9a-f]*\)\]$/\1/p' "$TOKENS" | head -n 1)
  [ -n "$DEV_TOKEN" ] && [ -n "$OPERATOR_TOKEN" ]
}

write_tokens() {
  if [ -f "$TOKENS" ] && read_tokens; then
    chmod 0600 "$TOKENS"
    return 0
  fi
  DEV_TOKEN=$(new_token stand-dev)
  OPERATOR_TOKEN=$(new_token stand-operator)
  (
    umask 077
    cat >"$TOKENS" <<EOF
# IAM tokens of the local stand (tests/host/server/exh-iam.h); the group is the token.
# The dev project's owner, as the seed manifest binds the owner role:
[$DEV_TOKEN]
user = $DEV_USER
project = $PROJECT
permissions = exordos_mail.mail_instance.*;exordos_mail.account.*;exordos_mail.mail_version.read;exordos_metapaas.paas_type.read

# The operator (no project): seeds versions through the operator API.
[$OPERATOR_TOKEN]
user = $OPERATOR_USER
permissions = *.*.*
EOF
  )
}

write_host_conf() {
  cat >"$HOST_CONF" <<EOF
# exordos-paas-host config of the local stand (written by tests/stand/stand.sh)
[host]
listen = 127.0.0.1
port = $API_PORT
plugins = $PLUGIN;
token_file = $TOKENS
project_id = $PROJECT

[db]
conninfo = host=$PGDIR/run port=5432 user=postgres dbname=$DB_NAME connect_timeout=5

[agent_api]
enabled = true
orch_port = $ORCH_PORT
status_port = $STATUS_PORT
plain_agents = false

[metrics]
enabled = true
listen = 127.0.0.1
port = $METRICS_PORT

$(infra_group)
$(iam_group)
EOF
  chmod 0600 "$HOST_CONF"
}

# [iam] under --iam core: the fake Core's IAM client, the JWKS key file.
iam_group() {
  [ "$IAM" = core ] || return 0
  cat <<EOF

[iam]
mode = core
endpoint = http://127.0.0.1:$CORE_PORT/api/core/v1/iam/clients/00000000-0000-0000-0000-000000000000
jwks_key_file = $JWKS_KEY
EOF
}

# The 32-byte key the fake seals its JWKS with (32 hex characters, raw), and
# the same bytes as base64url for the fake.
jwks_key() {
  [ -s "$JWKS_KEY" ] || (umask 077 && openssl rand -hex 16 >"$JWKS_KEY")
  chmod 0600 "$JWKS_KEY"
}
jwks_key_b64url() { tr -d '\n' <"$JWKS_KEY" | base64 -w0 | tr '+/' '-_' | tr -d '='; }

# Under --iam core the stand's two identities get JWTs from the fake.
mint_tokens() {
  local dev op
  [ "$IAM" = core ] || return 0
  dev=$(jq -cn --arg u "$DEV_USER" --arg p "$PROJECT" '{sub: $u, project_id: $p, ttl: 86400,
    permissions: ["exordos_mail.mail_instance.*", "exordos_mail.account.*",
                  "exordos_mail.mail_version.read", "exordos_metapaas.paas_type.read"]}')
  op=$(jq -cn --arg u "$OPERATOR_USER" '{sub: $u, project_id: null, ttl: 86400,
    permissions: ["*.*.*"]}')
  DEV_TOKEN=$(curl -s --max-time 10 -H 'Content-Type: application/json' -d "$dev" \
    "http://127.0.0.1:$CORE_PORT/_fake/iam/tokens" | jq -r '.token // empty')
  OPERATOR_TOKEN=$(curl -s --max-time 10 -H 'Content-Type: application/json' -d "$op" \
    "http://127.0.0.1:$CORE_PORT/_fake/iam/tokens" | jq -r '.token // empty')
  if [ -z "$DEV_TOKEN" ] || [ -z "$OPERATOR_TOKEN" ]; then
    die_log "$LOGS/fake-core.log" "the fake Core minted no JWT"
  fi
  say "IAM: core (JWTs from the fake Core, valid 24 h)"
}

# The [local] group: the host's own backend, or fake-core-nodes' under --infra core.
local_group() {
  cat <<EOF
[local]
state_dir = $NODES
lock_dir = $LOCK_DIR
subnet = $SUBNET
node_descriptor = $NODE_DESCRIPTOR
configure = $CONFIGURE_BIN
agent = $AGENT_BIN
envelope = true
stop_timeout_ms = 5000
smarthost = 127.0.0.1:$SINK_PORT
$(if [ "${ACME:-0}" = 1 ]; then printf 'acme_http_port = %s\nacme_ca_file = %s\n' "$ACME_HTTP_PORT" "$PEBBLE_CERT"; fi)
EOF
}

# The host's infra backend: [local], or [core] pointing at the fake Core.
infra_group() {
  if [ "$INFRA" = core ]; then
    cat <<EOF
[core]
endpoint = http://127.0.0.1:$CORE_PORT/api/core
project = $PROJECT
password_file = $CORE_PASSWORD
poll_ms = 1000
EOF
  else
    local_group
  fi
}

# ---- the host --------------------------------------------------------------

api_up() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$API_PORT/v1/"; }

wait_api() {
  local pid=$1 i
  for i in $(seq 1 120); do
    if api_up; then return 0; fi
    alive "$pid" || die_log "$LOGS/host.log" "the host exited during start-up"
    [ $((i % 10)) = 0 ] && say "  waiting for the API ($((i / 2)) s)"
    sleep 0.5
  done
  die_log "$LOGS/host.log" "the API did not answer within 60 s"
}

host_start() {
  local pid
  if pid=$(live_pid "$HOST_PID" "$HOST_CONF"); then
    say "host already running (pid $pid)"
    return 0
  fi
  say "starting the host (log $LOGS/host.log)"
  printf '\n==== %s up ====\n' "$(date -u '+%F %T')" >>"$LOGS/host.log"
  # the stand's domains are examples: no scheduled DNS re-check queries the
  # outside world for them (actions/verify_dns still checks on request)
  EXM_DNS_RECHECK_SECONDS="${EXM_DNS_RECHECK_SECONDS:-0}" \
    setsid nohup "$HOST_BIN" --verbose --config "$HOST_CONF" </dev/null >>"$LOGS/host.log" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$HOST_PID"
  wait_api "$pid"
}

host_stop() {
  local pid i
  pid=$(live_pid "$HOST_PID" "$HOST_CONF") || { rm -f "$HOST_PID"; return 0; }
  say "stopping the host (pid $pid) and its nodes"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do
    alive "$pid" || break
    sleep 0.5
  done
  if alive "$pid"; then
    say "the host did not stop within 60 s: killed (see $LOGS/host.log)"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$HOST_PID"
}

# ---- the fake Exordos Core and its nodes (--infra core) -------------------

core_up() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$CORE_PORT/_fake/state"; }

# Starts a daemon of the stand: pid file, log name, what its command line
# holds, then the command.
daemon_start() {
  local pidfile=$1 log=$2 needle=$3 pid
  shift 3
  if pid=$(live_pid "$pidfile" "$needle"); then
    say "$(basename "$pidfile" .pid) already running (pid $pid)"
    return 0
  fi
  say "starting $(basename "$pidfile" .pid) (log $LOGS/$log)"
  printf '\n==== %s up ====\n' "$(date -u '+%F %T')" >>"$LOGS/$log"
  setsid nohup "$@" </dev/null >>"$LOGS/$log" 2>&1 &
  printf '%s\n' "$!" >"$pidfile"
}

daemon_stop() { # pid file, what its command line holds
  local pid
  pid=$(live_pid "$1" "$2") || { rm -f "$1"; return 0; }
  say "stopping $(basename "$1" .pid) (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    alive "$pid" || break
    sleep 0.5
  done
  ! alive "$pid" || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

core_start() {
  local py=/usr/bin/python3 pid
  [ -x "$py" ] || py=$(command -v python3) || die "python3 is needed for --infra core"
  [ -s "$CORE_PASSWORD" ] || (umask 077 && openssl rand -hex 16 >"$CORE_PASSWORD")
  chmod 0600 "$CORE_PASSWORD"
  # the fake serves loopback only; its cwd makes `-m fake_core` importable
  jwks_key
  daemon_start "$CORE_PID" fake-core.log "$CORE_PASSWORD" \
    env -C "$ROOT/tests/fakes" FAKE_CORE_IAM_JWKS_KEY="$(jwks_key_b64url)" "$py" -m fake_core --port "$CORE_PORT" --prefix /api/core \
    --project "$PROJECT" --password-file "$CORE_PASSWORD" --external-nodes --tick-ms 500
  pid=$(head -n 1 "$CORE_PID")
  for _ in $(seq 1 40); do
    core_up && return 0
    alive "$pid" || die_log "$LOGS/fake-core.log" "the fake Core exited during start-up"
    sleep 0.25
  done
  die_log "$LOGS/fake-core.log" "the fake Core did not answer within 10 s"
}

# The capture sink: every message the nodes relay ends up in $MAIL_DIR.
sink_start() {
  local py=/usr/bin/python3 pid
  [ -x "$py" ] || py=$(command -v python3) || die "python3 is needed for the mail sink"
  install -d -m 0700 "$MAIL_DIR"
  daemon_start "$SINK_PID" mail-sink.log "$MAIL_DIR" \
    "$py" "$ROOT/tests/dp/smtp-sink.py" 127.0.0.1 "$SINK_PORT" "$MAIL_DIR"
  pid=$(head -n 1 "$SINK_PID")
  for _ in $(seq 1 40); do
    port_busy "$SINK_PORT" && return 0
    alive "$pid" || die_log "$LOGS/mail-sink.log" "the mail sink exited during start-up"
    sleep 0.25
  done
  die_log "$LOGS/mail-sink.log" "the mail sink did not listen within 10 s"
}

nodes_start() {
  [ -x "$NODES_BIN" ] || die "$NODES_BIN is not built"
  local_group >"$NODES_CONF"
  daemon_start "$NODES_PID" fake-core-nodes.log "$NODES_CONF" \
    "$NODES_BIN" --fake "http://127.0.0.1:$CORE_PORT" --config "$NODES_CONF" \
    --orch "http://127.0.0.1:$ORCH_PORT" --status "http://127.0.0.1:$STATUS_PORT"
}

# ---- ACME: pebble and the stand's DNS (issue 22, docs/tls.md §6) ----------

# The address of the stand's DNS: port 53 (the only port a resolv.conf can
# name) on an address of the stand's own 127.K.0.0/16, whose lock it holds.
dns_addr() { printf '127.%s.255.53' "$SUBNET"; }

# The agent has an ACME client: it knows the [dataplane] key acme_http_listen.
# An agent without one would refuse the key, so its nodes get no ACME keys and
# the version no directory; the stand then serves self-signed certificates.
acme_supported() { [ -x "$AGENT_BIN" ] && grep -qa 'acme_http_listen' "$AGENT_BIN"; }

# pebble's HTTPS certificate (its directory's), made once by openssl: the
# nodes' agents trust it through acme_ca_file.  Not the issuing root: pebble
# makes that one anew at each start and serves it on its management port.
pebble_cert() {
  [ -s "$PEBBLE_CERT" ] && [ -s "$PEBBLE_KEY" ] && return 0
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$PEBBLE_KEY" -out "$PEBBLE_CERT" -days 3650 -subj '/CN=pebble (local stand)' \
    -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' >>"$LOGS/pebble.log" 2>&1) \
    || die_log "$LOGS/pebble.log" "openssl could not make pebble's certificate"
  chmod 0644 "$PEBBLE_CERT"
  chmod 0600 "$PEBBLE_KEY"
}

pebble_config() {
  jq -n --arg l "127.0.0.1:$ACME_PORT" --arg m "127.0.0.1:$ACME_MGMT_PORT" \
    --arg c "$PEBBLE_CERT" --arg k "$PEBBLE_KEY" --argjson h "$ACME_HTTP_PORT" \
    '{pebble: {listenAddress: $l, managementListenAddress: $m, certificate: $c,
      privateKey: $k, httpPort: $h, tlsPort: 0, ocspResponderURL: "",
      externalAccountBindingRequired: false}}' >"$PEBBLE_CONF"
}

wait_listen() { # pid file, log, port, what
  local pid
  pid=$(head -n 1 "$1")
  for _ in $(seq 1 40); do
    port_busy "$3" && return 0
    alive "$pid" || die_log "$LOGS/$2" "$4 exited during start-up"
    sleep 0.25
  done
  die_log "$LOGS/$2" "$4 did not listen within 10 s"
}

# challtestsrv answers only what `stand.sh dns` published (no default
# address), on the stand's DNS address; its challenge servers are off.
dns_start() {
  command -v pebble-challtestsrv >/dev/null || die "pebble-challtestsrv is missing: run tests/setup.sh"
  daemon_start "$DNS_PID" challtestsrv.log "$(dns_addr):53" \
    pebble-challtestsrv -defaultIPv4 '' -defaultIPv6 '' -dns01 "$(dns_addr):53" \
    -http01 '' -https01 '' -tlsalpn01 '' -management "127.0.0.1:$DNS_MGMT_PORT"
  wait_listen "$DNS_PID" challtestsrv.log "$DNS_MGMT_PORT" "pebble-challtestsrv"
  printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$(dns_addr)" >"$RESOLV_CONF"
}

# pebble: no random validation sleeps, no nonce rejected on purpose (the
# stand is for trying things, not for testing a client's retries).
pebble_start() {
  local pid
  command -v pebble >/dev/null || die "pebble is missing: run tests/setup.sh"
  pebble_cert
  pebble_config
  daemon_start "$PEBBLE_PID" pebble.log "$PEBBLE_CONF" \
    env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
    pebble -config "$PEBBLE_CONF" -dnsserver "$(dns_addr):53"
  wait_listen "$PEBBLE_PID" pebble.log "$ACME_MGMT_PORT" "pebble"
  pid=$(head -n 1 "$PEBBLE_PID")
  for _ in $(seq 1 40); do
    if curl -sf --max-time 5 --cacert "$PEBBLE_CERT" -o "$ACME_ROOT.tmp" \
      "https://127.0.0.1:$ACME_MGMT_PORT/roots/0"; then
      mv "$ACME_ROOT.tmp" "$ACME_ROOT"
      chmod 0644 "$ACME_ROOT"
      say "pebble's root (the trust anchor of the nodes' certificates): $ACME_ROOT"
      return 0
    fi
    alive "$pid" || die_log "$LOGS/pebble.log" "pebble exited during start-up"
    sleep 0.25
  done
  die_log "$LOGS/pebble.log" "pebble's root could not be fetched"
}

# Both always run (the DNS serves `stand.sh dns` either way); the nodes and
# the version get ACME only from an agent that has the client.
acme_start() {
  dns_start
  pebble_start
  ACME=0
  if acme_supported; then
    ACME=1
  else
    say "the agent has no ACME client: its nodes keep their self-signed certificates"
  fi
}

# Stops both; fails when something still listens on their ports.
acme_stop() {
  local left='' port
  daemon_stop "$PEBBLE_PID" "$PEBBLE_CONF"
  [ -z "${SUBNET:-}" ] || daemon_stop "$DNS_PID" "$(dns_addr):53"
  for port in ${ACME_PORT:-} ${ACME_MGMT_PORT:-} ${DNS_MGMT_PORT:-}; do
    ! port_busy "$port" || left="$left $port"
  done
  if [ -n "${SUBNET:-}" ] && [ -n "$(ss -Htuln "src $(dns_addr) and sport = :53" 2>/dev/null)" ]; then
    left="$left $(dns_addr):53"
  fi
  [ -z "$left" ] || { say "error: still listening after pebble's stop:$left"; return 1; }
}

# The instance's A (and AAAA) records from actions/dns_records, published into
# the stand's DNS as its tenant publishes them in the real zone.
cmd_dns() { # uuid
  local uuid=$1 records n=0 host addrs type
  [[ "$uuid" =~ ^[0-9a-fA-F-]{36}$ ]] || die "dns: give the instance's uuid"
  resolve_data_dir
  [ -f "$ENV_FILE" ] || die "no $ENV_FILE: run stand.sh up first"
  # shellcheck source=/dev/null
  . "$PORTS_FILE"
  # shellcheck source=/dev/null
  . "$ENV_FILE"
  live_pid "$DNS_PID" "$(dns_addr):53" >/dev/null || die "the stand's DNS does not run (stand.sh up)"
  records=$(curl -sf --max-time 10 -H "Authorization: Bearer $MAILAAS_TOKEN" \
    "$MAILAAS_API/v1/types/mail/instances/$uuid/actions/dns_records") \
    || die "dns: GET …/instances/$uuid/actions/dns_records failed"
  for type in A AAAA; do
    while IFS=$'\t' read -r host addrs; do
      [ -n "$host" ] || continue
      curl -sf --max-time 10 -X POST -d "$(jq -cn --arg h "${host%.}." --argjson a "$addrs" \
        '{host: $h, addresses: $a}')" \
        "http://127.0.0.1:$DNS_MGMT_PORT/add-${type,,}" >/dev/null \
        || die "dns: challtestsrv refused $type $host"
      say "published $type ${host%.}. → $(jq -r 'join(", ")' <<<"$addrs") (the stand's DNS, $(dns_addr))"
      n=$((n + 1))
    done < <(jq -r --arg t "$type" '[.records[] | select(.type == $t)] | group_by(.fqdn)[]
      | "\(.[0].fqdn)\t\(map(.data) | tojson)"' <<<"$records")
  done
  [ "$n" -gt 0 ] || die "dns: the instance has no A record yet (is it ACTIVE?)"
}

# CMD with the stand's DNS as its resolver, in a mount namespace of its own.
cmd_with_dns() {
  [ $# -gt 0 ] || die "with-dns: give a command"
  [ -s "$RESOLV_CONF" ] || die "no $RESOLV_CONF: run stand.sh up first"
  # shellcheck disable=SC2016 # the inner shell expands them
  exec unshare --mount --propagation private -- sh -c \
    'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$RESOLV_CONF" "$@"
}

# --infra given to `up`, else the last choice, else local.
choose_infra() {
  if [ -n "${1:-}" ]; then
    INFRA=$1
  elif [ -f "$INFRA_FILE" ]; then
    INFRA=$(head -n 1 "$INFRA_FILE")
  else
    INFRA=local
  fi
  case "$INFRA" in local | core) ;; *) die "--infra must be local or core, not $INFRA" ;; esac
  printf '%s\n' "$INFRA" >"$INFRA_FILE"
  say "infra: $INFRA"
}

# --iam given to `up`, else the last choice, else token_file.
choose_iam() {
  if [ -n "${1:-}" ]; then
    IAM=$1
  elif [ -f "$IAM_FILE" ]; then
    IAM=$(head -n 1 "$IAM_FILE")
  else
    IAM=token_file
  fi
  case "$IAM" in token_file | core) ;; *) die "--iam must be token_file or core, not $IAM" ;; esac
  printf '%s\n' "$IAM" >"$IAM_FILE"
  say "iam: $IAM"
}

# ---- API helpers -----------------------------------------------------------

api() { # method path token [body]
  local args=(-s --max-time 10 -X "$1" -H "Authorization: Bearer $3")
  [ $# -lt 4 ] || args+=(-H 'Content-Type: application/json' -d "$4")
  curl "${args[@]}" "http://127.0.0.1:$API_PORT$2"
}

# The version's ACME settings: pebble's directory (its port may have moved
# since the version was seeded), or none when the agent has no ACME client.
acme_settings() {
  if [ "$ACME" = 1 ]; then
    jq -cn --arg u "https://127.0.0.1:$ACME_PORT/dir" --arg c "$ACME_CONTACT" \
      '{acme_directory_url: $u, acme_contact: $c}'
  else
    printf '{"acme_directory_url": null, "acme_contact": null}'
  fi
}

seed_version() {
  local uuid body
  uuid=$(api GET /v1/types/mail/versions/ "$OPERATOR_TOKEN" \
    | jq -r --arg n "$VERSION_NAME" '.[] | select(.name == $n) | .uuid' 2>/dev/null | head -n 1)
  if [ -n "$uuid" ]; then
    api PATCH "/v1/types/mail/versions/$uuid" "$OPERATOR_TOKEN" "$(acme_settings)" \
      | tee -a "$LOGS/seed.log" | jq -e '.uuid' >/dev/null 2>&1 \
      || die_log "$LOGS/seed.log" "setting the version's ACME directory failed"
  fi
  if [ -z "$uuid" ]; then
    body=$(jq -cn --arg n "$VERSION_NAME" --arg i "$VERSION_IMAGE" --argjson a "$(acme_settings)" \
      '{name: $n, description: "local stand", image: $i} + $a')
    uuid=$(api POST /v1/types/mail/versions/ "$OPERATOR_TOKEN" "$body" | tee -a "$LOGS/seed.log" \
      | jq -r '.uuid // empty' 2>/dev/null || true)
    [ -n "$uuid" ] || die_log "$LOGS/seed.log" "seeding the version $VERSION_NAME failed"
    say "seeded the version $VERSION_NAME ($uuid)"
  else
    say "version $VERSION_NAME present ($uuid)"
  fi
  VERSION_URI="/v1/types/mail/versions/$uuid"
}

sh_quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

write_env() {
  {
    echo "# the local stand (tests/stand/stand.sh up); source it: . .stand/stand.env"
    echo "MAILAAS_API=$(sh_quote "http://127.0.0.1:$API_PORT")"
    echo "MAILAAS_TOKEN=$(sh_quote "$DEV_TOKEN")"
    echo "MAILAAS_PROJECT_ID=$(sh_quote "$PROJECT")"
    echo "MAILAAS_VERSION=$(sh_quote "$VERSION_URI")"
    echo "MAILAAS_ORCH_API=$(sh_quote "http://127.0.0.1:$ORCH_PORT")"
    echo "MAILAAS_STATUS_API=$(sh_quote "http://127.0.0.1:$STATUS_PORT")"
    echo "MAILAAS_METRICS_URL=$(sh_quote "http://127.0.0.1:$METRICS_PORT/metrics")"
    echo "MAILAAS_OPERATOR_TOKEN=$(sh_quote "$OPERATOR_TOKEN")"
    echo "MAILAAS_NODE_SUBNET=$(sh_quote "127.$SUBNET.0.0/16")"
    echo "MAILAAS_STATE_DIR=$(sh_quote "$STAND")"
    echo "MAILAAS_LOGS=$(sh_quote "$LOGS")"
    echo "MAILAAS_ACME_ROOT=$(sh_quote "$ACME_ROOT")"
    echo "MAILAAS_DNS=$(sh_quote "$(dns_addr)")"
    # the version's directory: absent when the nodes have no ACME client
    [ "$ACME" != 1 ] || echo "MAILAAS_ACME_DIRECTORY=$(sh_quote "https://127.0.0.1:$ACME_PORT/dir")"
  } >"$ENV_FILE.tmp"
  chmod 0600 "$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# The Quick Start's ACME part: what a client trusts and how it finds the name.
print_acme() {
  if [ "$ACME" != 1 ]; then
    printf '  # (the agent has no ACME client: the nodes serve self-signed certificates)'
    return 0
  fi
  cat <<EOF
  # publish the instance's A record (mail.example.com -> the node) into the
  # stand's DNS; pebble then validates the name and the node gets its certificate
  bash tests/stand/stand.sh dns <uuid>
  # wait for "tls_source": "acme" (a try before the record existed is retried
  # after a minute's back-off), then log in by name with verification on,
  # trusting pebble's root (the one anchor to trust): $ACME_ROOT
  curl -s $api/v1/types/mail/instances/<uuid> \\
    -H 'Authorization: Bearer $DEV_TOKEN' | jq -r '{smtp_hostname, tls_source, tls_issuer}'
  bash tests/stand/stand.sh with-dns swaks --server mail.example.com:587 --tls \\
    --tls-verify --tls-ca-path $ACME_ROOT \\
    --auth-user alice@example.com --auth-password mypassword --quit-after AUTH
  # nodemailer 6, default options (host, port, auth), by name on 587 and 465:
  NODE_PATH=/opt/exm-nodemailer/node_modules NODE_EXTRA_CA_CERTS=$ACME_ROOT \\
    bash tests/stand/stand.sh with-dns node tests/stand/nodemailer-login.js \\
    mail.example.com alice@example.com mypassword 587 465
EOF
}

print_next() {
  local api="http://127.0.0.1:$API_PORT" METRICS_URL="http://127.0.0.1:$METRICS_PORT/metrics"
  cat <<EOF

The stand is up: API $api (orch :$ORCH_PORT, status :$STATUS_PORT).
$(if [ "$IAM" = core ]; then printf 'IAM: Core IAM (fake); the dev JWT, valid 24 h:\n  %s\n' "$DEV_TOKEN"; fi)
Values: $ENV_FILE   logs: $LOGS/   stop: bash tests/stand/stand.sh stop

Next, the Quick Start (after '. .stand/stand.env' the variables work too):

  curl -X POST $api/v1/types/mail/instances/ \\
    -H 'Content-Type: application/json' \\
    -H 'Authorization: Bearer $DEV_TOKEN' \\
    -d '{"name": "mail-prod", "project_id": "$PROJECT", "domain": "example.com",
         "cpu": 2, "ram": 2048, "disk_size": 20, "version": "$VERSION_URI"}'

  # wait for "status": "ACTIVE", then read the DKIM key (uuid from the answer):
  curl -s $api/v1/types/mail/instances/<uuid> \\
    -H 'Authorization: Bearer $DEV_TOKEN' | jq -r '{dkim_selector, dkim_public_key}'

  HASH=\$(openssl passwd -6 "mypassword")
  curl -X POST $api/v1/types/mail/instances/<uuid>/accounts/ \\
    -H 'Content-Type: application/json' \\
    -H 'Authorization: Bearer $DEV_TOKEN' \\
    -d "{\\"username\\": \\"alice\\", \\"password_hash\\": \\"\${HASH}\\",
         \\"project_id\\": \\"$PROJECT\\", \\"instance\\": \\"/v1/types/mail/instances/<uuid>\\"}"

  # the instance's SMTP endpoint is its ipsv4[0] (127.$SUBNET.0.N) on 25, 465 and 587:
  swaks --server <ipsv4[0]>:587 --tls --auth-user alice@example.com \\
    --auth-password mypassword --quit-after AUTH

$(print_acme)

  # send one: the nodes deliver to the stand's capture sink, never outside
  swaks --server <ipsv4[0]>:587 --tls --auth-user alice@example.com \\
    --auth-password mypassword --from alice@example.com --to someone@example.net
  bash tests/stand/stand.sh mail      # the last messages and their DKIM result

ACME: pebble https://127.0.0.1:$ACME_PORT/dir, the stand's DNS $(dns_addr):53.
Trust anchor of the nodes' certificates (pebble's root): $ACME_ROOT
Metrics: the host's at $METRICS_URL, each node's at http://<ipsv4[0]>:9465/metrics.
A scripted run of all of this: bash tests/stand/quickstart
EOF
}

# ---- commands --------------------------------------------------------------

cmd_up() { # [infra] [iam]
  local pg
  [ "$(id -u)" = 0 ] || die "run as root (PostgreSQL runs as postgres, exim binds port 25)"
  resolve_data_dir
  make_dirs
  if live_pid "$HOST_PID" "$HOST_CONF" >/dev/null && [ -n "${1:-}" ] && [ -f "$INFRA_FILE" ] \
    && [ "$1" != "$(head -n 1 "$INFRA_FILE")" ]; then
    die "the stand runs with --infra $(head -n 1 "$INFRA_FILE"): stop it first"
  fi
  if live_pid "$HOST_PID" "$HOST_CONF" >/dev/null && [ -n "${2:-}" ] && [ -f "$IAM_FILE" ] \
    && [ "$2" != "$(head -n 1 "$IAM_FILE")" ]; then
    die "the stand runs with --iam $(head -n 1 "$IAM_FILE"): stop it first"
  fi
  choose_infra "${1:-}"
  choose_iam "${2:-}"
  build
  if ! live_pid "$HOST_PID" "$HOST_CONF" >/dev/null; then
    # nodes of a host that died hold their addresses: they go first
    pg=$(live_pid "$PG_PID" "$PGDIR/data" || echo 0)
    kill_leftovers "$pg" || say "(they were left by a host that had died)"
  fi
  choose_ports_unless_running
  write_tokens
  pg_start
  if [ "$INFRA" = core ] || [ "$IAM" = core ]; then core_start; fi
  mint_tokens
  sink_start
  acme_start
  write_host_conf
  host_start
  [ "$INFRA" != core ] || nodes_start
  seed_version
  write_env
  print_next
}

# A running stand keeps its ports (they are busy because it holds them).
choose_ports_unless_running() {
  if live_pid "$HOST_PID" "$HOST_CONF" >/dev/null && [ -f "$PORTS_FILE" ]; then
    # shellcheck source=/dev/null
    . "$PORTS_FILE"
    say "already running: keeping ports api $API_PORT, orch $ORCH_PORT, status $STATUS_PORT"
    if [ -z "${ACME_PORT:-}" ]; then
      choose_acme_ports
      printf 'ACME_PORT=%s\nACME_MGMT_PORT=%s\nACME_HTTP_PORT=%s\nDNS_MGMT_PORT=%s\n' \
        "$ACME_PORT" "$ACME_MGMT_PORT" "$ACME_HTTP_PORT" "$DNS_MGMT_PORT" >>"$PORTS_FILE"
    fi
    return 0
  fi
  choose_ports
}

# Kills the processes of the stand still running (but pid $1); 1 when some
# were there.
kill_leftovers() {
  local keep=${1:-0} left
  left=$(stand_pids | grep -vx -- "$keep" || true)
  [ -n "$left" ] || return 0
  say "processes of the stand left behind, killing them:"
  ps -o pid=,args= -p "$(printf '%s' "$left" | tr '\n' ',')" 2>/dev/null | cut -c1-160 \
    | sed 's/^/stand:   /' || true
  # shellcheck disable=SC2086 # one pid per word
  kill -TERM $left 2>/dev/null || true
  for _ in $(seq 1 30); do
    [ -n "$(stand_pids | grep -vx -- "$keep" || true)" ] || return 1
    sleep 0.1
  done
  left=$(stand_pids | grep -vx -- "$keep" || true)
  # shellcheck disable=SC2086
  [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
  return 1
}

cmd_stop() {
  local had_host=0 status=0
  resolve_data_dir
  ! live_pid "$HOST_PID" "$HOST_CONF" >/dev/null || had_host=1
  host_stop
  # under --infra core the nodes are fake-core-nodes' children, not the host's
  daemon_stop "$NODES_PID" "$NODES_CONF"
  daemon_stop "$CORE_PID" "$CORE_PASSWORD"
  daemon_stop "$SINK_PID" "$MAIL_DIR"
  # shellcheck source=/dev/null
  [ ! -f "$PORTS_FILE" ] || . "$PORTS_FILE"
  acme_stop || status=1
  pg_stop
  if ! kill_leftovers; then
    sleep 0.5
    [ -z "$(stand_pids)" ] || { say "error: still running after SIGKILL: $(stand_pids | tr '\n' ' ')"; return 1; }
    if [ "$had_host" = 1 ]; then
      say "error: the host's stop left processes behind (killed now); see $LOGS/host.log"
      return 1
    fi
    say "(they were left by a host that had died)"
  fi
  [ "$status" = 0 ] || return 1
  say "stopped: no process of the stand is left"
}

cmd_clean() {
  local status=0
  cmd_stop || status=1
  resolve_data_dir
  [ "$DATA" = "$STAND" ] || rm -rf "$DATA"
  rm -rf "$STAND"
  say "removed $STAND"
  return "$status"
}

# Header $2 of message file $1 (its first line).
header() { sed -n "/^\r\?\$/q; s/^$2: *//Ip" "$1" | head -n 1 | tr -d '\r'; }

# DKIM of message $1, against the key of every node of the stand.
dkim_of() {
  local txt out
  while IFS= read -r txt; do
    if out=$(/usr/bin/python3 "$ROOT/tests/dp/dkim-verify.py" "$1" "$txt" 2>/dev/null); then
      printf '%s\n' "$out"
      return 0
    fi
  done < <(find "$NODES" -path '*/etc/exim4/dkim/platform.txt' 2>/dev/null)
  printf 'fail (no node key verifies it)\n'
}

cmd_mail() { # [count]
  local n=${1:-5} f files
  [[ "$n" =~ ^[1-9][0-9]{0,3}$ ]] || die "mail: the count must be a number from 1 to 9999"
  resolve_data_dir
  [ -d "$MAIL_DIR" ] || { say "no mail yet (the sink keeps it in $MAIL_DIR)"; return 0; }
  files=$(find "$MAIL_DIR" -maxdepth 1 -name 'msg-*.eml' -printf '%T@ %p\n' | sort -n \
    | tail -n "$n" | cut -d' ' -f2-)
  [ -n "$files" ] || { say "no mail yet (the sink keeps it in $MAIL_DIR)"; return 0; }
  while IFS= read -r f; do
    say "$(basename "$f")  $(date -u -r "$f" '+%F %T')  $(stat -c %s "$f") bytes"
    say "  From: $(header "$f" From)"
    say "  To: $(header "$f" To)"
    say "  Subject: $(header "$f" Subject)"
    say "  DKIM: $(dkim_of "$f")"
  done <<<"$files"
}

cmd_status() {
  local pid n
  resolve_data_dir
  [ -d "$STAND" ] || { say "not set up (no $STAND)"; return 1; }
  if [ -f "$PORTS_FILE" ]; then
    # shellcheck source=/dev/null
    . "$PORTS_FILE"
  fi
  if pid=$(live_pid "$PG_PID" "$PGDIR/data"); then say "postgres: running (pid $pid)"; else say "postgres: stopped"; fi
  if pid=$(live_pid "$HOST_PID" "$HOST_CONF"); then say "host:     running (pid $pid)"; else say "host:     stopped"; fi
  if pid=$(live_pid "$SINK_PID" "$MAIL_DIR"); then say "mail sink: running (pid $pid, 127.0.0.1:${SINK_PORT:-?}; stand.sh mail)"; else say "mail sink: stopped"; fi
  if pid=$(live_pid "$PEBBLE_PID" "$PEBBLE_CONF"); then say "pebble:   running (pid $pid, https://127.0.0.1:${ACME_PORT:-?}/dir; root $ACME_ROOT)"; else say "pebble:   stopped"; fi
  if [ -n "${SUBNET:-}" ] && pid=$(live_pid "$DNS_PID" "$(dns_addr):53"); then say "DNS:      running (pid $pid, $(dns_addr):53; stand.sh dns UUID publishes)"; else say "DNS:      stopped"; fi
  if { [ -f "$INFRA_FILE" ] && [ "$(head -n 1 "$INFRA_FILE")" = core ]; } \
    || { [ -f "$IAM_FILE" ] && [ "$(head -n 1 "$IAM_FILE")" = core ]; }; then
    if pid=$(live_pid "$CORE_PID" "$CORE_PASSWORD"); then say "fake Core: running (pid $pid, http://127.0.0.1:${CORE_PORT:-?}/api/core)"; else say "fake Core: stopped"; fi
    if pid=$(live_pid "$NODES_PID" "$NODES_CONF"); then say "its nodes: running (pid $pid)"; else say "its nodes: stopped"; fi
  fi
  n=$(stand_pids | wc -l)
  say "processes of the stand: $n (log: $LOGS/host.log; nodes: $NODES)"
  if [ -n "${API_PORT:-}" ] && api_up && [ -f "$ENV_FILE" ]; then
    # shellcheck source=/dev/null
    . "$ENV_FILE"
    say "API $MAILAAS_API answers; orch $MAILAAS_ORCH_API, status $MAILAAS_STATUS_API"
    say "host metrics: ${MAILAAS_METRICS_URL:-off}"
    curl -s --max-time 10 -H "Authorization: Bearer $MAILAAS_TOKEN" "$MAILAAS_API/v1/types/mail/instances/" \
      | jq -r '.[] | "stand:   instance \(.name) \(.uuid) \(.status) \(.ipsv4 // [] | join(","))",
               (.ipsv4 // [] | .[] | "stand:     node metrics http://\(.):9465/metrics")' || true
    return 0
  fi
  say "API: not answering"
  return 1
}

main() {
  local cmd=${1:-up} infra='' iam=''
  if [ "$cmd" = up ] && [ $# -gt 1 ]; then
    shift
    while [ $# -gt 0 ]; do
      case "$1" in
        --infra) [ $# -ge 2 ] || die "--infra needs local or core"; infra=$2; shift 2 ;;
        --iam) [ $# -ge 2 ] || die "--iam needs token_file or core"; iam=$2; shift 2 ;;
        *) usage >&2; exit 2 ;;
      esac
    done
    cmd_up "$infra" "$iam"
    return
  fi
  if [ "$cmd" = mail ] && [ $# -le 2 ]; then
    cmd_mail "${2:-5}"
    return
  fi
  if [ "$cmd" = dns ] && [ $# = 2 ]; then
    cmd_dns "$2"
    return
  fi
  if [ "$cmd" = with-dns ]; then
    shift
    resolve_data_dir
    cmd_with_dns "$@"
  fi
  [ $# -le 1 ] || { usage >&2; exit 2; }
  case "$cmd" in
    -h | --help | help) usage ;;
    up) cmd_up ;;
    status) cmd_status ;;
    mail) cmd_mail 5 ;;
    stop) cmd_stop ;;
    clean) cmd_clean ;;
    *) printf 'stand: unknown command %s (try --help)\n' "$cmd" >&2; exit 2 ;;
  esac
}

main "$@"
