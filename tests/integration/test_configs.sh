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
# The examples name keys under ../var (where `make run` has the CA issue
# them): copy them beside such a tree, made here with `suido ca`.
mkdir -p "$t/ex/etc" "$t/ex/var/pki"
cp "$SRC/etc/platform.conf" "$SRC/etc/gateway.conf" "$SRC/etc/mapping-demo.conf" "$t/ex/etc/"
"$BIN/suido" ca init --dir "$t/ex/var/ca" --cn "test root" >/dev/null
"$BIN/suido" ca issue --dir "$t/ex/var/ca" --profile platform --use data-protection --cn platform --out "$t/ex/var/pki/platform-dp" >/dev/null
"$BIN/suido" ca issue --dir "$t/ex/var/ca" --profile gateway --use data-protection --cn demo-gw1 --out "$t/ex/var/pki/demo-gw1" >/dev/null
"$BIN/suido" ca issue --dir "$t/ex/var/ca" --profile platform --use tls-server --cn localhost --out "$t/ex/var/pki/tls" >/dev/null
"$BIN/suido" ca issue --dir "$t/ex/var/ca" --profile platform --use tls-client --cn suido-platform --out "$t/ex/var/pki/platform-tls" >/dev/null
"$BIN/suido" ca issue --dir "$t/ex/var/ca" --profile gateway --use tls-client --cn demo-gw1 --out "$t/ex/var/pki/demo-gw1-tls" >/dev/null
"$BIN/suido" ca crl --dir "$t/ex/var/ca" --out "$t/ex/var/pki/crl.pem" >/dev/null
"$BIN/suido" mask-key new --out "$t/ex/var/pki/demo-mask.key" >/dev/null
check platform-example 0 "OK (1 utilities, 1 gateways)" "$BIN/suido-platform" -c "$t/ex/etc/platform.conf" --check-config
check gateway-example 0 "OK (3 layouts)" "$BIN/suido-gateway" -c "$t/ex/etc/gateway.conf" --check-config
# the keys are checked too: a missing file, a TLS-only certificate where a
# data-protection one is needed, a json gateway without a certificate
sed 's|^key = .*|key = ../var/pki/nope.key|' "$t/ex/etc/platform.conf" > "$t/ex/etc/p4.conf"
check platform-nokey 78 "[security] key" "$BIN/suido-platform" -c "$t/ex/etc/p4.conf" --check-config
sed 's|^certificate = .*|# none|' "$t/ex/etc/platform.conf" > "$t/ex/etc/p5.conf"
check platform-nocert 78 "[gateway demo-gw1]: certificate: required key missing" "$BIN/suido-platform" -c "$t/ex/etc/p5.conf" --check-config
sed 's|^format = json|format = sealed|' "$t/ex/etc/platform.conf" > "$t/ex/etc/p6.conf"
check platform-format 78 "format: expected json, xml or plain" "$BIN/suido-platform" -c "$t/ex/etc/p6.conf" --check-config
sed 's|^platform_certificate = .*|platform_certificate = ../var/pki/tls.crt|' "$t/ex/etc/gateway.conf" > "$t/ex/etc/g3.conf"
check gateway-wrong-use 78 "not a data-protection certificate" "$BIN/suido-gateway" -c "$t/ex/etc/g3.conf" --check-config
sed 's|^key = .*|key = ../var/pki/nope.key|' "$t/ex/etc/gateway.conf" > "$t/ex/etc/g4.conf"
check gateway-nokey 78 "[security] key" "$BIN/suido-gateway" -c "$t/ex/etc/g4.conf" --check-config
# the demo mapping masks columns: no mask key, no start; a damaged key neither
sed 's|^mask_key = .*|# none|' "$t/ex/etc/gateway.conf" > "$t/ex/etc/g5.conf"
check gateway-nomaskkey 78 "masks columns, but [security] mask_key is not set" "$BIN/suido-gateway" -c "$t/ex/etc/g5.conf" --check-config
sed 's|^mask_key = .*|mask_key = ../var/pki/crl.pem|' "$t/ex/etc/gateway.conf" > "$t/ex/etc/g6.conf"
check gateway-badmaskkey 78 "[security] mask_key: " "$BIN/suido-gateway" -c "$t/ex/etc/g6.conf" --check-config
# [mqtt] TLS: the commented keys of the examples validate once uncommented;
# all three or none; each file is loaded and checked at start
sed -E 's/^#(cafile|certfile|keyfile) = /\1 = /' "$t/ex/etc/platform.conf" > "$t/ex/etc/pt1.conf"
check platform-tls 0 "OK (1 utilities, 1 gateways)" "$BIN/suido-platform" -c "$t/ex/etc/pt1.conf" --check-config
sed -E 's/^#(cafile|certfile|keyfile) = /\1 = /' "$t/ex/etc/gateway.conf" > "$t/ex/etc/gt1.conf"
check gateway-tls 0 "OK (3 layouts)" "$BIN/suido-gateway" -c "$t/ex/etc/gt1.conf" --check-config
sed 's|^keyfile = .*|# none|' "$t/ex/etc/pt1.conf" > "$t/ex/etc/pt2.conf"
check platform-tls-partial 78 "[mqtt]: keyfile: required key missing (cafile, certfile and keyfile go together)" "$BIN/suido-platform" -c "$t/ex/etc/pt2.conf" --check-config
sed 's|^certfile = .*|certfile = ../var/pki/nope.crt|' "$t/ex/etc/pt1.conf" > "$t/ex/etc/pt3.conf"
check platform-tls-nofile 78 "[mqtt] certfile: " "$BIN/suido-platform" -c "$t/ex/etc/pt3.conf" --check-config
sed 's|^keyfile = .*|keyfile = ../var/pki/demo-gw1.key|' "$t/ex/etc/gt1.conf" > "$t/ex/etc/gt2.conf"
check gateway-tls-keymismatch 78 "[mqtt] keyfile: " "$BIN/suido-gateway" -c "$t/ex/etc/gt2.conf" --check-config
sed -e 's|^certfile = .*|certfile = ../var/pki/tls.crt|' -e 's|^keyfile = .*|keyfile = ../var/pki/tls.key|' "$t/ex/etc/gt1.conf" > "$t/ex/etc/gt3.conf"
check gateway-tls-wrong-use 78 "refused as a TLS client certificate" "$BIN/suido-gateway" -c "$t/ex/etc/gt3.conf" --check-config

sed 's/^port = 8080/port = 80800/' "$SRC/etc/platform.conf" > "$t/p1.conf"
check platform-range 78 "p1.conf:16: [http] port: 80800 is out of range 0..65535" "$BIN/suido-platform" -c "$t/p1.conf" --check-config
sed 's/^threads = 4/thraeds = 4/' "$SRC/etc/platform.conf" > "$t/p2.conf"
check platform-typo 78 "p2.conf:17: [http] thraeds: unknown key" "$BIN/suido-platform" -c "$t/p2.conf" --check-config
sed 's/^utility = demo/utility = nowhere/' "$SRC/etc/platform.conf" > "$t/p3.conf"
check platform-dangling 78 "[gateway demo-gw1] utility: no [utility nowhere] section" "$BIN/suido-platform" -c "$t/p3.conf" --check-config
sed 's/^batch_points = 1000/batch_points = lots/' "$SRC/etc/gateway.conf" > "$t/g1.conf"
sed -i "s|^mapping = .*|mapping = $SRC/etc/mapping-demo.conf|" "$t/g1.conf"
check gateway-int 78 "g1.conf:30: [send] batch_points: not an integer: \"lots\"" "$BIN/suido-gateway" -c "$t/g1.conf" --check-config
sed "s|^mapping = .*|mapping = $t/m.conf|" "$SRC/etc/gateway.conf" > "$t/g2.conf"
printf '[layout x]\nkind = diagonal\n' > "$t/m.conf"
check gateway-mapping 78 "m.conf:2: [layout x] kind" "$BIN/suido-gateway" -c "$t/g2.conf" --check-config
check gateway-missing 78 "cannot open" "$BIN/suido-gateway" -c "$t/nope.conf" --check-config
echo "$pass passed, 0 failed"
