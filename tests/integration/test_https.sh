#!/usr/bin/env bash
# The AP interface over HTTPS, checked with independent clients (curl and
# openssl s_client): with [http] certfile/keyfile from the platform's CA a
# client trusting that CA gets answers; one trusting only the system roots, or
# trusting our CA while the server shows another CA's certificate, fails
# verification; TLS 1.1 and TLS 1.2 without forward secrecy are refused; plain
# http:// to the TLS port gets no data. Bad TLS files stop the platform at
# start with the file named, and the key never reaches the log. Plain HTTP
# on a non-loopback address starts with a warning.
set -euo pipefail
BIN=${SUIDO_BINARY_DIR:?}
t=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$t"
}
trap cleanup EXIT
pass=0
ok() { pass=$((pass+1)); }
fail() { echo "FAIL $*"; for f in "$t"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

# Our CA with the platform's TLS server certificate (CN and DNS localhost;
# the CA puts 127.0.0.1 in every tls-server SAN), a TLS client certificate
# (wrong use for a server), and another CA with a server certificate.
"$BIN/suido" ca init --dir "$t/ca" --cn "https test root" >/dev/null
"$BIN/suido" ca issue --dir "$t/ca" --profile platform --use tls-server --cn localhost \
  --dns localhost --out "$t/api" >/dev/null
"$BIN/suido" ca issue --dir "$t/ca" --profile platform --use tls-client --cn someone \
  --out "$t/client" >/dev/null
"$BIN/suido" ca init --dir "$t/ca2" --cn "some other root" >/dev/null
"$BIN/suido" ca issue --dir "$t/ca2" --profile platform --use tls-server --cn localhost \
  --dns localhost --out "$t/other" >/dev/null
CA=$t/ca/ca.crt
TOKEN=$(openssl rand -hex 32)
SHA=$(printf '%s' "$TOKEN" | openssl dgst -sha256 -r | cut -d' ' -f1)

# conf NAME LISTEN [http keys...]: a platform with one utility, no gateways
# (its broker is never reached: the AP interface does not need it).
conf() {
  local name=$1 listen=$2; shift 2
  {
    printf '[platform]\ndatabase = %s/%s.db\n[http]\nlisten = %s\nport = 0\n' "$t" "$name" "$listen"
    for kv in "$@"; do printf '%s\n' "$kv"; done
    printf '[mqtt]\nport = 1\n[utility demo]\n[admin]\napi_token_sha256 = %s\n' "$SHA"
  } >"$t/$name.conf"
}
# start NAME: runs the platform on $t/NAME.conf; sets PORT.
start() {
  local name=$1
  rm -f "$t/$name.ready"
  "$BIN/suido-platform" -c "$t/$name.conf" --ready-file "$t/$name.ready" >"$t/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    [ -s "$t/$name.ready" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || fail "$name exited at start"
    sleep 0.1
  done
  PORT=$(sed -n 's/^http_port=//p' "$t/$name.ready")
  [ -n "$PORT" ] || fail "$name: no ready file"
}

conf tls 127.0.0.1 "certfile = $t/api.crt" "keyfile = $t/api.key"
start tls
URL=https://127.0.0.1:$PORT
grep -q "HTTPS (TLS 1.2 and 1.3 only)" "$t/tls.log" || fail "no HTTPS line in the log"
grep -q "serving the AP interface on https://127.0.0.1:$PORT/ap/v1" "$t/tls.log" || fail "url in log"

# 1. curl trusting our CA: answers, by IP and by host name (both in the SAN).
out=$(curl -sS --cacert "$CA" "$URL/healthz") || fail "curl --cacert healthz"
grep -q '"status":"ok"' <<<"$out" || fail "healthz answer: $out"; ok
out=$(curl -sS --cacert "$CA" "https://localhost:$PORT/healthz") || fail "curl localhost"
grep -q '"status":"ok"' <<<"$out" || fail "healthz by name: $out"; ok
# an application granted the utility (admin API, operator token), its access
# token from the OpenID provider by client credentials, then the AP interface
adm() { curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
adm -X POST -d '{"id":"v1","kind":"vendor","name":"V"}' "$URL/admin/v1/tenants" >/dev/null
adm -X POST -d '{"utility":"demo","vendor":"v1"}' "$URL/admin/v1/links" >/dev/null
secret=$(adm -X POST -d '{"id":"a1","vendor":"v1","name":"A","redirect_uris":[]}' \
  "$URL/admin/v1/applications" | jq -r .client_secret)
adm -X PUT -d '{"scope":{"all":true}}' "$URL/admin/v1/utilities/demo/grants/a1" >/dev/null
AT=$(curl -sS --cacert "$CA" -u "a1:$secret" -d grant_type=client_credentials "$URL/oidc/token" |
  jq -r .access_token)
[ ${#AT} -gt 100 ] || fail "no access token: $AT"
code=$(curl -sS --cacert "$CA" -o "$t/items.json" -w '%{http_code}' \
  -H "Authorization: Bearer $AT" "$URL/ap/v1/utilities/demo/items") || fail "curl items"
[ "$code" = 200 ] && grep -q '"items":\[\]' "$t/items.json" || fail "items: $code $(cat "$t/items.json")"; ok

# 2. without our CA (system roots only) verification fails: curl exit 60.
st=0; curl -sS --max-time 5 "$URL/healthz" >"$t/out" 2>"$t/err" || st=$?
[ "$st" = 60 ] && grep -q "SSL certificate problem" "$t/err" && ! grep -q status "$t/out" \
  || fail "no --cacert: status $st, $(cat "$t/err")"; ok
# openssl agrees (an independent verifier): OK with our root only
echo | openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" -verify_return_error \
  -verify_ip 127.0.0.1 >"$t/s" 2>&1 || fail "s_client with our CA: $(tail -5 "$t/s")"
grep -q "Verify return code: 0 (ok)" "$t/s" || fail "s_client verify"; ok

# 3. protocol versions: 1.2 and 1.3 are served, 1.1 is refused even by a
# client willing to speak it (SECLEVEL=0 lets OpenSSL 3 offer 1.1), and so is
# TLS 1.2 with RSA key transport (no forward secrecy).
for v in tls1_2 tls1_3; do
  echo | openssl s_client -connect "127.0.0.1:$PORT" -"$v" -CAfile "$CA" -verify_return_error \
    >"$t/s" 2>&1 || fail "$v refused: $(tail -5 "$t/s")"
  grep -q "^New, TLSv1\.${v#tls1_}, Cipher is " "$t/s" || fail "$v: $(cat "$t/s")"; ok
done
st=0; echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
  -CAfile "$CA" >"$t/s" 2>&1 || st=$?
[ "$st" != 0 ] && grep -q "Cipher is (NONE)" "$t/s" || fail "TLS 1.1 accepted: $(cat "$t/s")"; ok
st=0; curl -sS --max-time 5 --cacert "$CA" --tlsv1.0 --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' \
  "$URL/healthz" >"$t/out" 2>"$t/err" || st=$?
[ "$st" = 35 ] && ! grep -q status "$t/out" || fail "curl TLS 1.1: status $st $(cat "$t/err")"; ok
st=0; echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -cipher 'AES128-GCM-SHA256' \
  -CAfile "$CA" >"$t/s" 2>&1 || st=$?
[ "$st" != 0 ] && grep -q "Cipher is (NONE)" "$t/s" || fail "RSA key transport accepted"; ok

# 4. plain HTTP to the TLS port gets no data.
st=0; curl -sS --max-time 5 "http://127.0.0.1:$PORT/healthz" >"$t/out" 2>"$t/err" || st=$?
[ "$st" != 0 ] && ! grep -q status "$t/out" || fail "plain http got: $(cat "$t/out")"; ok

# 5. a server with another CA's certificate is refused by a client trusting ours.
conf other 127.0.0.1 "certfile = $t/other.crt" "keyfile = $t/other.key"
start other
st=0; curl -sS --max-time 5 --cacert "$CA" "https://127.0.0.1:$PORT/healthz" >"$t/out" 2>"$t/err" || st=$?
[ "$st" = 60 ] && ! grep -q status "$t/out" || fail "other CA accepted: status $st $(cat "$t/err")"; ok
st=0; echo | openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" -verify_return_error \
  >"$t/s" 2>&1 || st=$?
[ "$st" != 0 ] || fail "s_client accepted the other CA"; ok
# ...and accepted by a client trusting that CA (the refusal above is the CA's)
curl -fsS --max-time 5 --cacert "$t/ca2/ca.crt" "https://127.0.0.1:$PORT/healthz" >/dev/null \
  || fail "other CA's own client refused"; ok

# 6. the private key never reaches a log
key_line=$(sed -n 2p "$t/api.key")
for f in "$t"/*.log; do
  ! grep -q "PRIVATE KEY" "$f" && ! grep -qF "$key_line" "$f" || fail "key material in $f"
done; ok

# 7. bad TLS configuration: exit 78, the file and key named, at --check-config too.
check() { # name expected-text http-keys...
  local name=$1 text=$2 out st=0; shift 2
  conf "$name" 127.0.0.1 "$@"
  out=$("$BIN/suido-platform" -c "$t/$name.conf" --check-config 2>&1) || st=$?
  [ "$st" = 78 ] && grep -qF -- "$text" <<<"$out" || fail "$name: status $st, $out"
  ok
}
check nokey "[http] keyfile: open $t/nope.key: No such file" \
  "certfile = $t/api.crt" "keyfile = $t/nope.key"
check onlycert "[http]: keyfile: required key missing (certfile and keyfile go together)" \
  "certfile = $t/api.crt"
check mismatch "[http] keyfile: $t/client.key is not the private key of certfile $t/api.crt" \
  "certfile = $t/api.crt" "keyfile = $t/client.key"
check wronguse "[http] certfile: $t/client.crt is not a TLS server certificate" \
  "certfile = $t/client.crt" "keyfile = $t/client.key"
check notpem "[http] certfile: $t/api.key: " "certfile = $t/api.key" "keyfile = $t/api.key"
conf good 127.0.0.1 "certfile = $t/api.crt" "keyfile = $t/api.key"
"$BIN/suido-platform" -c "$t/good.conf" --check-config >/dev/null || fail "good --check-config"; ok

# 8. plain HTTP: quiet on loopback, a warning anywhere else.
conf plainlo 127.0.0.1
start plainlo
curl -fsS --max-time 5 "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "plain loopback"
grep -q "plain HTTP" "$t/plainlo.log" && ! grep -q "PLAIN HTTP" "$t/plainlo.log" \
  || fail "plain loopback log"; ok
conf plainany 0.0.0.0
start plainany
grep -q "WARN api: PLAIN HTTP on 0.0.0.0" "$t/plainany.log" || fail "no plain HTTP warning"; ok

echo "$pass passed, 0 failed"
