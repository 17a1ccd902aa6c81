#!/usr/bin/env bash
# TOTP interoperability: lib/totp.c (through the helper mode of the unit test
# binary lib_test_totp) against oathtool (Debian package oathtool), for random
# secrets of 10-64 bytes and random times:
#   - our code equals oathtool's for the same secret and time;
#   - oathtool's codes of the previous and next step verify with us, those two
#     steps away do not, and a code used once is refused (replay);
#   - the secret= of our otpauth:// URI, read by oathtool as base32, gives the
#     same codes (an authenticator app scanning the URI would agree with us);
#   - as oathtool is built on liboath, which lib/totp.c also uses, every code
#     and URI secret is checked once more by RFC 6238 written in python3
#     (hmac, hashlib, base64 of the standard library): code liboath does not share.
set -euo pipefail

BIN=${SUIDO_BINARY_DIR:?SUIDO_BINARY_DIR not set}/lib_test_totp
ROUNDS=${TOTP_INTEROP_ROUNDS:-100}
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v oathtool >/dev/null || fail "oathtool is missing (scripts/deps.sh installs it)"
[ -x "$BIN" ] || fail "$BIN not built"

rand_u32() { od -An -tu4 -N4 /dev/urandom | tr -d ' \n'; }
theirs() { oathtool --totp -d 6 -s 30 -N "@$2" "$1"; }

checked=0
pairs=$(mktemp)
trap 'rm -f "$pairs"' EXIT
for ((i = 0; i < ROUNDS; i++)); do
	len=$((10 + $(rand_u32) % 55))
	hex=$(od -An -tx1 -N"$len" /dev/urandom | tr -d ' \n')
	# 0 .. 2^32-1 s, and the step boundaries of the first round.
	t=$(rand_u32)
	[ "$i" -eq 0 ] && t=0
	[ "$i" -eq 1 ] && t=59

	ours=$("$BIN" --code "$hex" "$t")
	[ "$ours" = "$(theirs "$hex" "$t")" ] || fail "code differs: secret $hex t $t"
	step=$((t / 30))

	# oathtool's neighbours: within ±1 step accepted, ±2 refused.
	for d in -1 1; do
		tt=$((t + 30 * d))
		[ "$tt" -ge 0 ] || continue
		got=$("$BIN" --verify "$hex" "$t" "$(theirs "$hex" "$tt")" -1)
		[ "$got" = "ok $((step + d))" ] || fail "step $d of oathtool refused: $got ($hex $t)"
	done
	for d in -2 2; do
		tt=$((t + 30 * d))
		[ "$tt" -ge 0 ] || continue
		c=$(theirs "$hex" "$tt")
		# A 6-digit code can collide with the window's by chance (3 in 10^6).
		[ "$c" = "$ours" ] && continue
		got=$("$BIN" --verify "$hex" "$t" "$c" -1)
		[ "$got" = "wrong" ] || fail "step $d of oathtool accepted: $got ($hex $t)"
	done
	# Replay: the code accepted at this step is refused once it is the last step.
	got=$("$BIN" --verify "$hex" "$t" "$ours" "$step")
	[ "$got" = "replay" ] || fail "replayed code not refused: $got ($hex $t)"

	# The URI's secret, decoded by oathtool.
	uri=$("$BIN" --uri "山田.taro@市役所" "$hex")
	case "$uri" in
	"otpauth://totp/suido:%E5%B1%B1%E7%94%B0.taro%40%E5%B8%82%E5%BD%B9%E6%89%80?secret="*"&issuer=suido&algorithm=SHA1&digits=6&period=30") ;;
	*) fail "URI shape: $uri" ;;
	esac
	b32=$(sed -n 's/.*[?&]secret=\([A-Z2-7=]*\)&.*/\1/p' <<<"$uri")
	[ -n "$b32" ] || fail "no secret in $uri"
	[ "$(oathtool --totp -b -d 6 -s 30 -N "@$t" "$b32")" = "$ours" ] ||
		fail "oathtool reads another secret from the URI: $uri"
	echo "$hex $t $ours $b32" >>"$pairs"
	checked=$((checked + 1))
done

/usr/bin/python3 - "$pairs" <<'EOF' || fail "python3 RFC 6238 disagrees"
import base64, hashlib, hmac, struct, sys

def totp(key, t):
    mac = hmac.new(key, struct.pack(">Q", t // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10**6)

bad = 0
for line in open(sys.argv[1]):
    hexkey, t, ours, b32 = line.split()
    key = bytes.fromhex(hexkey)
    if totp(key, int(t)) != ours or base64.b32decode(b32) != key:
        print("python3 disagrees:", line.strip(), file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
EOF
echo "totp interop with oathtool and python3: $checked rounds"
echo "$checked passed, 0 failed"
