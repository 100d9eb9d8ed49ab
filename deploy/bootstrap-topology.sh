#!/usr/bin/env bash
# Registers a load balancer, its origins and the edges with a sluice control plane, idempotently:
# whatever already exists (by name) is left as it is, so it is safe at every boot.
#
#   bootstrap-topology.sh API_URL TOKEN_FILE TOPOLOGY_JSON
#
# TOPOLOGY_JSON: {"load_balancer": <POST /api/v1/load-balancers body>,
#                 "origins": [<POST /api/v1/load-balancers/{id}/origins body>, ...],
#                 "edges": [<POST /api/v1/edges body>, ...]}
# TOKEN_FILE holds an admin token; it is passed to curl in a header file, never on the command line.
# Waits up to BOOTSTRAP_WAIT seconds (default 180) for the control plane to become ready. An https:// API
# is verified against CURL_CA_BUNDLE (the sluice CA: CURL_CA_BUNDLE=/etc/sluice/tls/ca.crt).
set -euo pipefail

die() {
  echo "bootstrap-topology: $*" >&2
  exit 1
}

[ $# -eq 3 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
API="${1%/}"
TOKEN_FILE="$2"
TOPOLOGY="$3"
[ -r "$TOKEN_FILE" ] || die "cannot read token file $TOKEN_FILE"
jq -e '.load_balancer.name and (.origins | type == "array") and ((.edges // []) | type == "array")' "$TOPOLOGY" >/dev/null \
  || die "$TOPOLOGY: expected {\"load_balancer\": {...}, \"origins\": [...], \"edges\": [...]}"

HEADERS="$(mktemp)"
trap 'rm -f "$HEADERS"' EXIT
chmod 0600 "$HEADERS"
printf 'Authorization: Bearer %s\nContent-Type: application/json\n' "$(tr -d '\r\n' < "$TOKEN_FILE")" > "$HEADERS"

# call METHOD PATH [BODY]: prints the response body; fails with the API's problem+json on 4xx/5xx.
call() {
  local out status
  out="$(mktemp)"
  status="$(curl -sS -o "$out" -w '%{http_code}' -X "$1" -H "@$HEADERS" ${3:+--data-binary "$3"} "$API$2")" || { rm -f "$out"; die "$1 $2: control plane unreachable"; }
  if [ "${status:0:1}" != 2 ]; then
    cat "$out" >&2
    rm -f "$out"
    die "$1 $2: HTTP $status"
  fi
  cat "$out"
  rm -f "$out"
}

# id_by_name PATH NAME: the id of the item called NAME in the (paged) list at PATH, or nothing.
id_by_name() {
  local cursor="" page
  while :; do
    page="$(call GET "$1?limit=500${cursor:+&cursor=$cursor}")"
    jq -r --arg n "$2" '.items[] | select(.name == $n) | .id' <<< "$page"
    cursor="$(jq -r '.next_cursor // empty' <<< "$page")"
    [ -n "$cursor" ] || break
  done
}

deadline=$((SECONDS + ${BOOTSTRAP_WAIT:-180}))
until curl -fsS -o /dev/null "$API/readyz"; do
  [ $SECONDS -lt $deadline ] || die "$API/readyz not ready after ${BOOTSTRAP_WAIT:-180}s"
  sleep 2
done

lb_name="$(jq -r '.load_balancer.name' "$TOPOLOGY")"
lb_id="$(id_by_name /api/v1/load-balancers "$lb_name")"
if [ -z "$lb_id" ]; then
  lb_id="$(call POST /api/v1/load-balancers "$(jq -c '.load_balancer' "$TOPOLOGY")" | jq -r '.id')"
  echo "created load balancer $lb_name ($lb_id)"
else
  echo "load balancer $lb_name exists ($lb_id)"
fi

while IFS= read -r origin; do
  name="$(jq -r '.name' <<< "$origin")"
  if [ -z "$(id_by_name "/api/v1/load-balancers/$lb_id/origins" "$name")" ]; then
    call POST "/api/v1/load-balancers/$lb_id/origins" "$origin" >/dev/null
    echo "created origin $name"
  else
    echo "origin $name exists"
  fi
done < <(jq -c '.origins[]' "$TOPOLOGY")

while IFS= read -r edge; do
  name="$(jq -r '.name' <<< "$edge")"
  id="$(id_by_name /api/v1/edges "$name")"
  if [ -z "$id" ]; then
    id="$(call POST /api/v1/edges "$edge" | jq -r '.id')"
    echo "created edge $name ($id)"
  else
    echo "edge $name exists ($id)"
  fi
done < <(jq -c '(.edges // [])[]' "$TOPOLOGY")
