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
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian mosquitto package starts a system broker on port 1883; suido
# starts its own on its own ports, so that one is not needed.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
