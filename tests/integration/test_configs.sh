#!/usr/bin/env bash
# The shipped example configurations validate, and a configuration error is
# reported with file, line, section and key, with exit status 78.
set -euo pipefail
SRC=${SUIDO_SOURCE_DIR:?}; BIN=${SUIDO_BINARY_DIR:?}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
pass=0
check() { # name expected-status expected-text command...
  local name=$1 want=$2 text=$3; shift 3
  local out st=0
  out=$("$@" 2>&1) || st=$?
  if [ "$st" != "$want" ] || ! grep -qF -- "$text" <<<"$out"; then
    echo "FAIL $name: status $st (want $want), output: $out"; exit 1
  fi
  pass=$((pass+1))
}
check platform-example 0 "OK (1 utilities, 1 gateways)" "$BIN/suido-platform" -c "$SRC/etc/platform.conf" --check-config
check gateway-example 0 "OK (3 layouts)" "$BIN/suido-gateway" -c "$SRC/etc/gateway.conf" --check-config

sed 's/^port = 8080/port = 80800/' "$SRC/etc/platform.conf" > "$t/p1.conf"
check platform-range 78 "p1.conf:16: [http] port: 80800 is out of range 0..65535" "$BIN/suido-platform" -c "$t/p1.conf" --check-config
sed 's/^threads = 4/thraeds = 4/' "$SRC/etc/platform.conf" > "$t/p2.conf"
check platform-typo 78 "p2.conf:17: [http] thraeds: unknown key" "$BIN/suido-platform" -c "$t/p2.conf" --check-config
sed 's/^utility = demo/utility = nowhere/' "$SRC/etc/platform.conf" > "$t/p3.conf"
check platform-dangling 78 "[gateway demo-gw1] utility: no [utility nowhere] section" "$BIN/suido-platform" -c "$t/p3.conf" --check-config
sed 's/^batch_points = 1000/batch_points = lots/' "$SRC/etc/gateway.conf" > "$t/g1.conf"
sed -i "s|^mapping = .*|mapping = $SRC/etc/mapping-demo.conf|" "$t/g1.conf"
check gateway-int 78 "g1.conf:25: [send] batch_points: not an integer: \"lots\"" "$BIN/suido-gateway" -c "$t/g1.conf" --check-config
sed "s|^mapping = .*|mapping = $t/m.conf|" "$SRC/etc/gateway.conf" > "$t/g2.conf"
printf '[layout x]\nkind = diagonal\n' > "$t/m.conf"
check gateway-mapping 78 "m.conf:2: [layout x] kind" "$BIN/suido-gateway" -c "$t/g2.conf" --check-config
check gateway-missing 78 "cannot open" "$BIN/suido-gateway" -c "$t/nope.conf" --check-config
echo "$pass passed, 0 failed"
