#!/bin/sh
# Prepares Debian's pebble for tests/dp/test-dp-acme.c (docs/tls.md §5):
#   pebble-setup.sh DIR ADDR ACME_PORT MGMT_PORT HTTP_PORT
# writes into DIR a throw-away CA (ca.pem) and, signed by it, the HTTPS
# certificate of pebble's directory and management listeners on ADDR
# (cert.pem, key.pem; Debian's pebble ships no test certificate), and
# pebble.json: the directory on ADDR:ACME_PORT, management on
# ADDR:MGMT_PORT, HTTP-01 validation against port HTTP_PORT of whatever
# address the challenge test server answers for the name.  Starts nothing:
# the test starts and stops pebble and pebble-challtestsrv itself.
set -eu
[ "$#" -eq 5 ] || { echo "usage: $0 DIR ADDR ACME_PORT MGMT_PORT HTTP_PORT" >&2; exit 2; }
dir=$1 addr=$2 acme=$3 mgmt=$4 http=$5
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=exm test pebble CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=pebble" -keyout "$dir/key.pem" -out "$dir/cert.csr" 2>/dev/null
printf 'subjectAltName=IP:%s,DNS:localhost\n' "$addr" >"$dir/san.ext"
openssl x509 -req -in "$dir/cert.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
	-CAcreateserial -days 2 -extfile "$dir/san.ext" -out "$dir/cert.pem" 2>/dev/null
cat >"$dir/pebble.json" <<JSON
{
  "pebble": {
    "listenAddress": "$addr:$acme",
    "managementListenAddress": "$addr:$mgmt",
    "certificate": "$dir/cert.pem",
    "privateKey": "$dir/key.pem",
    "httpPort": $http,
    "tlsPort": $http,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
JSON
