#!/usr/bin/env bash
# Sealed files (lib/fileseal.c) against the zip, unzip and openssl command-line
# tools, both ways: what suido seals, unzip + openssl pkeyutl/enc/dgst take
# apart; what zip + openssl build in the same layout, suido opens; and what
# they build wrongly, suido refuses with the right code. Our side is driven by
# tests/interop/fileseal_tool.c, compiled here against libsuido.a.
set -euo pipefail
B=${SUIDO_BINARY_DIR:?}
S=${SUIDO_SOURCE_DIR:?}
T=$(mktemp -d /tmp/test_fileseal.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
quiet() { "$@" >/dev/null; }

# Compile the driver with the library's compiler and sanitizer flags.
CC=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$B/CMakeCache.txt" 2>/dev/null || true)
CC=${CC:-cc}
SAN=()
grep -q '^SUIDO_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null &&
	SAN=(-fsanitize=address,undefined -fno-omit-frame-pointer)
# shellcheck disable=SC2046
"$CC" -std=gnu11 -Wall -Wextra -Werror "${SAN[@]}" -I"$S/include" "$S/tests/interop/fileseal_tool.c" \
	"$B/libsuido.a" $(pkg-config --cflags --libs libzip libcrypto cjose jansson xmlsec1-openssl \
	libxml-2.0 sqlite3) -lpthread -lm -o "$T/tool"
TOOL=$T/tool
cd "$T"

for who in sender recipient other; do
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $who.key 2>/dev/null
	openssl pkey -in $who.key -pubout -out $who.pub
done
# the recipient as seed 003 has it: a certificate
openssl req -x509 -new -key recipient.key -subj /CN=recipient -days 1 -out recipient.crt 2>/dev/null
NAME='料金_2026-11.csv'
{ printf 'お客様番号,使用水量\n'; head -c 70000 /dev/urandom | od -An -tx1; } >plain.csv
SIZE=$(wc -c <plain.csv)
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }
# error class printed by the driver, or "OK"
outcome() { local e; if e=$("$TOOL" "$@" 2>&1 >/dev/null); then echo OK; else sed -n 's/^error: \([A-Z]*\):.*/\1/p' <<<"$e" | head -1; fi; }

# ---- suido seals, the CLI tools open ----
for bits in 128 192 256; do
	rm -rf x && mkdir x
	"$TOOL" seal sender.key recipient.crt $bits plain.csv "$NAME" s$bits.zip >/dev/null
	check "members ($bits)" test "$(unzip -Z1 s$bits.zip | tr '\n' ' ')" = \
		"manifest.json payload.enc key.enc payload.sig "
	(cd x && unzip -q ../s$bits.zip)
	check "manifest ($bits)" test "$(jq -r '[.format,.name,.size,.cipher,.key_transport,.signature]|join(" ")' \
		x/manifest.json)" = "suido-fileseal/1 $NAME $SIZE aes-$bits-cbc rsa-oaep rsassa-pkcs1-v1_5-sha256"
	openssl pkeyutl -decrypt -inkey recipient.key -pkeyopt rsa_padding_mode:oaep -in x/key.enc -out x/k.bin
	check "session key length ($bits)" test "$(wc -c <x/k.bin)" -eq $((bits / 8))
	openssl enc -d -aes-$bits-cbc -K "$(hex x/k.bin)" -iv "$(jq -r .iv x/manifest.json)" \
		-in x/payload.enc -out x/plain
	check "openssl enc -d ($bits)" cmp -s x/plain plain.csv
	check "openssl dgst -verify ($bits)" quiet openssl dgst -sha256 -verify sender.pub -signature x/payload.sig x/plain
	check "suido opens its own ($bits)" test "$("$TOOL" open recipient.key sender.pub s$bits.zip x/again)" = "$NAME"
	check "same plaintext ($bits)" cmp -s x/again plain.csv
done
rm -rf x && mkdir x
"$TOOL" sign sender.key plain.csv "$NAME" signed.zip >/dev/null
(cd x && unzip -q ../signed.zip)
check "sign-only members" test "$(unzip -Z1 signed.zip | tr '\n' ' ')" = "manifest.json payload payload.sig "
check "sign-only verifies with openssl" quiet openssl dgst -sha256 -verify sender.pub -signature x/payload.sig x/payload
check "sign-only payload" cmp -s x/payload plain.csv
rm -rf x && mkdir x
"$TOOL" encrypt recipient.pub 256 plain.csv "$NAME" enc.zip >/dev/null
(cd x && unzip -q ../enc.zip)
openssl pkeyutl -decrypt -inkey recipient.key -pkeyopt rsa_padding_mode:oaep -in x/key.enc -out x/k.bin
openssl enc -d -aes-256-cbc -K "$(hex x/k.bin)" -iv "$(jq -r .iv x/manifest.json)" -in x/payload.enc -out x/plain
check "encrypt-only decrypts with openssl" cmp -s x/plain plain.csv
check "encrypt-only has no signature" test ! -e x/payload.sig

# ---- the CLI tools seal, suido opens ----
# build DIR BITS OAEP_MD RECIPIENT_PUB SIGNER_KEY: the four members of a sealed file
build() {
	local d=$1 bits=$2 md=$3 rpub=$4 skey=$5 transport=rsa-oaep opt=()
	rm -rf "$d" && mkdir "$d"
	openssl rand $((bits / 8)) >"$d/k.bin"
	local iv; iv=$(openssl rand -hex 16)
	openssl enc -aes-$bits-cbc -K "$(hex "$d/k.bin")" -iv "$iv" -in plain.csv -out "$d/payload.enc"
	if [ "$md" = sha256 ]; then transport=rsa-oaep-256 opt=(-pkeyopt rsa_oaep_md:sha256); fi
	openssl pkeyutl -encrypt -pubin -inkey "$rpub" -pkeyopt rsa_padding_mode:oaep "${opt[@]}" \
		-in "$d/k.bin" -out "$d/key.enc"
	rm "$d/k.bin"
	openssl dgst -sha256 -sign "$skey" -out "$d/payload.sig" plain.csv
	jq -n --arg name "$NAME" --argjson size "$SIZE" --arg cipher aes-$bits-cbc --arg iv "$iv" \
		--argjson esize "$(wc -c <"$d/payload.enc")" --arg kt $transport \
		'{format:"suido-fileseal/1", name:$name, size:$size, cipher:$cipher, iv:$iv,
		  encrypted_size:$esize, key_transport:$kt, signature:"rsassa-pkcs1-v1_5-sha256"}' \
		>"$d/manifest.json"
}
for bits in 128 192 256; do
	for md in sha1 sha256; do
		build c $bits $md recipient.pub sender.key
		rm -f c.zip
		(cd c && zip -q -X ../c.zip payload.sig key.enc manifest.json payload.enc)
		check "suido opens zip+openssl ($bits, OAEP $md)" \
			test "$("$TOOL" open recipient.key sender.pub c.zip c/out)" = "$NAME"
		check "plaintext ($bits, OAEP $md)" cmp -s c/out plain.csv
	done
done
# stored instead of deflated
rm -f c0.zip && (cd c && zip -q -0 -X ../c0.zip manifest.json payload.enc key.enc payload.sig)
check "suido opens zip -0" test "$(outcome open recipient.key sender.pub c0.zip c/out)" = OK
# sign-only and encrypt-only made by the CLI tools
rm -rf v && mkdir v && cp plain.csv v/payload
openssl dgst -sha256 -sign sender.key -out v/payload.sig plain.csv
jq -n --arg name "$NAME" --argjson size "$SIZE" \
	'{format:"suido-fileseal/1", name:$name, size:$size, signature:"rsassa-pkcs1-v1_5-sha256"}' >v/manifest.json
(cd v && zip -q -X ../v.zip manifest.json payload payload.sig)
check "suido verifies zip+openssl sign-only" test "$(outcome verify sender.pub v.zip v/out)" = OK
check "sign-only plaintext" cmp -s v/out plain.csv
check "sign-only, other sender" test "$(outcome verify other.pub v.zip v/out)" = SIGNATURE
build e 192 sha1 recipient.pub sender.key
rm e/payload.sig
jq 'del(.signature)' e/manifest.json >e/m && mv e/m e/manifest.json
(cd e && zip -q -X ../e.zip manifest.json payload.enc key.enc)
check "suido decrypts zip+openssl encrypt-only" test "$(outcome decrypt recipient.key e.zip e/out)" = OK
check "encrypt-only plaintext" cmp -s e/out plain.csv

# ---- what suido must refuse ----
build c 256 sha1 recipient.pub sender.key
zipit() { rm -f "$1"; (cd c && zip -q -X "../$1" "${@:2}"); }
zipit good.zip manifest.json payload.enc key.enc payload.sig
check "control: good.zip opens" test "$(outcome open recipient.key sender.pub good.zip c/out)" = OK
check "wrong recipient key" test "$(outcome open other.key sender.pub good.zip c/out)" = DECRYPT
check "wrong sender key" test "$(outcome open recipient.key other.pub good.zip c/out)" = SIGNATURE
echo "not part of it" >c/extra.txt
zipit extra.zip manifest.json payload.enc key.enc payload.sig extra.txt
check "extra member" test "$(outcome open recipient.key sender.pub extra.zip c/out)" = INVALID
zipit missing.zip manifest.json payload.enc key.enc
check "missing member" test "$(outcome open recipient.key sender.pub missing.zip c/out)" = INVALID
rm -f pw.zip && (cd c && zip -q -X -P secret ../pw.zip manifest.json payload.enc key.enc payload.sig)
check "zip -P (ZIP encryption)" test "$(outcome open recipient.key sender.pub pw.zip c/out)" = INVALID
rm -f dir.zip && zip -q -X dir.zip c/manifest.json c/payload.enc c/key.enc c/payload.sig
check "members in a folder" test "$(outcome open recipient.key sender.pub dir.zip c/out)" = INVALID
if (cd c && zip -q -X -Z bzip2 ../bz.zip manifest.json payload.enc key.enc payload.sig) 2>/dev/null; then
	check "bzip2 members" test "$(outcome open recipient.key sender.pub bz.zip c/out)" = INVALID
fi
openssl dgst -sha256 -sign other.key -out c/payload.sig plain.csv
zipit forged.zip manifest.json payload.enc key.enc payload.sig
check "signed by someone else" test "$(outcome open recipient.key sender.pub forged.zip c/out)" = SIGNATURE
build c 256 sha1 other.pub sender.key
zipit otherkey.zip manifest.json payload.enc key.enc payload.sig
check "key.enc for another recipient" test "$(outcome open recipient.key sender.pub otherkey.zip c/out)" = DECRYPT
head -c 1000 good.zip >trunc.zip
check "truncated ZIP" test "$(outcome open recipient.key sender.pub trunc.zip c/out)" = INVALID
# a zip bomb: 200 MB of zeros as payload.enc, ~200 KB on disk, over the 64 MiB default cap
build c 256 sha1 recipient.pub sender.key
head -c 200000000 /dev/zero >c/payload.enc
jq '.encrypted_size = 200000000' c/manifest.json >c/m && mv c/m c/manifest.json
zipit bomb.zip manifest.json payload.enc key.enc payload.sig
check "zip bomb is small" test "$(wc -c <bomb.zip)" -lt 1000000
check "zip bomb refused by its declared size" test "$(outcome open recipient.key sender.pub bomb.zip c/out)" = LIMIT

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
