#!/usr/bin/env bash
# Installs sluice on a Linux host: Node.js (if the host has no Node >= 20), the sluice npm package
# into /opt/sluice, a `sluice` wrapper in /usr/local/bin, one system user per role, and the hardened
# systemd units (with the edge-sync data-plane drop-ins asked for). It does not enable or start
# anything: the caller does (`systemctl enable --now sluice-agent`), after writing /etc/sluice/*.yaml.
#
#   install.sh --package SPEC [--sha256 HEX] [--roles agent,dns,...] [--edge-dataplane haproxy|ipvs]
#              [--node-version 20.18.1] [--prefix /opt/sluice]
#
# Exit codes: 0 installed, 1 the installation failed, 2 bad arguments (nothing touched).
#
# SPEC is anything `npm install` accepts: a tarball made by `npm pack` (local path or https URL), a
# registry spec (sluice@0.1.0) or a git URL. With --sha256 a tarball is verified before install.
# Idempotent: running it again upgrades the package and rewrites the units.
set -euo pipefail

PACKAGE=""
SHA256=""
ROLES="control-plane,agent,dns,edge-sync"
EDGE_DATAPLANES=""
NODE_VERSION="20.18.1"
PREFIX="/opt/sluice"
UNIT_DIR="/etc/systemd/system"

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
}

# die: bad arguments (exit 2, nothing touched); fail: the installation itself failed (exit 1).
die() {
  echo "install.sh: $*" >&2
  exit 2
}

fail() {
  echo "install.sh: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --package) PACKAGE="${2:-}"; shift 2 ;;
    --sha256) SHA256="${2:-}"; shift 2 ;;
    --roles) ROLES="${2:-}"; shift 2 ;;
    --edge-dataplane) EDGE_DATAPLANES="${EDGE_DATAPLANES:+$EDGE_DATAPLANES,}${2:-}"; shift 2 ;;
    --node-version) NODE_VERSION="${2:-}"; shift 2 ;;
    --prefix) PREFIX="${2:-}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option \"$1\" (try --help)" ;;
  esac
done

[ -n "$PACKAGE" ] || die "--package is required (a tarball from \`npm pack\`, a URL, or an npm spec)"
[ -z "$SHA256" ] || [[ "$SHA256" =~ ^[0-9a-f]{64}$ ]] || die "--sha256 must be 64 lower-case hex digits"
[[ "$NODE_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--node-version must look like 20.18.1"
IFS=',' read -r -a ROLE_LIST <<< "$ROLES"
for role in "${ROLE_LIST[@]}"; do
  case "$role" in
    control-plane|agent|dns|edge-sync) ;;
    *) die "unknown role \"$role\" (control-plane, agent, dns, edge-sync)" ;;
  esac
done
IFS=',' read -r -a DATAPLANE_LIST <<< "$EDGE_DATAPLANES"
for dp in "${DATAPLANE_LIST[@]}"; do
  case "$dp" in
    haproxy|ipvs) ;;
    *) die "unknown --edge-dataplane \"$dp\" (haproxy, ipvs)" ;;
  esac
done
if [ ${#DATAPLANE_LIST[@]} -gt 0 ] && [[ ",$ROLES," != *,edge-sync,* ]]; then
  die "--edge-dataplane needs the edge-sync role (--roles ...,edge-sync)"
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (it creates users and installs systemd units)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

node_major() {
  "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

# --- Node.js: reuse a system Node >= 20, else the official build, verified against SHASUMS256.txt.
NODE_BIN=""
if command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge 20 ]; then
  NODE_BIN="$(command -v node)"
elif [ -x "$PREFIX/node/bin/node" ] && [ "$("$PREFIX/node/bin/node" -v)" = "v$NODE_VERSION" ]; then
  NODE_BIN="$PREFIX/node/bin/node"
else
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) fail "no official Node.js build for $(uname -m); install Node >= 20 first" ;;
  esac
  dist="node-v$NODE_VERSION-linux-$arch"
  base="https://nodejs.org/dist/v$NODE_VERSION"
  curl -fsSL --retry 5 -o "$TMP/$dist.tar.xz" "$base/$dist.tar.xz"
  curl -fsSL --retry 5 -o "$TMP/SHASUMS256.txt" "$base/SHASUMS256.txt"
  (cd "$TMP" && grep " $dist.tar.xz\$" SHASUMS256.txt | sha256sum -c --quiet -) || fail "Node.js download does not match SHASUMS256.txt"
  rm -rf "$PREFIX/node"
  mkdir -p "$PREFIX/node"
  tar -xJf "$TMP/$dist.tar.xz" -C "$PREFIX/node" --strip-components=1
  NODE_BIN="$PREFIX/node/bin/node"
fi
NPM_CLI="$(dirname "$NODE_BIN")/npm"
[ -x "$NPM_CLI" ] || NPM_CLI="$(command -v npm || true)"
[ -n "$NPM_CLI" ] || fail "npm not found next to $NODE_BIN"

# --- The package, with its production dependencies only. A URL (a release asset, a blob with a SAS
# query string) is downloaded first so that --sha256 can check it; tarballs are kept under
# $PREFIX/packages so the install can be repeated.
spec="$PACKAGE"
mkdir -p "$PREFIX/app" "$PREFIX/packages"
if [[ "$PACKAGE" =~ ^https?:// ]]; then
  curl -fsSL --retry 5 -o "$TMP/sluice.tgz" "$PACKAGE"
  spec="$TMP/sluice.tgz"
fi
if [ -n "$SHA256" ]; then
  [ -f "$spec" ] || die "--sha256 needs a tarball (a path or an https URL)"
  echo "$SHA256  $spec" | sha256sum -c --quiet - || fail "$PACKAGE does not match --sha256"
fi
if [ -f "$spec" ]; then
  kept="$PREFIX/packages/sluice-$(sha256sum "$spec" | cut -c1-16).tgz"
  cp -f "$spec" "$kept"
  spec="$kept"
fi
# A fresh manifest each time: only this package (and its dependencies) stays installed.
echo '{"name":"sluice-install","private":true}' > "$PREFIX/app/package.json"
rm -f "$PREFIX/app/package-lock.json"
PATH="$(dirname "$NODE_BIN"):$PATH" "$NPM_CLI" install --prefix "$PREFIX/app" --omit=dev --no-audit --no-fund "$spec"
APP="$PREFIX/app/node_modules/sluice"
[ -f "$APP/bin/sluice.js" ] || fail "$PACKAGE did not install a sluice package (no bin/sluice.js)"

# --- The wrapper: absolute paths, so units and operators get the same Node and the same package.
cat > /usr/local/bin/sluice.new <<EOF
#!/bin/sh
exec "$NODE_BIN" "$APP/bin/sluice.js" "\$@"
EOF
chmod 0755 /usr/local/bin/sluice.new
mv -f /usr/local/bin/sluice.new /usr/local/bin/sluice

# --- Users (one per role, no login, no home) and directories.
user_of() {
  case "$1" in
    control-plane) echo sluice-cp ;;
    agent) echo sluice-agent ;;
    dns) echo sluice-dns ;;
    edge-sync) echo sluice-edge ;;
  esac
}
install -d -m 0755 /etc/sluice
for role in "${ROLE_LIST[@]}"; do
  user="$(user_of "$role")"
  if ! getent passwd "$user" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
  fi
done

# --- Units (from the installed package, so units and code always match).
for role in "${ROLE_LIST[@]}"; do
  install -m 0644 "$APP/deploy/systemd/sluice-$role.service" "$UNIT_DIR/sluice-$role.service"
done
if [ ${#DATAPLANE_LIST[@]} -gt 0 ]; then
  install -d -m 0755 "$UNIT_DIR/sluice-edge-sync.service.d"
  for dp in "${DATAPLANE_LIST[@]}"; do
    install -m 0644 "$APP/deploy/systemd/sluice-edge-sync.service.d/$dp.conf" "$UNIT_DIR/sluice-edge-sync.service.d/$dp.conf"
    if [ "$dp" = ipvs ]; then
      install -d -m 0750 -o root -g sluice-edge /etc/sluice/ipvs
      chmod g+w /etc/sluice/ipvs
      echo ip_vs > /etc/modules-load.d/sluice-ipvs.conf
      modprobe ip_vs || echo "install.sh: warning: modprobe ip_vs failed; IPVS applies will fail until it loads" >&2
    fi
  done
fi
if command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
fi
echo "sluice $("$NODE_BIN" -p "require('$APP/package.json').version") installed in $PREFIX (node $("$NODE_BIN" -v)); units: ${ROLES}"
