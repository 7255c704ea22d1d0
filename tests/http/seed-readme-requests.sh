#!/bin/bash
# The seed README's Quick Start requests "Create Instance" and "Create SMTP
# Account" (exordos_mail 0.0.2 PKG-INFO), kept VERBATIM in the heredocs below and
# run against a host.  Only the README's placeholders are substituted:
#   http://metapaas-cp:8080 -> $BASE, <token> -> $TOKEN,
#   <version-uuid> -> $VERSION_UUID, <uuid> -> the created instance's uuid.
# The responses go to $OUT/instance.json and $OUT/account.json.
set -euo pipefail
: "${BASE:?}" "${TOKEN:?}" "${VERSION_UUID:?}" "${OUT:?}"

create_instance=$(cat <<'README'
curl -X POST http://metapaas-cp:8080/v1/types/mail/instances/ \
  -H 'Content-Type: application/json' \
  -H 'Authorization: Bearer <token>' \
  -d '{
    "name": "mail-prod",
    "project_id": "4d657461-0000-0000-0000-000000000002",
    "domain": "example.com",
    "cpu": 2,
    "ram": 2048,
    "disk_size": 20,
    "version": "/v1/types/mail/versions/<version-uuid>"
  }'
README
)

create_account=$(cat <<'README'
# Generate SHA512-crypt hash (compatible with exim4 crypteq)
HASH=$(openssl passwd -6 "mypassword")

curl -X POST http://metapaas-cp:8080/v1/types/mail/instances/<uuid>/accounts/ \
  -H 'Content-Type: application/json' \
  -H 'Authorization: Bearer <token>' \
  -d "{
    \"username\": \"alice\",
    \"password_hash\": \"${HASH}\",
    \"project_id\": \"4d657461-0000-0000-0000-000000000002\",
    \"instance\": \"/v1/types/mail/instances/<uuid>\"
  }"
README
)

substitute() {
  local text=$1
  text=${text//http:\/\/metapaas-cp:8080/$BASE}
  text=${text//<token>/$TOKEN}
  text=${text//<version-uuid>/$VERSION_UUID}
  if [ -n "${INSTANCE_UUID:-}" ]; then
    text=${text//<uuid>/$INSTANCE_UUID}
  fi
  printf '%s' "$text"
}

cmd=$(substitute "$create_instance")
eval "$cmd" > "$OUT/instance.json"

INSTANCE_UUID=$(jq -r .uuid "$OUT/instance.json")
case "$INSTANCE_UUID" in
  ????????-????-????-????-????????????) ;;
  *) echo "no instance uuid in: $(cat "$OUT/instance.json")" >&2; exit 1 ;;
esac

cmd=$(substitute "$create_account")
eval "$cmd" > "$OUT/account.json"
