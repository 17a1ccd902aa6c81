#!/usr/bin/env bash
# suido token new (the operator's admin token): the printed hash is the SHA-256
# of the printed token (checked with the openssl CLI), tokens differ per call,
# the old --utility (static AP tokens, gone) and bad arguments exit 64.
set -euo pipefail
BIN=${SUIDO_BINARY_DIR:?}/suido
out=$("$BIN" token new)
tok=$(sed -n 's/^token = //p' <<<"$out")
sha=$(sed -n 's/^api_token_sha256 = //p' <<<"$out")
[ ${#tok} -eq 64 ] || { echo "FAIL: token length"; exit 1; }
[ "$(printf %s "$tok" | openssl dgst -sha256 -r | cut -d' ' -f1)" = "$sha" ] || { echo "FAIL: hash"; exit 1; }
grep -q '^\[admin\]$' <<<"$out" || { echo "FAIL: section line"; exit 1; }
[ "$("$BIN" token new | head -1)" != "$("$BIN" token new | head -1)" ] || { echo "FAIL: same token twice"; exit 1; }
st=0; "$BIN" token new --utility demo 2>"${TMPDIR:-/tmp}/tok.err" || st=$?
[ "$st" -eq 64 ] && grep -q "OpenID provider" "${TMPDIR:-/tmp}/tok.err" || { echo "FAIL: --utility status $st"; exit 1; }
st=0; "$BIN" frobnicate 2>/dev/null || st=$?
[ "$st" -eq 64 ] || { echo "FAIL: unknown command status $st"; exit 1; }
"$BIN" version | grep -q '^suido ' || { echo "FAIL: version"; exit 1; }
echo "5 passed, 0 failed"
