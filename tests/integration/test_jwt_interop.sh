#!/usr/bin/env bash
# JSON Web Tokens (lib/jwt.c) against npm jose (tests/interop/node_modules),
# an independent implementation, both ways: access tokens we sign verify with
# jose's jwtVerify against our JWK set through createLocalJWKSet (typ at+jwt
# required); tokens jose signs with RS256 and a kid, under a key whose JWK
# set jose exports, verify with us; and what must be refused is refused by
# us with the right reason — a jose HS256 token keyed with our public key
# PEM (the algorithm confusion), an unsecured JWT (alg none), a wrong
# issuer, audience or typ, an expired token, an unknown kid. Our side is
# tests/interop/jwt_tool.c, compiled here against libsuido.a.
set -euo pipefail
B=${SUIDO_BINARY_DIR:?}
S=${SUIDO_SOURCE_DIR:?}
INTEROP=$S/tests/interop
T=$(mktemp -d /tmp/test_jwt_interop.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
# expect WHAT WANT GOT
expect() { if [ "$3" = "$2" ]; then ok; else bad "$1: wanted \"$2\", got \"$3\""; fi; }

if ! command -v node >/dev/null || [ ! -d "$INTEROP/node_modules/jose" ]; then
	echo "node or tests/interop/node_modules/jose missing (scripts/deps.sh installs them)"
	exit 1
fi

# Compile the driver with the library's compiler and sanitizer flags.
CC=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$B/CMakeCache.txt" 2>/dev/null || true)
CC=${CC:-cc}
SAN=()
# shellcheck disable=SC2054
grep -q '^SUIDO_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null &&
	SAN=(-fsanitize=address,undefined -fno-omit-frame-pointer)
# shellcheck disable=SC2046
"$CC" -std=gnu11 -Wall -Wextra -Werror "${SAN[@]}" -I"$S/include" "$INTEROP/jwt_tool.c" \
	"$B/libsuido.a" $(pkg-config --cflags --libs libzip libcrypto cjose jansson xmlsec1-openssl \
	libxml-2.0 sqlite3 libsodium liboath) -lpthread -lm -o "$T/jwt_tool"
TOOL=$T/jwt_tool

# The jose side, one ES module run from tests/interop so that "jose"
# resolves to its node_modules:
#   gen DIR KID                  RS256 key pair: DIR/theirs.jwks, DIR/theirs.pem
#   sign PEM KID ISS AUD [EXP]   RS256 token, typ at+jwt; AUD "a,b" is an array
#   hs256 SECRET_FILE KID ISS AUD
#   none ISS AUD                 unsecured JWT (alg none)
#   verify JWKS ISS AUD < token  jwtVerify with createLocalJWKSet, typ at+jwt
read -r -d '' JS <<'EOF' || true
import { readFileSync, writeFileSync } from 'node:fs';
import * as jose from 'jose';

const [cmd, ...a] = process.argv.slice(1);
const aud = (s) => (s.includes(',') ? s.split(',') : s);
const claims = () => ({ sub: 'user-2', client_id: 'vendor-app' });
try {
  switch (cmd) {
    case 'gen': {
      const { publicKey, privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
      const jwk = { ...(await jose.exportJWK(publicKey)), kid: a[1], alg: 'RS256', use: 'sig' };
      writeFileSync(`${a[0]}/theirs.jwks`, JSON.stringify({ keys: [jwk] }));
      writeFileSync(`${a[0]}/theirs.pem`, await jose.exportPKCS8(privateKey));
      break;
    }
    case 'sign': {
      const key = await jose.importPKCS8(readFileSync(a[0], 'utf8'), 'RS256');
      const t = await new jose.SignJWT(claims())
        .setProtectedHeader({ alg: 'RS256', kid: a[1], typ: 'at+jwt' })
        .setIssuer(a[2]).setAudience(aud(a[3])).setIssuedAt()
        .setExpirationTime(a[4] ? Number(a[4]) : '5m').sign(key);
      process.stdout.write(t + '\n');
      break;
    }
    case 'hs256': {
      const t = await new jose.SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', kid: a[1], typ: 'at+jwt' })
        .setIssuer(a[2]).setAudience(a[3]).setIssuedAt().setExpirationTime('5m')
        .sign(new Uint8Array(readFileSync(a[0])));
      process.stdout.write(t + '\n');
      break;
    }
    case 'none': {
      const t = new jose.UnsecuredJWT(claims()).setIssuer(a[0]).setAudience(a[1])
        .setIssuedAt().setExpirationTime('5m').encode();
      process.stdout.write(t + '\n');
      break;
    }
    case 'verify': {
      const jwks = jose.createLocalJWKSet(JSON.parse(readFileSync(a[0], 'utf8')));
      const { payload, protectedHeader } = await jose.jwtVerify(
        readFileSync(0, 'ascii').trim(), jwks,
        { issuer: a[1], audience: a[2], typ: 'at+jwt', algorithms: ['RS256'] });
      process.stdout.write(`valid ${payload.sub} ${protectedHeader.kid}\n`);
      break;
    }
    default:
      throw new Error(`unknown command ${cmd}`);
  }
} catch (e) {
  process.stdout.write(`refused ${e.code ?? e.message}\n`);
  process.exit(1);
}
EOF
jose() { (cd "$INTEROP" && node --input-type=module -e "$JS" "$@"); }
# the first line a command prints, whatever its exit status
out() { "$@" 2>/dev/null | head -1 || true; }

ISS=https://idp.suido.example
AUD=ap-suido
cd "$T"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ours.pem 2>/dev/null
openssl pkey -in ours.pem -pubout -out ours.pub
"$TOOL" jwks ours.pem ours >ours.jwks
expect "our JWK set" "RSA sig RS256 ours AQAB" \
	"$(jq -r '.keys[0] | [.kty,.use,.alg,.kid,.e] | join(" ")' ours.jwks)"

# ---- we sign, jose verifies ----
"$TOOL" sign ours.pem ours "$ISS" "$AUD" >ours.tok
expect "jose verifies ours" "valid user-1 ours" "$(out jose verify "$T/ours.jwks" "$ISS" "$AUD" <ours.tok)"
expect "jose: wrong audience" "refused ERR_JWT_CLAIM_VALIDATION_FAILED" \
	"$(out jose verify "$T/ours.jwks" "$ISS" other <ours.tok)"
expect "jose: wrong issuer" "refused ERR_JWT_CLAIM_VALIDATION_FAILED" \
	"$(out jose verify "$T/ours.jwks" https://evil.example "$AUD" <ours.tok)"
# and our own verifier agrees
expect "we verify ours" "valid user-1" "$(out "$TOOL" verify ours.jwks "$ISS" "$AUD" at+jwt <ours.tok)"
# jose's JWK set reader takes our set; a token of ours under a kid it
# does not hold is refused by it
jq '.keys[0].kid = "renamed"' ours.jwks >renamed.jwks
expect "jose: kid not in the set" "refused ERR_JWKS_NO_MATCHING_KEY" \
	"$(out jose verify "$T/renamed.jwks" "$ISS" "$AUD" <ours.tok)"

# ---- jose signs, we verify ----
jose gen "$T" theirs
expect "jose's JWK set" "RSA sig RS256 theirs" \
	"$(jq -r '.keys[0] | [.kty,.use,.alg,.kid] | join(" ")' theirs.jwks)"
jose sign "$T/theirs.pem" theirs "$ISS" "$AUD" >theirs.tok
expect "we verify jose's" "valid user-2" "$(out "$TOOL" verify theirs.jwks "$ISS" "$AUD" at+jwt <theirs.tok)"
expect "we verify jose's (application/at+jwt)" "valid user-2" \
	"$(out "$TOOL" verify theirs.jwks "$ISS" "$AUD" application/at+jwt <theirs.tok)"
expect "jose verifies its own" "valid user-2 theirs" \
	"$(out jose verify "$T/theirs.jwks" "$ISS" "$AUD" <theirs.tok)"
jose sign "$T/theirs.pem" theirs "$ISS" "other,$AUD" >array.tok
expect "aud array" "valid user-2" "$(out "$TOOL" verify theirs.jwks "$ISS" "$AUD" <array.tok)"
expect "aud array without us" "audience (aud) does not name us" \
	"$(out "$TOOL" verify theirs.jwks "$ISS" third <array.tok)"
expect "wrong issuer" "issuer (iss) not the expected one" \
	"$(out "$TOOL" verify theirs.jwks https://evil.example "$AUD" <theirs.tok)"
expect "typ JWT wanted" "token type (typ) not the expected one" \
	"$(out "$TOOL" verify theirs.jwks "$ISS" "$AUD" JWT <theirs.tok)"
jose sign "$T/theirs.pem" theirs "$ISS" "$AUD" $(($(date +%s) - 600)) >expired.tok
expect "expired" "expired, or no expiry (exp)" \
	"$(out "$TOOL" verify theirs.jwks "$ISS" "$AUD" <expired.tok)"
expect "kid not in our set" "no kid, or a kid not in the key set" \
	"$(out "$TOOL" verify ours.jwks "$ISS" "$AUD" <theirs.tok)"
# both sets in one document: each token finds its key
jq -s '{keys: (.[0].keys + .[1].keys)}' ours.jwks theirs.jwks >both.jwks
expect "two keys: ours" "valid user-1" "$(out "$TOOL" verify both.jwks "$ISS" "$AUD" <ours.tok)"
expect "two keys: jose's" "valid user-2" "$(out "$TOOL" verify both.jwks "$ISS" "$AUD" <theirs.tok)"

# ---- what jose makes that we refuse ----
# HS256 keyed with our public key PEM, under our kid: the classic confusion
jose hs256 "$T/ours.pub" ours "$ISS" "$AUD" >hs256.tok
h=$(cut -d. -f1 hs256.tok | tr '_-' '/+')
while [ $((${#h} % 4)) -ne 0 ]; do h+='='; done
expect "HS256 is a JWT" "HS256 ours" "$(base64 -d <<<"$h" | jq -r '.alg + " " + .kid')"
expect "HS256 refused" "algorithm not accepted (only RS256, no crit)" \
	"$(out "$TOOL" verify ours.jwks "$ISS" "$AUD" <hs256.tok)"
jose none "$ISS" "$AUD" >none.tok
expect "unsecured JWT ends in a dot" "." "$(tail -c 2 none.tok | head -c 1)"
expect "alg none refused" "algorithm not accepted (only RS256, no crit)" \
	"$(out "$TOOL" verify ours.jwks "$ISS" "$AUD" <none.tok)"
expect "alg none refused (jose's set)" "algorithm not accepted (only RS256, no crit)" \
	"$(out "$TOOL" verify theirs.jwks "$ISS" "$AUD" <none.tok)"
# exit statuses: 0 valid, 1 refused
if "$TOOL" verify ours.jwks "$ISS" "$AUD" <hs256.tok >/dev/null; then bad "HS256: exit 0"; else
	expect "HS256: exit 1" 1 "$?"
fi

echo "test_jwt_interop: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
