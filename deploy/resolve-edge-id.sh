#!/usr/bin/env bash
# The control plane gives every edge an id when it is registered (POST /api/v1/edges); edge-sync
# polls /api/v1/edges/{id}/config. This finds this edge's id by its name (with a read token) and
# writes it into edge-sync's config, so an edge can boot before or after it is registered.
#
#   resolve-edge-id.sh API_URL TOKEN_FILE EDGE_NAME EDGE_SYNC_CONFIG
#
# Waits up to RESOLVE_WAIT seconds (default 600) for the edge to be registered. Only the
# `edge_id:` line of the config is replaced (atomically); nothing else is touched. An https:// API is
# verified against CURL_CA_BUNDLE (the sluice CA: CURL_CA_BUNDLE=/etc/sluice/tls/ca.crt).
set -euo pipefail

die() {
  echo "resolve-edge-id: $*" >&2
  exit 1
}

[ $# -eq 4 ] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
API="${1%/}"
TOKEN_FILE="$2"
EDGE_NAME="$3"
CONFIG="$4"
[ -r "$TOKEN_FILE" ] || die "cannot read token file $TOKEN_FILE"
grep -Eq '^[[:space:]]+edge_id:' "$CONFIG" || die "$CONFIG has no api.edge_id line"

HEADERS="$(mktemp)"
trap 'rm -f "$HEADERS"' EXIT
chmod 0600 "$HEADERS"
printf 'Authorization: Bearer %s\n' "$(tr -d '\r\n' < "$TOKEN_FILE")" > "$HEADERS"

find_id() {
  local cursor="" page
  while :; do
    page="$(curl -fsS -H "@$HEADERS" "$API/api/v1/edges?limit=500${cursor:+&cursor=$cursor}")" || return 0
    jq -r --arg n "$EDGE_NAME" '.items[] | select(.name == $n) | .id' <<< "$page"
    cursor="$(jq -r '.next_cursor // empty' <<< "$page")"
    [ -n "$cursor" ] || break
  done
}

deadline=$((SECONDS + ${RESOLVE_WAIT:-600}))
id=""
while [ -z "$id" ]; do
  id="$(find_id | head -n 1)"
  [ -n "$id" ] && break
  [ $SECONDS -lt $deadline ] || die "edge \"$EDGE_NAME\" is not registered at $API after ${RESOLVE_WAIT:-600}s"
  sleep 5
done
[[ "$id" =~ ^[A-Za-z0-9_.:-]+$ ]] || die "unexpected edge id \"$id\""

tmp="$(mktemp "$(dirname "$CONFIG")/.edge-sync.XXXXXX")"
sed -E "s/^([[:space:]]+edge_id:).*/\\1 $id/" "$CONFIG" > "$tmp"
chmod --reference="$CONFIG" "$tmp"
chown --reference="$CONFIG" "$tmp"
mv -f "$tmp" "$CONFIG"
echo "edge $EDGE_NAME is $id"
