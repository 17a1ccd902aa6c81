#!/usr/bin/env bash
# suido seal/open/sign/verify/encrypt/decrypt and mask/unmask: round trips in
# the three formats, and each documented exit status: 65 bad input,
# 66 signature invalid, 67 decryption failed, 69 certificate untrusted or
# revoked. Keys and certificates come from `suido ca`, never from files in
# the repository.
set -uo pipefail
S=${SUIDO_BINARY_DIR:?}/suido
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
cd "$t"
pass=0 fail=0
expect() { # expected-status description command...
  local want=$1 what=$2; shift 2
  "$@" >out 2>err; local st=$?
  if [ "$st" = "$want" ]; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL $what: status $st, want $want: $(head -c 300 err)"; fi
}
$S ca init --dir ca --cn "test root" >/dev/null || exit 1
$S ca issue --dir ca --profile gateway --use data-protection --cn gw1 --out gw >/dev/null || exit 1
$S ca issue --dir ca --profile platform --use data-protection --cn platform --out plat >/dev/null || exit 1
$S ca issue --dir ca --profile gateway --use data-protection --cn gw2 --out gw2 >/dev/null || exit 1
$S ca init --dir other --cn "other root" >/dev/null || exit 1
$S ca issue --dir other --profile gateway --use data-protection --cn gw1 --out fake >/dev/null || exit 1

printf '{"profile":"suido.data/1","points":[[0,"2026-11-19T15:00:00Z",4.5]]}' > in.json
printf '<Msg><Head>h</Head><Body><v>1</v></Body></Msg>' > in.xml
head -c 5000 /dev/urandom > in.bin
for fmt in json xml file; do
  case $fmt in json) in=in.json;; xml) in=in.xml;; file) in=in.bin;; esac
  sel=(); [ $fmt = xml ] && sel=(--select //Body)
  expect 0 "$fmt seal" $S seal --format $fmt --key gw.key --to plat.crt "${sel[@]}" --in $in --out sealed.$fmt
  expect 0 "$fmt open" $S open --format $fmt --key plat.key --from gw.crt --ca ca/ca.crt "${sel[@]}" --in sealed.$fmt --out opened.$fmt
  if [ $fmt = xml ]; then grep -q '<v>1</v>' opened.$fmt || { echo "FAIL xml content"; fail=$((fail+1)); }
  else cmp -s $in opened.$fmt || { echo "FAIL $fmt content"; fail=$((fail+1)); }; fi
  expect 66 "$fmt open, other sender's certificate" $S open --format $fmt --key plat.key --from gw2.crt "${sel[@]}" --in sealed.$fmt
  expect 67 "$fmt open, wrong private key" $S open --format $fmt --key gw.key --from gw.crt "${sel[@]}" --in sealed.$fmt
  expect 69 "$fmt open, sender from another CA" $S open --format $fmt --key plat.key --from fake.crt --ca ca/ca.crt "${sel[@]}" --in sealed.$fmt
  printf 'garbage' > garbage
  expect 65 "$fmt open, garbage" $S open --format $fmt --key plat.key --from gw.crt "${sel[@]}" --in garbage
  expect 0 "$fmt sign" $S sign --format $fmt --key gw.key "${sel[@]}" --in $in --out signed.$fmt
  expect 0 "$fmt verify" $S verify --format $fmt --from gw.crt "${sel[@]}" --in signed.$fmt
  expect 66 "$fmt verify, wrong signer" $S verify --format $fmt --from gw2.crt "${sel[@]}" --in signed.$fmt
  expect 0 "$fmt encrypt" $S encrypt --format $fmt --to plat.crt "${sel[@]}" --in $in --out enc.$fmt
  expect 0 "$fmt decrypt" $S decrypt --format $fmt --key plat.key --in enc.$fmt
  expect 67 "$fmt decrypt, wrong key" $S decrypt --format $fmt --key gw.key --in enc.$fmt
done
# a revoked sender certificate is refused once the CRL says so
serial=$(openssl x509 -in gw.crt -noout -serial | cut -d= -f2)
$S ca revoke --dir ca --serial "$serial" --reason keyCompromise >/dev/null || exit 1
$S ca crl --dir ca --out crl.pem >/dev/null || exit 1
expect 69 "open, revoked sender" $S open --format json --key plat.key --from gw.crt --ca ca/ca.crt --crl crl.pem --in sealed.json
grep -q -i revoked err || { echo "FAIL revoked reason: $(cat err)"; fail=$((fail+1)); }
expect 64 "usage" $S seal --format yaml --key gw.key --to plat.crt --in in.json

# masking
expect 0 "mask-key" $S mask-key new --out util.key
$S mask-key new --out util.key >/dev/null 2>&1 && { echo "FAIL key overwritten"; fail=$((fail+1)); }
a=$($S mask --key util.key 100200300); b=$($S mask --key util.key 100200300)
[ -n "$a" ] && [ "$a" = "$b" ] || { echo "FAIL deterministic tokens differ"; fail=$((fail+1)); }
r1=$($S mask --key util.key --randomized 山田); r2=$($S mask --key util.key --randomized 山田)
[ "$r1" != "$r2" ] || { echo "FAIL randomized tokens equal"; fail=$((fail+1)); }
[ "$(printf '%s\n%s\n' "$a" "$r1" | $S unmask --key util.key | tr '\n' ' ')" = "100200300 山田 " ] || { echo "FAIL unmask"; fail=$((fail+1)); }
$S mask-key new --out other.key >/dev/null
expect 67 "unmask, another utility's key" $S unmask --key other.key "$a"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
