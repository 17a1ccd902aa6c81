#!/usr/bin/env bash
# suido ca against an independent implementation, the openssl CLI: the root and
# the issued certificates carry the key usages openssl reports; openssl verify
# (with -crl_check and our CRL) accepts fresh certificates and reports a revoked
# one as revoked; an openssl s_server / s_client handshake on loopback with a
# server and a client certificate from our CA succeeds, and fails for a revoked
# client, a server-only certificate used as client, and a foreign CA; exit
# statuses 64 / 65 / 69 for usage, bad input and CA errors.
set -euo pipefail
B=${SUIDO_BINARY_DIR:?}
tmp=$(mktemp -d /tmp/suido-ca-openssl.XXXXXX)
spid=
cleanup() {
	if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
ok() { pass=$((pass + 1)); }
die() { echo "FAIL: $*"; exit 1; }

SUIDO=("$B/suido")
"$B/suido" ca --help >/dev/null || die "\`suido ca\` is not dispatched by $B/suido"

suido() { "${SUIDO[@]}" "$@"; }
status() { local st=0; "$@" >/dev/null 2>&1 || st=$?; echo "$st"; }
fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }

cd "$tmp"
CA=$tmp/ca

# --- the root
out=$(suido ca init --dir "$CA" --cn "Suido Interop Root")
[ "$(stat -c %a "$CA/ca.key")" = 600 ] || die "ca.key mode $(stat -c %a "$CA/ca.key")"
[ "$(sed -n 's/^sha256 = //p' <<<"$out")" = "$(fp_of "$CA/ca.crt")" ] || die "root fingerprint"
text=$(openssl x509 -in "$CA/ca.crt" -noout -text)
for want in "CA:TRUE, pathlen:0" "Certificate Sign, CRL Sign" "Public-Key: (3072 bit)" \
	"Subject: CN = Suido Interop Root" "sha256WithRSAEncryption"; do
	grep -qF "$want" <<<"$text" || die "root lacks \"$want\""
done
[ "$(status suido ca init --dir "$CA" --cn Again)" = 69 ] || die "second init not refused with 69"
ok

# --- issue: a server, clients, a data-protection-only and a server-only certificate
issue() { # prefix profile uses cn [more args]
	local p=$1 prof=$2 uses=$3 cn=$4
	shift 4
	suido ca issue --dir "$CA" --profile "$prof" --use "$uses" --cn "$cn" --out "$p" "$@" >"$p.out"
	[ "$(stat -c %a "$p.key")" = 600 ] || die "$p.key mode"
	grep -q -- "-----BEGIN PRIVATE KEY-----" "$p.key" || die "$p.key not PKCS#8"
	[ "$(openssl x509 -in "$p.crt" -noout -pubkey)" = "$(openssl pkey -in "$p.key" -pubout)" ] ||
		die "$p key does not match its certificate"
	[ "$(sed -n 's/^serial = //p' "$p.out")" = "$(openssl x509 -in "$p.crt" -noout -serial | cut -d= -f2)" ] ||
		die "$p serial"
	[ "$(sed -n 's/^sha256 = //p' "$p.out")" = "$(fp_of "$p.crt")" ] || die "$p fingerprint"
}
issue srv platform tls-server,data-protection localhost --dns platform.suido.test
issue cli gateway tls-client,data-protection gw-001
issue rev gateway tls-client gw-002
issue app application data-protection app-001
issue srvonly platform tls-server srv-only --days 10
ok

has() { grep -qF "$2" <<<"$(openssl x509 -in "$1" -noout -text)" || die "$1 lacks \"$2\""; }
hasnt() { ! grep -qF "$2" <<<"$(openssl x509 -in "$1" -noout -text)" || die "$1 has \"$2\""; }
has srv.crt "CA:FALSE"
has srv.crt "Digital Signature, Key Encipherment"
has srv.crt "TLS Web Server Authentication"
has srv.crt "DNS:platform.suido.test, DNS:localhost, IP Address:127.0.0.1"
has srv.crt "Subject: OU = platform, CN = localhost"
has srv.crt "Public-Key: (2048 bit)"
has cli.crt "TLS Web Client Authentication"
has cli.crt "Digital Signature, Key Encipherment"
hasnt cli.crt "Subject Alternative Name"
has app.crt "Digital Signature, Key Encipherment"
hasnt app.crt "Extended Key Usage"
has srvonly.crt "TLS Web Server Authentication"
hasnt srvonly.crt "Key Encipherment"
ok

# --- openssl verify with our CRL
suido ca crl --dir "$CA" --out crl1.pem >/dev/null
v=$(openssl verify -CAfile "$CA/ca.crt" -crl_check -CRLfile crl1.pem srv.crt cli.crt rev.crt app.crt 2>&1) ||
	die "fresh certificates refused: $v"
openssl verify -CAfile "$CA/ca.crt" -purpose sslserver srv.crt >/dev/null || die "srv not sslserver"
openssl verify -CAfile "$CA/ca.crt" -purpose sslclient cli.crt >/dev/null || die "cli not sslclient"
! openssl verify -CAfile "$CA/ca.crt" -purpose sslclient srvonly.crt >/dev/null 2>&1 ||
	die "server-only certificate passed as sslclient"
ok

serial=$(sed -n 's/^serial = //p' rev.out)
suido ca revoke --dir "$CA" --serial "$serial" --reason keyCompromise >/dev/null
[ "$(status suido ca revoke --dir "$CA" --serial "$serial")" = 69 ] || die "second revoke not 69"
suido ca crl --dir "$CA" --days 7 --out crl2.pem >/dev/null
crltext=$(openssl crl -in crl2.pem -noout -text)
grep -qF "Serial Number: $serial" <<<"$crltext" || die "CRL does not list $serial"
grep -qF "Key Compromise" <<<"$crltext" || die "CRL lacks the reason"
[ "$(openssl crl -in crl1.pem -noout -crlnumber)" = "crlNumber=0x01" ] || die "first CRL number"
[ "$(openssl crl -in crl2.pem -noout -crlnumber)" = "crlNumber=0x02" ] || die "second CRL number"
openssl crl -in crl2.pem -noout -CAfile "$CA/ca.crt" 2>&1 | grep -q "verify OK" || die "CRL signature"
v=$(openssl verify -CAfile "$CA/ca.crt" -crl_check -CRLfile crl2.pem rev.crt 2>&1) && die "revoked certificate accepted"
grep -q "certificate revoked" <<<"$v" || die "revoked certificate refused for another reason: $v"
openssl verify -CAfile "$CA/ca.crt" -crl_check -CRLfile crl2.pem srv.crt cli.crt >/dev/null ||
	die "other certificates refused with the new CRL"
ok

# --- a certificate from another CA
suido ca init --dir "$tmp/other" --cn "Suido Interop Root" >/dev/null
suido ca issue --dir "$tmp/other" --profile gateway --use tls-client --cn intruder --out intruder >/dev/null
! openssl verify -CAfile "$CA/ca.crt" intruder.crt >/dev/null 2>&1 || die "foreign certificate accepted"
ok

# --- TLS on loopback: openssl s_server with our server certificate, demanding a
# client certificate from our CA and checking it against our CRL.
handshake() { # client-prefix CAfile-for-client; sets hs_client, hs_server logs, returns s_client status
	: >srv.log
	timeout 30 openssl s_server -accept 127.0.0.1:0 -naccept 1 -www -cert srv.crt -key srv.key \
		-CAfile "$CA/ca.crt" -Verify 1 -verify_return_error -crl_check -CRL crl2.pem \
		>srv.log 2>&1 &
	spid=$!
	local port= i
	for i in $(seq 100); do
		port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' srv.log)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || die "s_server did not start: $(cat srv.log)"
	local st=0
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 30 openssl s_client -connect "127.0.0.1:$port" \
		-cert "$1.crt" -key "$1.key" -CAfile "$2" -verify_return_error \
		-verify_ip 127.0.0.1 -ign_eof >cli.log 2>&1 || st=$?
	wait "$spid" 2>/dev/null || true
	spid=
	return "$st"
}
handshake cli "$CA/ca.crt" || die "TLS handshake failed: $(tail -5 cli.log) / $(tail -5 srv.log)"
grep -q "Verify return code: 0 (ok)" cli.log || die "client did not verify the server"
grep -q "HTTP/1.0 200 ok" cli.log || die "no answer over TLS"
grep -q "depth=0 OU = gateway, CN = gw-001" srv.log || die "server did not see the client certificate"
! grep -q "verify error" srv.log || die "server verify error: $(cat srv.log)"
ok

! handshake rev "$CA/ca.crt" || ! grep -q "HTTP/1.0 200 ok" cli.log || die "revoked client served"
grep -q "certificate revoked" srv.log || die "server did not refuse the revoked client: $(cat srv.log)"
! handshake srvonly "$CA/ca.crt" || ! grep -q "HTTP/1.0 200 ok" cli.log ||
	die "server-only certificate served as client"
grep -q "unsuitable certificate purpose" srv.log || die "server did not refuse srvonly: $(cat srv.log)"
! handshake cli "$tmp/other/ca.crt" || die "client trusted a server from the wrong CA"
ok

# --- exit statuses
[ "$(status suido ca)" = 64 ] || die "no subcommand"
[ "$(status suido ca frob)" = 64 ] || die "unknown subcommand"
[ "$(status suido ca issue --dir "$CA" --cn x)" = 64 ] || die "missing options"
[ "$(status suido ca issue --dir "$CA" --profile nope --use tls-client --cn x --out n1)" = 64 ] ||
	die "bad profile"
[ "$(status suido ca issue --dir "$CA" --profile gateway --use tls-client --cn "" --out n2)" = 65 ] ||
	die "empty cn"
[ "$(status suido ca issue --dir "$CA" --profile gateway --use tls-client --cn x --days 0 --out n3)" = 65 ] ||
	die "zero days"
[ "$(status suido ca issue --dir "$CA" --profile gateway --use tls-client --cn x --out cli)" = 65 ] ||
	die "overwrote cli.key"
[ "$(status suido ca issue --dir "$tmp/none" --profile gateway --use tls-client --cn x --out n4)" = 69 ] ||
	die "missing CA"
[ "$(status suido ca revoke --dir "$CA" --serial 0BADC0DE)" = 69 ] || die "unknown serial"
[ "$(status suido ca revoke --dir "$CA" --serial zz)" = 65 ] || die "bad serial"
[ "$(status suido ca revoke --dir "$CA" --serial 01 --reason bogus)" = 64 ] || die "bad reason"
for sub in init issue revoke crl; do
	suido ca "$sub" --help | grep -q "^usage: suido ca $sub" || die "$sub --help"
done
ok

echo "$pass passed, 0 failed"
