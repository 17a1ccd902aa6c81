#!/usr/bin/env bash
# make run: starts the whole system on the embedded default and feeds the
# sample files through it. Everything lives under $SUIDO_VAR (default ./var):
# generated configuration, the broker's, platform's and gateway's state, logs,
# and run/endpoints.env with what a client needs. Stops everything on Ctrl-C.
#
# Environment (all optional):
#   SUIDO_VAR        state directory (default: <repo>/var); wiped at start
#   SUIDO_BUILD      build directory (default: <repo>/build)
#   SUIDO_MQTT_PORT  broker port (default 18830)
#   SUIDO_HTTP_PORT  AP interface port (default 18080)
#   SUIDO_FTP_PORT   FTP intake (vsftpd) port (default 18021)
#   SUIDO_FTP_PASV   first of its 10 passive-mode ports (default 18100)
#   SUIDO_FTP        0 = no FTP intake (it needs root: chroot, PAM)
#   SUIDO_SAMPLES    sample CSV directory (default: <repo>/../shared/samples/csv)
#   SUIDO_RUN_QUIET  1 = no summary loop (used by tests)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=${SUIDO_VAR:-$ROOT/var}
BUILD=${SUIDO_BUILD:-$ROOT/build}
MQTT_PORT=${SUIDO_MQTT_PORT:-18830}
HTTP_PORT=${SUIDO_HTTP_PORT:-18080}
SAMPLES=${SUIDO_SAMPLES:-$ROOT/../shared/samples/csv}
FTP_PORT=${SUIDO_FTP_PORT:-18021}
FTP_PASV=${SUIDO_FTP_PASV:-18100}
FTP=${SUIDO_FTP:-1}
FTP_USER=demo-sender
UTILITY=demo
GATEWAY=demo-gw1

for b in suido suido-platform suido-gateway; do
  [ -x "$BUILD/$b" ] || { echo "run: $BUILD/$b is missing: run 'make build' first" >&2; exit 1; }
done
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || {
  echo "run: mosquitto is not installed: run 'make deps'" >&2; exit 1; }
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
if [ "$FTP" = 1 ] && [ "$(id -u)" -ne 0 ]; then
  echo "run: FTP intake needs root (vsftpd's chroot and PAM); starting without it" >&2
  FTP=0
fi
VSFTPD=$(command -v vsftpd || echo /usr/sbin/vsftpd)
if [ "$FTP" = 1 ] && [ ! -x "$VSFTPD" ]; then
  echo "run: vsftpd is not installed: run 'make deps'" >&2; exit 1
fi

rm -rf "$VAR"
mkdir -p "$VAR/run" "$VAR/log" "$VAR/mosquitto" "$VAR/platform" "$VAR/gateway/spool"
chmod 700 "$VAR/run"

pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$FTP" = 1 ]; then bash "$ROOT/scripts/ftp.sh" teardown "$VAR/ftp-server" 2>/dev/null || true; fi
  echo "run: stopped"
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

# Fresh keys from the platform's own CA, never checked-in files: the root, the
# platform's data-protection certificate (the gateway seals to it) and the
# gateway's (the platform verifies its signatures with it), a CRL, for MQTT
# over TLS the broker's server certificate (127.0.0.1 is in its SAN) and a TLS
# client certificate for the platform and for the gateway (its CN, the gateway
# id, is its user name on the broker), and for the AP interface over HTTPS the
# platform's server certificate (localhost; 127.0.0.1 is in its SAN).
mkdir -p "$VAR/pki"
chmod 700 "$VAR/pki"
"$BUILD/suido" ca init --dir "$VAR/ca" --cn "suido demo root CA" >/dev/null
"$BUILD/suido" ca issue --dir "$VAR/ca" --profile platform --use data-protection \
  --cn "suido demo platform" --out "$VAR/pki/platform-dp" >/dev/null
"$BUILD/suido" ca issue --dir "$VAR/ca" --profile gateway --use data-protection \
  --cn "$GATEWAY" --out "$VAR/pki/$GATEWAY" >/dev/null
"$BUILD/suido" ca crl --dir "$VAR/ca" --out "$VAR/pki/crl.pem" >/dev/null
"$BUILD/suido" ca issue --dir "$VAR/ca" --profile platform --use tls-server \
  --cn localhost --dns localhost --out "$VAR/pki/broker" >/dev/null
"$BUILD/suido" ca issue --dir "$VAR/ca" --profile platform --use tls-server \
  --cn localhost --dns localhost --out "$VAR/pki/api-tls" >/dev/null
"$BUILD/suido" ca issue --dir "$VAR/ca" --profile platform --use tls-client \
  --cn suido-platform --out "$VAR/pki/platform-tls" >/dev/null
"$BUILD/suido" ca issue --dir "$VAR/ca" --profile gateway --use tls-client \
  --cn "$GATEWAY" --out "$VAR/pki/$GATEWAY-tls" >/dev/null
# A demo application (a vendor's system) with its data-protection certificate:
# it may ask for sealed answers and deposit files (docs/api.md).
"$BUILD/suido" ca issue --dir "$VAR/ca" --profile application --use data-protection \
  --cn demo-app --out "$VAR/pki/demo-app" >/dev/null
# The demo utility's mask key: the gateway masks the billing file's customer
# number, name and address with it (docs/masking.md); only its holder unmasks.
"$BUILD/suido" mask-key new --out "$VAR/pki/$UTILITY-mask.key" >/dev/null

# The operator's admin token (the platform keeps only its hash). Applications
# and users get their tokens from the platform's OpenID provider.
ADMIN_TOKEN=$(openssl rand -hex 32)
ADMIN_TOKEN_SHA=$(printf '%s' "$ADMIN_TOKEN" | openssl dgst -sha256 -r | cut -d' ' -f1)

# Who may use which topics: a gateway (user name = its certificate's CN = its
# id) only its own, the platform every gateway's data and ack topics.
cat > "$VAR/run/mosquitto.acl" <<ACL
user suido-platform
topic read suido/v1/+/+/data
topic read suido/v1/+/+/file
topic read suido/v1/+/+/status
topic read suido/v1/+/+/health
topic write suido/v1/+/+/ack
topic write suido/v1/+/+/command
topic write suido/v1/+/+/certificates

pattern write suido/v1/+/%u/data
pattern write suido/v1/+/%u/file
pattern write suido/v1/+/%u/status
pattern write suido/v1/+/%u/health
pattern read suido/v1/+/%u/ack
pattern read suido/v1/+/%u/command
pattern read suido/v1/+/%u/certificates
ACL

# user: started as root, mosquitto would switch to the mosquitto user, who
# cannot read $VAR.
cat > "$VAR/run/mosquitto.conf" <<CONF
# Generated by scripts/run.sh: loopback only, TLS only with a client
# certificate of the CA (its CN is the user name), persistent sessions on disk.
user $(id -un)
listener $MQTT_PORT 127.0.0.1
cafile $VAR/ca/ca.crt
certfile $VAR/pki/broker.crt
keyfile $VAR/pki/broker.key
require_certificate true
crlfile $VAR/pki/crl.pem
use_identity_as_username true
tls_version tlsv1.2
allow_anonymous false
acl_file $VAR/run/mosquitto.acl
persistence true
persistence_location $VAR/mosquitto/
autosave_interval 1
max_queued_messages 100000
max_inflight_messages 0
set_tcp_nodelay true
log_dest file $VAR/log/mosquitto.log
CONF

cat > "$VAR/run/platform.conf" <<CONF
# Generated by scripts/run.sh (see etc/platform.conf for every key).
[platform]
database = $VAR/platform/platform.db
timezone = Asia/Tokyo

[http]
listen = 127.0.0.1
port = $HTTP_PORT
certfile = $VAR/pki/api-tls.crt
keyfile = $VAR/pki/api-tls.key
access_log = $VAR/log/access.log

[mqtt]
host = 127.0.0.1
port = $MQTT_PORT
cafile = $VAR/ca/ca.crt
certfile = $VAR/pki/platform-tls.crt
keyfile = $VAR/pki/platform-tls.key

[security]
key = $VAR/pki/platform-dp.key
certificate = $VAR/pki/platform-dp.crt
ca = $VAR/ca/ca.crt
crl = $VAR/pki/crl.pem

[utility $UTILITY]
name = デモ市水道局

[gateway $GATEWAY]
utility = $UTILITY
format = json
certificate = $VAR/pki/$GATEWAY.crt
sending = yes
interval_s = 10

[monitor]
health_interval_s = 10

[admin]
api_token_sha256 = $ADMIN_TOKEN_SHA

[application demo-app]
certificate = $VAR/pki/demo-app.crt

[oidc]
issuer = https://127.0.0.1:$HTTP_PORT
password_blocklist = $ROOT/etc/password-blocklist.txt
CONF

cat > "$VAR/run/gateway.conf" <<CONF
# Generated by scripts/run.sh (see etc/gateway.conf for every key).
[gateway]
id = $GATEWAY
utility = $UTILITY
timezone = Asia/Tokyo
state_dir = $VAR/gateway
spool_dir = $VAR/gateway/spool
mapping = $ROOT/etc/mapping-demo.conf

[send]
interval_ms = 500

[mqtt]
host = 127.0.0.1
port = $MQTT_PORT
cafile = $VAR/ca/ca.crt
certfile = $VAR/pki/$GATEWAY-tls.crt
keyfile = $VAR/pki/$GATEWAY-tls.key

[security]
format = json
key = $VAR/pki/$GATEWAY.key
platform_certificate = $VAR/pki/platform-dp.crt
ca = $VAR/ca/ca.crt
mask_key = $VAR/pki/$UTILITY-mask.key
CONF

# FTP intake (docs/ftp.md): vsftpd on loopback, one virtual account for the
# demo's existing system, jailed in $VAR/ftp/$FTP_USER; the gateway takes an
# upload once vsftpd's log says it finished. Only the password's hash is
# kept in a file vsftpd reads; the password itself is in endpoints.env.
if [ "$FTP" = 1 ]; then
  FTP_PASSWORD=$(openssl rand -hex 12)
  SUIDO_FTP_PASSWORD_DEMO_SENDER=$FTP_PASSWORD bash "$ROOT/scripts/ftp.sh" setup \
    "$VAR/ftp-server" "$VAR/ftp" "$FTP_PORT" "$FTP_PASV" "$((FTP_PASV + 9))" "$FTP_USER" >/dev/null
  cat >> "$VAR/run/gateway.conf" <<CONF

[ftp]
root = $VAR/ftp
transfer_log = $VAR/ftp-server/vsftpd.log
users = $FTP_USER
CONF
  "$VSFTPD" "$VAR/ftp-server/vsftpd.conf" >>"$VAR/log/vsftpd.log" 2>&1 &
  pids+=($!)
fi

"$MOSQUITTO" -c "$VAR/run/mosquitto.conf" >>"$VAR/log/mosquitto.log" 2>&1 &
pids+=($!)
"$BUILD/suido-platform" -c "$VAR/run/platform.conf" --ready-file "$VAR/run/platform.ready" \
  >>"$VAR/log/platform.log" 2>&1 &
pids+=($!)
"$BUILD/suido-gateway" -c "$VAR/run/gateway.conf" >>"$VAR/log/gateway.log" 2>&1 &
pids+=($!)

# HTTPS only; clients trust the CA's root, nothing else (curl --cacert).
BASE="https://127.0.0.1:$HTTP_PORT"
API="$BASE/ap/v1"
CACERT="$VAR/ca/ca.crt"
for _ in $(seq 1 100); do
  curl -fsS --cacert "$CACERT" "$BASE/healthz" >/dev/null 2>&1 && break
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || { echo "run: a program exited; see $VAR/log/" >&2; tail -5 "$VAR"/log/*.log >&2; exit 1; }
  done
  sleep 0.1
done

# The demo tenancy, through the admin API with the operator's token (suido
# tenant|link|app|grant|user, docs/admin.md): a vendor serving the demo
# utility, its application granted all of the utility's data, and a utility
# administrator with TOTP. The operator hands the user a one-time password;
# the first sign-in (here through the real sign-in form, with curl) must
# change it (FAQ 8).
umask 077
export SUIDO_ADMIN_URL=$BASE SUIDO_API_CA=$CACERT SUIDO_ADMIN_TOKEN=$ADMIN_TOKEN
S=$BUILD/suido
REDIRECT=http://127.0.0.1:18090/callback
"$S" tenant add demo-vendor --kind vendor --name "デモベンダー株式会社" >/dev/null
"$S" link add --utility "$UTILITY" --vendor demo-vendor >/dev/null
"$S" app add demo-app --vendor demo-vendor --name "デモアプリ" --redirect-uri "$REDIRECT" \
  --config-out "$VAR/run/demo-app-client.json" >/dev/null
"$S" grant set demo-app --utility "$UTILITY" --all >/dev/null
CLIENT_SECRET=$(jq -r .client_secret "$VAR/run/demo-app-client.json")
user=$("$S" user add --tenant "$UTILITY" --name-kanji "水道 太郎" --name-kana "スイドウ タロウ" \
  --name-romaji "Suido Taro" --mail taro@example.jp --role admin --otp-required)
DEMO_USER=$(jq -r .login <<<"$user")
ONE_TIME=$(jq -r .one_time_password <<<"$user")
TOTP_SECRET=$("$S" user totp "$DEMO_USER" | jq -r .secret)
DEMO_PASSWORD="Josui-$(openssl rand -hex 8)"  # not the user's names (policy)
# first sign-in: form (login ID, one-time password, TOTP code), then the
# password change page, then the redirect with a code
jar=$VAR/run/.signin-cookies
q="client_id=demo-app&redirect_uri=$REDIRECT&response_type=code&scope=openid&state=demo"
q="$q&code_challenge=$(openssl rand 32 | basenc --base64url | tr -d '=\n')&code_challenge_method=S256"
field() { sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" | head -1; }
form=$(curl -fsS --cacert "$CACERT" -c "$jar" -b "$jar" "$BASE/oidc/authorize?$q")
csrf=$(field csrf <<<"$form")
change=$(curl -fsS --cacert "$CACERT" -c "$jar" -b "$jar" --data "$q" --data-urlencode "csrf=$csrf" \
  --data-urlencode "login_id=$DEMO_USER" --data-urlencode "password=$ONE_TIME" \
  --data-urlencode "otp=$(oathtool --totp -b "$TOTP_SECRET")" "$BASE/oidc/authorize")
pending=$(field pending <<<"$change")
loc=$(curl -sS --cacert "$CACERT" -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' --data "$q" \
  --data-urlencode "csrf=$csrf" --data-urlencode "pending=$pending" \
  --data-urlencode "new_password=$DEMO_PASSWORD" --data-urlencode "new_password2=$DEMO_PASSWORD" \
  "$BASE/oidc/authorize")
rm -f "$jar"
case "$loc" in "$REDIRECT?code="*) ;; *) echo "run: the demo user's first sign-in failed" >&2; DEMO_PASSWORD=$ONE_TIME ;; esac
# the demo application's back-end token (client credentials)
TOKEN=$(curl -fsS --cacert "$CACERT" -u "demo-app:$CLIENT_SECRET" -d grant_type=client_credentials \
  "$BASE/oidc/token" | jq -r .access_token)
APP_TOKEN=$TOKEN
cat > "$VAR/run/endpoints.env" <<ENV
SUIDO_API_URL=$API
SUIDO_API_CA=$CACERT
SUIDO_OIDC_ISSUER=$BASE
SUIDO_DEMO_CLIENT_ID=demo-app
SUIDO_DEMO_CLIENT_SECRET=$CLIENT_SECRET
SUIDO_DEMO_REDIRECT_URI=$REDIRECT
SUIDO_DEMO_USER=$DEMO_USER
SUIDO_DEMO_PASSWORD=$DEMO_PASSWORD
SUIDO_DEMO_TOTP_SECRET=$TOTP_SECRET
SUIDO_UTILITY=$UTILITY
SUIDO_GATEWAY=$GATEWAY
SUIDO_SPOOL_DIR=$VAR/gateway/spool
SUIDO_RECEIPTS_DIR=$VAR/gateway/receipts
SUIDO_MQTT_URL=mqtts://127.0.0.1:$MQTT_PORT
SUIDO_MQTT_CA=$VAR/ca/ca.crt
SUIDO_METRICS_URL=$BASE/metrics
SUIDO_LOG_DIR=$VAR/log
SUIDO_MASK_KEY=$VAR/pki/$UTILITY-mask.key
SUIDO_ADMIN_URL=$BASE
SUIDO_ADMIN_TOKEN=$ADMIN_TOKEN
SUIDO_APP_ID=demo-app
SUIDO_APP_KEY=$VAR/pki/demo-app.key
SUIDO_APP_CERT=$VAR/pki/demo-app.crt
SUIDO_PLATFORM_CERT=$VAR/pki/platform-dp.crt
ENV
if [ "$FTP" = 1 ]; then
  cat >> "$VAR/run/endpoints.env" <<ENV
SUIDO_FTP_URL=ftp://127.0.0.1:$FTP_PORT/
SUIDO_FTP_USER=$FTP_USER
SUIDO_FTP_PASSWORD=$FTP_PASSWORD
ENV
fi
umask 022

# Feed the samples the way an uploader should: write under a dot-name, then
# rename into the spool (the gateway takes a file only once it is complete).
if [ -d "$SAMPLES" ]; then
  for f in "$SAMPLES"/*.csv; do
    b=$(basename "$f")
    cp "$f" "$VAR/gateway/spool/.$b.part"
    mv "$VAR/gateway/spool/.$b.part" "$VAR/gateway/spool/$b"
  done
else
  echo "run: no samples at $SAMPLES; drop CSV files into the spool yourself" >&2
fi

cat <<MSG
suido is running (Ctrl-C stops everything).
  AP interface   $API   (HTTPS: trust $CACERT; tokens from the OpenID provider)
  OpenID issuer  $BASE   (client demo-app: $VAR/run/demo-app-client.json;
                 demo user $DEMO_USER with password and TOTP secret in endpoints.env)
  metrics        $BASE/metrics
  MQTT broker    127.0.0.1:$MQTT_PORT   (TLS, client certificate of $VAR/ca required)
  spool          $VAR/gateway/spool   (drop CSV files here)
  receipts       $VAR/gateway/receipts
MSG
if [ "$FTP" = 1 ]; then cat <<MSG
  FTP intake     ftp://127.0.0.1:$FTP_PORT/   (user $FTP_USER, password in endpoints.env;
                 receipts in receipts/ of the account, docs/ftp.md)
MSG
fi
cat <<MSG
  logs           $VAR/log/
Try:
  . $VAR/run/endpoints.env
  # an access token for the demo application's back-end (client credentials, 5 minutes):
  TOKEN=\$(curl -s --cacert "\$SUIDO_API_CA" -u "\$SUIDO_DEMO_CLIENT_ID:\$SUIDO_DEMO_CLIENT_SECRET" \\
    -d grant_type=client_credentials \$SUIDO_OIDC_ISSUER/oidc/token | jq -r .access_token)
  curl --cacert "\$SUIDO_API_CA" -H "Authorization: Bearer \$TOKEN" \$SUIDO_API_URL/utilities/\$SUIDO_UTILITY/items
  # the same, sealed for the demo application (signed by the platform, encrypted for it):
  curl -s --cacert "\$SUIDO_API_CA" -H "Authorization: Bearer \$TOKEN" -H "Accept: application/jose" \\
    \$SUIDO_API_URL/utilities/\$SUIDO_UTILITY/items | $BUILD/suido open --format json --key "\$SUIDO_APP_KEY" --from "\$SUIDO_PLATFORM_CERT"
MSG
if [ "$FTP" = 1 ]; then cat <<MSG
  # deliver a file over FTP as an existing system does, then fetch its receipt:
  curl -T file.csv --user "\$SUIDO_FTP_USER:\$SUIDO_FTP_PASSWORD" \$SUIDO_FTP_URL
  curl --user "\$SUIDO_FTP_USER:\$SUIDO_FTP_PASSWORD" \${SUIDO_FTP_URL}receipts/file.csv.receipt.json
MSG
fi

if [ "${SUIDO_RUN_QUIET:-0}" != 1 ]; then
  auth="Authorization: Bearer $TOKEN"
  for _ in $(seq 1 50); do  # until every sample has its receipt
    [ "$(ls "$VAR"/gateway/receipts/*.receipt.json 2>/dev/null | wc -l)" -ge "$(ls "$SAMPLES"/*.csv 2>/dev/null | wc -l)" ] && break
    sleep 0.2
  done
  sleep 1
  echo "Receipts:"
  for r in "$VAR"/gateway/receipts/*.receipt.json; do
    [ -e "$r" ] && jq -r '"  \(.file): \(.status), layout \(.layout // "-"), \(.encoding), \(.accepted_rows)/\(.rows) rows, \(.points) points"' "$r"
  done
  items=$(curl -fsS --cacert "$CACERT" -H "$auth" "$API/utilities/$UTILITY/items" || echo '{"items":[]}')
  points=$(curl -fsS --cacert "$CACERT" "$BASE/metrics" | awk '/^suido_platform_points_stored_total/ {print $2}')
  echo "Served: $(jq '.items | length' <<<"$items") items, ${points:-0} points stored."
  id=$(jq -r '.items[] | select(.name == "配水池水位(m)") | .id' <<<"$items" | head -1)
  if [ -n "$id" ]; then
    echo "配水池水位(m), first three hours (local 2026/11/20 0:00 is 2026-11-19T15:00:00Z):"
    curl -fsS --cacert "$CACERT" -H "$auth" "$API/utilities/$UTILITY/items/$id/values?from=2026-11-19T15:00:00Z&to=2026-11-19T18:00:00Z" |
      jq -c '.values[]' | sed 's/^/  /'
    echo "  (curl --cacert \"\$SUIDO_API_CA\" -H \"Authorization: Bearer \$TOKEN\" \"\$SUIDO_API_URL/utilities/$UTILITY/items/$id/aggregate?from=2026-11-19T15:00:00Z&to=2026-11-21T15:00:00Z&interval=1d\")"
  fi
  sealed=$(curl -fsS --cacert "$CACERT" -H "Authorization: Bearer $APP_TOKEN" -H "Accept: application/jose" \
    "$API/utilities/$UTILITY/items" | "$BUILD/suido" open --format json --key "$VAR/pki/demo-app.key" \
    --from "$VAR/pki/platform-dp.crt" 2>/dev/null | jq '.items | length' || echo "failed")
  echo "Sealed answer for demo-app (JWE of a JWS, opened with suido open): $sealed items."
  curl -fsS --cacert "$CACERT" -H "$auth" "$API/utilities/$UTILITY/gateways" |
    jq -r '.gateways[] | "Gateway \(.id): \(.state), sending \(.sending) (every \(.interval_s) s), \(if .health then "health: queue \(.health.queue_points) points, disk free \(.health.disk_free_bytes / 1048576 | floor) MiB" else "first health report pending" end)  (suido gateway stop|start \(.id))"' || true
  # The billing file's personal columns arrive masked; the key holder opens them.
  echo "Masked on the gateway (meter M-20000), as the platform stores and serves them:"
  for name in お客様番号 氏名 住所; do
    mid=$(jq -r --arg n "$name" '.items[] | select(.name == $n and .facility == "M-20000") | .id' <<<"$items" | head -1)
    [ -n "$mid" ] || continue
    tok=$(curl -fsS --cacert "$CACERT" -H "$auth" "$API/utilities/$UTILITY/items/$mid/latest" | jq -r .v)
    printf '  %s: %.60s...\n    suido unmask --key "$SUIDO_MASK_KEY": %s\n' "$name" "$tok" \
      "$("$BUILD/suido" unmask --key "$VAR/pki/$UTILITY-mask.key" "$tok" 2>&1)"
  done
fi

while :; do
  for p in "${pids[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then
      echo "run: a program exited unexpectedly; see $VAR/log/" >&2
      exit 1
    fi
  done
  sleep 1
done
