#!/usr/bin/env bash
# Installs the Debian packages suido builds, runs and tests with, when any is
# missing. Idempotent and quiet when everything is there. docs/dependencies.md
# says why each one is used.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libsqlite3-dev sqlite3 libjansson-dev libmosquitto-dev libmicrohttpd-dev
  libssl-dev libcurl4-openssl-dev libcmocka-dev
  mosquitto mosquitto-clients openssl curl jq procps psmisc
  python3 python3-paho-mqtt
  libcjose-dev libxmlsec1-dev xmlsec1 libzip-dev libxml2-dev zip unzip python3-jwcrypto
  vsftpd libpam-pwdfile iproute2
  libsodium-dev liboath-dev oathtool
  chromium
)

ROOT=$(cd "$(dirname "$0")/.." && pwd)

# npm packages of the interoperability tests (an independent JOSE
# implementation), from tests/interop/package-lock.json.
npm_deps() {
  [ -f "$ROOT/tests/interop/package-lock.json" ] || return 0
  [ -d "$ROOT/tests/interop/node_modules/jose" ] && return 0
  command -v npm >/dev/null || { echo "deps: npm is missing" >&2; exit 1; }
  echo "deps: installing npm packages of tests/interop" >&2
  (cd "$ROOT/tests/interop" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then npm_deps; exit 0; fi

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian mosquitto and vsftpd packages start system servers on ports 1883
# and 21; suido starts its own on its own ports, so those are not needed.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
  $SUDO systemctl disable --now vsftpd >/dev/null 2>&1 || true
fi
npm_deps
