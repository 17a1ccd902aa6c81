#!/usr/bin/env bash
# The XML data profile's signing and encryption (lib/xmlseal.c) against the
# independent xmlsec1 CLI, both directions: xmlsec1 --sign/--encrypt (with the
# templates of docs/protocol-xml.md) -> we verify/decrypt; we sign/encrypt/seal
# -> xmlsec1 --verify/--decrypt accept; plus what we must refuse even when
# xmlsec1 produced it (weaker algorithms, XPath transforms, PKCS#1 v1.5 key
# transport, a foreign key). Our side is the `suido` command (sign, verify,
# encrypt, decrypt, seal, open --format xml). Keys come from the openssl CLI.
set -euo pipefail
BLD=${SUIDO_BINARY_DIR:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
failed=0

# Our side is the real `suido` command. This wrapper keeps the test's own
# vocabulary (sign|verify|encrypt|decrypt|seal|open with --key, --cert, --pub,
# --xpath, --enc-xpath, --bits) and maps suido's exit statuses to the test's:
# 0 success, 1 a clean refusal (65 bad input, 66 signature, 67 decryption,
# 69 certificate), 2 anything else.
suido_xml() {
	local op=$1 args=(--format xml) p
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--key) args+=(--key "$2") ;;
		--cert) args+=(--cert "$2") ;;
		--pub)
			# suido names the other party by certificate only
			p=$2; [[ $p == *.pub ]] && p=${p%.pub}.crt
			if [ "$op" = verify ] || [ "$op" = open ]; then args+=(--from "$p"); else args+=(--to "$p"); fi ;;
		--xpath) args+=(--select "$2") ;;
		--enc-xpath) args+=(--encrypt-select "$2") ;;
		--bits) args+=(--aes "$2") ;;
		*) echo "suido_xml: unknown option $1" >&2; return 2 ;;
		esac
		shift 2
	done
	local st=0
	"$BLD/suido" "$op" "${args[@]}" || st=$?
	case $st in
	0) return 0 ;;
	65 | 66 | 67 | 69) return 1 ;;
	*) return 2 ;;
	esac
}
TOOL=suido_xml

for who in sender recipient attacker; do
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$who.key" -out "$T/$who.crt" \
		-subj "/CN=$who" -days 1 2>/dev/null
done
openssl pkey -in "$T/sender.key" -pubout -out "$T/sender.pub" 2>/dev/null

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; failed=$((failed + 1)); [ -s "$T/err" ] && sed 's/^/    /' "$T/err" | head -5; return 0; }
# expect_ok NAME CMD...: CMD must succeed.
expect_ok() { local n=$1; shift; if "$@" >/dev/null 2>"$T/err"; then ok; else bad "$n"; fi; }
# expect_refused NAME CMD...: our tool must exit 1 (a clean refusal).
expect_refused() {
	local n=$1 st=0; shift
	"$@" >/dev/null 2>"$T/err" || st=$?
	if [ "$st" -eq 1 ]; then ok; else bad "$n (exit $st, wanted 1)"; fi
}

cat >"$T/doc.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Envelope>
  <Header>
    <From>配水池</From>
  </Header>
  <Body>
    <Item kind="level">4.5</Item>
  </Body>
</Envelope>
EOF
sed 's/<Body>/<Body Id="body-1">/' "$T/doc.xml" >"$T/doc-id.xml"

RSA_SHA256=http://www.w3.org/2001/04/xmldsig-more#rsa-sha256
SHA256=http://www.w3.org/2001/04/xmlenc#sha256
EXC=http://www.w3.org/2001/10/xml-exc-c14n#
ENV=http://www.w3.org/2000/09/xmldsig#enveloped-signature

# sign_tmpl SIGALG DIGEST URI KEYINFO TRANSFORMS...: doc-id.xml with a
# Signature template as the document element's last child.
sign_tmpl() {
	local sigalg=$1 digest=$2 uri=$3 keyinfo=$4 tr=""
	shift 4
	for a in "$@"; do tr="$tr<ds:Transform Algorithm=\"$a\"/>"; done
	sed '$d' "$T/doc-id.xml"
	cat <<EOF
<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
<ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="$EXC"/>
<ds:SignatureMethod Algorithm="$sigalg"/>
<ds:Reference URI="$uri">
<ds:Transforms>$tr</ds:Transforms>
<ds:DigestMethod Algorithm="$digest"/>
<ds:DigestValue/>
</ds:Reference>
</ds:SignedInfo>
<ds:SignatureValue/>$keyinfo
</ds:Signature></Envelope>
EOF
}

# enc_tmpl AES KEYTRANSPORT: an EncryptedData template (Type Element).
enc_tmpl() {
	cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Type="http://www.w3.org/2001/04/xmlenc#Element">
  <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#$1"/>
  <ds:KeyInfo>
    <xenc:EncryptedKey>
      <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#$2"/>
      <xenc:CipherData><xenc:CipherValue/></xenc:CipherData>
    </xenc:EncryptedKey>
  </ds:KeyInfo>
  <xenc:CipherData><xenc:CipherValue/></xenc:CipherData>
</xenc:EncryptedData>
EOF
}

xs_sign() { # TEMPLATE OUT [extra xmlsec1 args]
	local in=$1 out=$2; shift 2
	xmlsec1 --sign --privkey-pem "$T/sender.key" --id-attr:Id Body "$@" --output "$out" "$in" 2>"$T/err"
}

### xmlsec1 signs -> we verify
sign_tmpl $RSA_SHA256 $SHA256 "#body-1" "" $EXC >"$T/t1.xml"
xs_sign "$T/t1.xml" "$T/x1.xml"
expect_ok "xmlsec1 --sign, we verify" "$TOOL" verify --pub "$T/sender.crt" --xpath //Body <"$T/x1.xml"
expect_ok "xmlsec1 --sign, we verify (public key PEM)" "$TOOL" verify --pub "$T/sender.pub" --xpath /Envelope/Body <"$T/x1.xml"
expect_refused "xmlsec1 --sign, unsigned element required" "$TOOL" verify --pub "$T/sender.crt" --xpath //Header <"$T/x1.xml"
expect_refused "xmlsec1 --sign, wrong key" "$TOOL" verify --pub "$T/attacker.crt" --xpath //Body <"$T/x1.xml"

sign_tmpl $RSA_SHA256 $SHA256 "#body-1" "<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>" $EXC >"$T/t2.xml"
xmlsec1 --sign --privkey-pem "$T/sender.key,$T/sender.crt" --id-attr:Id Body --output "$T/x2.xml" "$T/t2.xml" 2>"$T/err"
if grep -q "<ds:X509Certificate>MII" "$T/x2.xml"; then ok; else bad "xmlsec1 wrote no certificate"; fi
expect_ok "xmlsec1 --sign with X509Data, we verify" "$TOOL" verify --pub "$T/sender.crt" --xpath //Body <"$T/x2.xml"

sign_tmpl $RSA_SHA256 $SHA256 "" "" $ENV $EXC >"$T/t3.xml"
xs_sign "$T/t3.xml" "$T/x3.xml"
expect_ok "xmlsec1 --sign URI=\"\" enveloped, we verify" "$TOOL" verify --pub "$T/sender.crt" --xpath "/* | //Body" <"$T/x3.xml"

# what xmlsec1 happily signs but this profile refuses
sign_tmpl http://www.w3.org/2000/09/xmldsig#rsa-sha1 $SHA256 "#body-1" "" $EXC >"$T/t4.xml"
xs_sign "$T/t4.xml" "$T/x4.xml"
expect_refused "rsa-sha1 signature" "$TOOL" verify --pub "$T/sender.crt" --xpath //Body <"$T/x4.xml"
sign_tmpl $RSA_SHA256 http://www.w3.org/2000/09/xmldsig#sha1 "#body-1" "" $EXC >"$T/t5.xml"
xs_sign "$T/t5.xml" "$T/x5.xml"
expect_refused "sha1 digest" "$TOOL" verify --pub "$T/sender.crt" --xpath //Body <"$T/x5.xml"
sign_tmpl $RSA_SHA256 $SHA256 "#body-1" "" http://www.w3.org/TR/2001/REC-xml-c14n-20010315 >"$T/t6.xml"
xs_sign "$T/t6.xml" "$T/x6.xml"
expect_refused "inclusive c14n transform" "$TOOL" verify --pub "$T/sender.crt" --xpath //Body <"$T/x6.xml"
sign_tmpl $RSA_SHA256 $SHA256 "#body-1" "" $EXC | sed 's#<ds:Transforms>#<ds:Transforms><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>not(self::Item)</ds:XPath></ds:Transform>#' >"$T/t7.xml"
xs_sign "$T/t7.xml" "$T/x7.xml"
expect_refused "XPath filter transform" "$TOOL" verify --pub "$T/sender.crt" --xpath //Body <"$T/x7.xml"
sign_tmpl $RSA_SHA256 $SHA256 "#xpointer(id('body-1'))" "" $EXC >"$T/t8.xml"
xs_sign "$T/t8.xml" "$T/x8.xml"
expect_refused "XPointer reference URI" "$TOOL" verify --pub "$T/sender.crt" --xpath //Body <"$T/x8.xml"
xmlsec1 --sign --privkey-pem "$T/attacker.key,$T/attacker.crt" --id-attr:Id Body --output "$T/x9.xml" "$T/t2.xml" 2>"$T/err"
expect_refused "attacker's key in X509Data" "$TOOL" verify --pub "$T/sender.crt" --xpath //Body <"$T/x9.xml"

### we sign -> xmlsec1 verifies
"$TOOL" sign --key "$T/sender.key" --xpath //Body <"$T/doc.xml" >"$T/s1.xml" 2>"$T/err" || bad "we sign"
expect_ok "we sign, xmlsec1 --verify" xmlsec1 --verify --pubkey-cert-pem "$T/sender.crt" --id-attr:Id Body "$T/s1.xml"
st=0; xmlsec1 --verify --pubkey-cert-pem "$T/attacker.crt" --id-attr:Id Body "$T/s1.xml" >/dev/null 2>&1 || st=$?
if [ "$st" -ne 0 ]; then ok; else bad "xmlsec1 --verify accepted a wrong key"; fi
"$TOOL" sign --key "$T/sender.key" --cert "$T/sender.crt" --xpath "//Header | //Body" <"$T/doc.xml" >"$T/s2.xml" 2>"$T/err" || bad "we sign two elements"
expect_ok "we sign two elements with X509Data, xmlsec1 --verify --trusted-pem" \
	xmlsec1 --verify --trusted-pem "$T/sender.crt" --id-attr:Id Header --id-attr:Id Body "$T/s2.xml"
"$TOOL" sign --key "$T/sender.key" --xpath "/*" <"$T/doc.xml" >"$T/s3.xml" 2>"$T/err" || bad "we sign the root"
expect_ok "we sign the document element, xmlsec1 --verify" \
	xmlsec1 --verify --pubkey-cert-pem "$T/sender.crt" --id-attr:Id Envelope "$T/s3.xml"

### xmlsec1 encrypts -> we decrypt; we encrypt -> xmlsec1 decrypts
for bits in 128 192 256; do
	enc_tmpl aes$bits-cbc rsa-oaep-mgf1p >"$T/et$bits.xml"
	xmlsec1 --encrypt --pubkey-cert-pem "$T/recipient.crt" --session-key aes-$bits \
		--xml-data "$T/doc.xml" --node-name Body --output "$T/xe$bits.xml" "$T/et$bits.xml" 2>"$T/err" ||
		bad "xmlsec1 --encrypt aes-$bits"
	if "$TOOL" decrypt --key "$T/recipient.key" <"$T/xe$bits.xml" >"$T/xd$bits.xml" 2>"$T/err" &&
		cmp -s "$T/xd$bits.xml" "$T/doc.xml"; then ok; else bad "xmlsec1 --encrypt aes-$bits, we decrypt"; fi
	expect_refused "xmlsec1 --encrypt aes-$bits, wrong key" "$TOOL" decrypt --key "$T/attacker.key" <"$T/xe$bits.xml"

	"$TOOL" encrypt --pub "$T/recipient.crt" --bits $bits --xpath //Body <"$T/doc.xml" >"$T/we$bits.xml" 2>"$T/err" ||
		bad "we encrypt aes-$bits"
	if grep -q "xmlenc#aes$bits-cbc" "$T/we$bits.xml" && ! grep -qF ">4.5<" "$T/we$bits.xml"; then
		ok
	else
		bad "we encrypt aes-$bits: content"
	fi
	if xmlsec1 --decrypt --privkey-pem "$T/recipient.key" --output "$T/wd$bits.xml" "$T/we$bits.xml" 2>"$T/err" &&
		cmp -s "$T/wd$bits.xml" "$T/doc.xml"; then ok; else bad "we encrypt aes-$bits, xmlsec1 --decrypt"; fi
done
# xmlsec1 can do PKCS#1 v1.5 key transport; we refuse it (Bleichenbacher)
enc_tmpl aes128-cbc rsa-1_5 >"$T/et15.xml"
xmlsec1 --encrypt --pubkey-cert-pem "$T/recipient.crt" --session-key aes-128 \
	--xml-data "$T/doc.xml" --node-name Body --output "$T/xe15.xml" "$T/et15.xml" 2>"$T/err" || bad "xmlsec1 --encrypt rsa-1_5"
expect_refused "rsa-1_5 key transport" "$TOOL" decrypt --key "$T/recipient.key" <"$T/xe15.xml"

### the whole thing: sign then encrypt, both ways
"$TOOL" seal --key "$T/sender.key" --cert "$T/sender.crt" --pub "$T/recipient.crt" --bits 256 \
	--xpath //Body <"$T/doc.xml" >"$T/sealed.xml" 2>"$T/err" || bad "we seal"
if xmlsec1 --decrypt --privkey-pem "$T/recipient.key" --output "$T/sealed-d.xml" "$T/sealed.xml" 2>"$T/err" &&
	xmlsec1 --verify --pubkey-cert-pem "$T/sender.crt" --id-attr:Id Body "$T/sealed-d.xml" 2>"$T/err"; then
	ok
else
	bad "we seal, xmlsec1 --decrypt then --verify"
fi
expect_ok "we seal, we open" "$TOOL" open --key "$T/recipient.key" --pub "$T/sender.crt" --xpath //Body <"$T/sealed.xml"

enc_tmpl aes192-cbc rsa-oaep-mgf1p >"$T/et.xml"
if xmlsec1 --encrypt --pubkey-cert-pem "$T/recipient.crt" --session-key aes-192 \
	--xml-data "$T/x1.xml" --node-name Body --output "$T/xsealed.xml" "$T/et.xml" 2>"$T/err"; then
	expect_ok "xmlsec1 signs and encrypts, we open" "$TOOL" open --key "$T/recipient.key" \
		--pub "$T/sender.crt" --xpath //Body <"$T/xsealed.xml"
	expect_refused "xmlsec1 signs and encrypts, we open with the wrong sender key" "$TOOL" open \
		--key "$T/recipient.key" --pub "$T/attacker.crt" --xpath //Body <"$T/xsealed.xml"
else
	bad "xmlsec1 --encrypt of a signed document"
fi

echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
