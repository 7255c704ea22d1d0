#!/usr/bin/env bash
# Usage: make-certs.sh [DIR]
# Makes the certificate fixtures (openssl) in DIR, by default this directory,
# where they are committed for tests/unit/test-mail-cert.c and the fuzz seeds:
# a root CA, an intermediate, leaves for mail.example.com with RSA 2048, EC
# P-384, RSA 1024 and Ed25519 keys, a leaf for another name, a leaf with a CN
# and no SAN, and an unrelated key.  Valid ten years from the day they are
# made; test-mail-cert passes its own "now".  The tests that check them
# against the real clock through the API (tests/pg/test-plugin-certificate.c,
# tests/e2e/test-e2e-tls.c) make a fresh set per run (exm_test_make_certs()).
set -euo pipefail
cd "${1:-$(dirname "$0")}"
days=3650
ext() { printf 'basicConstraints=critical,CA:%s\nsubjectAltName=%s\n' "$1" "$2"; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days "$days" \
  -subj "/CN=Test Root" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout inter.key \
  -out inter.csr -subj "/CN=Test Intermediate" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\n' > inter.ext
openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -days "$days" \
  -extfile inter.ext -out inter.pem 2>/dev/null

leaf() { # name key-options san [cn]
  local name=$1 keyopt=$2 san=$3 cn=${4:-mail.example.com}
  # shellcheck disable=SC2086 # the key options are words
  openssl req -new $keyopt -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn" 2>/dev/null
  if [ -n "$san" ]; then ext FALSE "$san" > "$name.ext"; else printf 'basicConstraints=CA:FALSE\n' > "$name.ext"; fi
  openssl x509 -req -in "$name.csr" -CA inter.pem -CAkey inter.key -CAcreateserial -days "$days" \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
}
leaf rsa "-newkey rsa:2048" "DNS:mail.example.com"
leaf ec384 "-newkey ec -pkeyopt ec_paramgen_curve:P-384" "DNS:*.example.com"
leaf rsa1024 "-newkey rsa:1024" "DNS:mail.example.com"
leaf ed25519 "-newkey ed25519" "DNS:mail.example.com"
leaf other "-newkey rsa:2048" "DNS:mail.example.net"
leaf nosan "-newkey rsa:2048" ""
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out stranger.key 2>/dev/null
# self-signed leaves for mail.example.com outside their validity for every
# real "now" (tests/pg/test-plugin-certificate.c goes through the API, whose
# clock is the real one): expired in 2001, valid only from 2099
dated() { # name start end
  local name=$1 dir
  dir=$(mktemp -d)
  touch "$dir/index"
  printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s/index\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n' \
    "$dir" "$dir" "$dir" > "$dir/ca.cnf"
  echo 01 > "$dir/serial"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -out "$dir/req.csr" \
    -subj "/CN=mail.example.com" -addext subjectAltName=DNS:mail.example.com 2>/dev/null
  openssl ca -batch -selfsign -config "$dir/ca.cnf" -keyfile "$name.key" -in "$dir/req.csr" \
    -startdate "$2" -enddate "$3" -notext -out "$name.pem" 2>/dev/null
  rm -rf "$dir"
}
dated expired 20000101000000Z 20010101000000Z
dated future 20990101000000Z 21000101000000Z
rm -f ./*.csr ./*.ext ./*.srl inter.key root.key
