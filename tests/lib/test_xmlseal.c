/* Tests for the XML data profile's signing and encryption (xmlseal.h): round
 * trips at every AES size, the unencrypted rest of the document left byte for
 * byte, and a refusal (never a crash) for every tampering: flipped bits in
 * signed content, SignatureValue and CipherValue, wrong keys, signature
 * wrapping, a removed signature, duplicate Ids, a key smuggled in KeyInfo,
 * DTDs, size caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "suido/error.h"
#include "suido/xmlseal.h"

static EVP_PKEY *g_sender, *g_recipient, *g_attacker;
static X509 *g_sender_cert, *g_attacker_cert;

/* libxml2's own serialization of this document is the document itself, so
 * byte comparisons are meaningful. */
static const char DOC[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<Envelope xmlns:x=\"urn:suido:x\">\n"
	"  <Header>\n"
	"    <From>配水池</From>\n"
	"    <!-- a comment -->\n"
	"  </Header>\n"
	"  <Body>\n"
	"    <Item x:kind=\"level\">4.5</Item>\n"
	"    <Item x:kind=\"flow\"><![CDATA[1 < 2 & 3]]></Item>\n"
	"  </Body>\n"
	"  <Trailer>end</Trailer>\n"
	"</Envelope>\n";

static const char DOC_NS[] =
	"<?xml version=\"1.0\"?>\n"
	"<p:Profile xmlns:p=\"urn:suido:profile\" xmlns=\"urn:suido:data\">\n"
	"  <Meta>gw1</Meta>\n"
	"  <Data><v>1.25</v></Data>\n"
	"</p:Profile>\n";

static X509 *self_signed(EVP_PKEY *k, const char *cn)
{
	X509 *c = X509_new();
	X509_NAME *name;

	if (!c || !X509_set_version(c, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(c), 1) ||
	    !X509_gmtime_adj(X509_getm_notBefore(c), -60) ||
	    !X509_gmtime_adj(X509_getm_notAfter(c), 3600) || !X509_set_pubkey(c, k))
		goto fail;
	name = X509_get_subject_name(c);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_issuer_name(c, name) || !X509_sign(c, k, EVP_sha256()))
		goto fail;
	return c;
fail:
	X509_free(c);
	return NULL;
}

static int group_setup(void **state)
{
	g_sender = EVP_RSA_gen(2048);
	g_recipient = EVP_RSA_gen(2048);
	g_attacker = EVP_RSA_gen(2048);
	if (!g_sender || !g_recipient || !g_attacker)
		return -1;
	g_sender_cert = self_signed(g_sender, "sender");
	g_attacker_cert = self_signed(g_attacker, "attacker");
	return g_sender_cert && g_attacker_cert ? 0 : -1;
}

static int group_teardown(void **state)
{
	EVP_PKEY_free(g_sender);
	EVP_PKEY_free(g_recipient);
	EVP_PKEY_free(g_attacker);
	X509_free(g_sender_cert);
	X509_free(g_attacker_cert);
	xmlseal_global_cleanup();
	return 0;
}

/* ---- helpers ---- */

static char *seal(const char *doc, int bits, const char *sign_xpath, const char *enc_xpath)
{
	char *out = NULL, err[256];
	size_t outlen = 0;

	int rc = xmlseal_seal(doc, strlen(doc), g_sender, g_sender_cert, sign_xpath, g_recipient,
			      bits, enc_xpath, NULL, &out, &outlen, err, sizeof err);
	if (rc != SUIDO_OK)
		fail_msg("seal: %s", err);
	assert_non_null(out);
	assert_int_equal(strlen(out), outlen);
	return out;
}

static char *sign(const char *doc, EVP_PKEY *key, X509 *cert, const char *xpath)
{
	char *out = NULL, err[256];
	size_t outlen = 0;

	int rc = xmlseal_sign(doc, strlen(doc), key, cert, xpath, NULL, &out, &outlen, err,
			      sizeof err);
	if (rc != SUIDO_OK)
		fail_msg("sign: %s", err);
	return out;
}

static int verify(const char *doc, EVP_PKEY *pub, const char *xpath, char *err, size_t errlen)
{
	return xmlseal_verify(doc, strlen(doc), pub, xpath, NULL, err, errlen);
}

static int open_doc(const char *doc, EVP_PKEY *priv, EVP_PKEY *pub, const char *xpath,
		    char **out)
{
	char err[256];
	size_t outlen;
	char *o = NULL;
	int rc = xmlseal_open(doc, strlen(doc), priv, pub, xpath, NULL, &o, &outlen, err,
			      sizeof err);

	if (rc == SUIDO_OK)
		assert_non_null(o);
	else
		assert_null(o);
	if (out)
		*out = o;
	else
		free(o);
	return rc;
}

/* s with [from, from+n) replaced by ins; malloc'ed. */
static char *splice(const char *s, size_t from, size_t n, const char *ins)
{
	size_t len = strlen(s), il = strlen(ins);
	char *r = malloc(len - n + il + 1);

	assert_non_null(r);
	memcpy(r, s, from);
	memcpy(r + from, ins, il);
	memcpy(r + from + il, s + from + n, len - from - n + 1);
	return r;
}

static char *replace(const char *s, const char *what, const char *with)
{
	const char *p = strstr(s, what);

	assert_non_null(p);
	return splice(s, (size_t)(p - s), strlen(what), with);
}

/* Flips one base64 character a few characters into the content of the
 * nth (0-based) occurrence of tag. */
static char *flip_b64(const char *s, const char *tag, int nth)
{
	const char *p = s;
	char *r;
	size_t at;

	for (int i = 0; i <= nth; i++) {
		p = strstr(i ? p + 1 : p, tag);
		assert_non_null(p);
	}
	at = (size_t)(p - s) + strlen(tag) + 10;
	r = strdup(s);
	assert_non_null(r);
	r[at] = r[at] == 'A' ? 'B' : 'A';
	return r;
}

/* The Id value sign() gave the element starting at tag ("<Body"). */
static char *id_of(const char *s, const char *tag)
{
	const char *p = strstr(s, tag), *q, *e;

	assert_non_null(p);
	q = strstr(p, " Id=\"");
	assert_non_null(q);
	q += 5;
	e = strchr(q, '"');
	return strndup(q, (size_t)(e - q));
}

/* Removes the ds:Signature element and the Id attributes sign() added. */
static char *unsign(const char *s)
{
	char *r = strdup(s), *p, *e;

	assert_non_null(r);
	p = strstr(r, "<ds:Signature");
	if (p) {
		e = strstr(p, "</ds:Signature>");
		assert_non_null(e);
		memmove(p, e + 15, strlen(e + 15) + 1);
	}
	while ((p = strstr(r, " Id=\"xs-")) != NULL) {
		e = strchr(p + 5, '"');
		memmove(p, e + 1, strlen(e + 1) + 1);
	}
	return r;
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* ---- round trips ---- */

static void round_trip(int bits)
{
	char alg[64], *sealed, *opened = NULL, *plain, err[256];

	sealed = seal(DOC, bits, "//Body", "//Body");
	snprintf(alg, sizeof alg, "xmlenc#aes%d-cbc\"", bits);
	assert_non_null(strstr(sealed, alg));
	assert_non_null(strstr(sealed, "xmlenc#rsa-oaep-mgf1p\""));
	assert_non_null(strstr(sealed, "EncryptedData"));
	assert_null(strstr(sealed, "4.5"));
	assert_null(strstr(sealed, "<Body"));
	/* the rest stays readable, the signature included */
	assert_non_null(strstr(sealed, "    <From>配水池</From>\n    <!-- a comment -->\n"));
	assert_non_null(strstr(sealed, "<Trailer>end</Trailer>"));
	assert_non_null(strstr(sealed, "<ds:SignatureValue>"));

	assert_int_equal(open_doc(sealed, g_recipient, g_sender, "//Body", &opened), SUIDO_OK);
	assert_int_equal(verify(opened, g_sender, "//Body", err, sizeof err), SUIDO_OK);
	plain = unsign(opened);
	assert_string_equal(plain, DOC);
	free(plain);
	free(opened);
	free(sealed);
}

static void test_round_trip_128(void **state) { round_trip(128); }
static void test_round_trip_192(void **state) { round_trip(192); }
static void test_round_trip_256(void **state) { round_trip(256); }

static void test_rest_unchanged(void **state)
{
	char *enc = NULL, *dec = NULL, err[256];
	size_t enclen, declen;
	const char *b = strstr(DOC, "<Body>"), *be = strstr(DOC, "</Body>") + 7;
	const char *e, *ee;

	assert_int_equal(xmlseal_encrypt(DOC, strlen(DOC), g_recipient, 256, "//Body", NULL, &enc,
					 &enclen, err, sizeof err),
			 SUIDO_OK);
	e = strstr(enc, "<EncryptedData");
	ee = strstr(enc, "</EncryptedData>");
	assert_non_null(e);
	assert_non_null(ee);
	ee += strlen("</EncryptedData>");
	/* byte for byte before and after the replaced element */
	assert_int_equal(e - enc, b - DOC);
	assert_memory_equal(enc, DOC, (size_t)(b - DOC));
	assert_string_equal(ee, be);

	assert_int_equal(xmlseal_decrypt(enc, enclen, g_recipient, NULL, &dec, &declen, err,
					 sizeof err),
			 SUIDO_OK);
	assert_string_equal(dec, DOC);
	assert_int_equal(declen, strlen(DOC));
	free(dec);
	free(enc);
}

static void test_sign_verify(void **state)
{
	char err[256], *s, *s2;

	s = sign(DOC, g_sender, g_sender_cert, "//Body");
	assert_non_null(strstr(s, "<ds:X509Certificate>"));
	assert_non_null(strstr(s, "xml-exc-c14n#\""));
	assert_non_null(strstr(s, "xmldsig-more#rsa-sha256\""));
	assert_non_null(strstr(s, "xmlenc#sha256\""));
	assert_null(strstr(s, "enveloped-signature"));
	assert_int_equal(count(s, "<ds:Reference "), 1);
	/* the signature is the document element's last child */
	assert_non_null(strstr(s, "</ds:Signature></Envelope>"));
	assert_int_equal(verify(s, g_sender, "//Body", err, sizeof err), SUIDO_OK);
	assert_int_equal(verify(s, g_sender, "//Body/Item", err, sizeof err), SUIDO_OK);
	assert_int_equal(verify(s, g_sender, "//Header", err, sizeof err), SUIDO_ERR_SIGNATURE);
	assert_non_null(strstr(err, "not signed"));
	assert_int_equal(verify(s, g_sender, "//Nothing", err, sizeof err), SUIDO_ERR_SIGNATURE);
	assert_int_equal(verify(s, g_sender, "//Body[", err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(verify(s, g_sender, "//@x:kind", err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(verify(s, g_sender, "//Item/@Id", err, sizeof err), SUIDO_ERR_SIGNATURE);
	/* signing twice is refused */
	assert_int_equal(xmlseal_sign(s, strlen(s), g_sender, NULL, "//Body", NULL, &s2, NULL, err,
				      sizeof err),
			 SUIDO_ERR_INVALID);
	free(s);

	/* the document element: enveloped-signature, everything but the
	 * signature itself is covered */
	s = sign(DOC, g_sender, NULL, "/*");
	assert_non_null(strstr(s, "enveloped-signature"));
	assert_null(strstr(s, "<ds:KeyInfo"));
	assert_int_equal(verify(s, g_sender, "/*", err, sizeof err), SUIDO_OK);
	assert_int_equal(verify(s, g_sender, "//Header/From", err, sizeof err), SUIDO_OK);
	assert_int_equal(verify(s, g_sender, "//ds:SignatureValue", err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	s2 = replace(s, "<Trailer>end", "<Trailer>End");
	assert_int_equal(verify(s2, g_sender, "/*", err, sizeof err), SUIDO_ERR_SIGNATURE);
	free(s2);
	free(s);

	/* several elements, one Reference each; existing Ids are kept */
	s = sign(DOC_NS, g_sender, NULL, "/*/*[local-name()='Meta'] | //*[local-name()='Data']");
	assert_int_equal(count(s, "<ds:Reference "), 2);
	/* (the signature itself is a child of the document element too) */
	assert_int_equal(verify(s, g_sender, "/*/*", err, sizeof err), SUIDO_ERR_SIGNATURE);
	assert_int_equal(verify(s, g_sender, "/*/*[not(self::ds:Signature)]", err, sizeof err),
			 SUIDO_OK);
	free(s);
	s2 = replace(DOC, "<Body>", "<Body Id=\"body-1\">");
	s = sign(s2, g_sender, NULL, "//Body");
	assert_non_null(strstr(s, "URI=\"#body-1\""));
	assert_int_equal(verify(s, g_sender, "//Body", err, sizeof err), SUIDO_OK);
	free(s);
	free(s2);
}

static void test_namespaced_and_multiple(void **state)
{
	char *sealed, *opened = NULL, *plain, err[256], *enc = NULL, *dec = NULL;
	size_t n;

	sealed = seal(DOC_NS, 192, "//*[local-name()='Data']", "/*/*[local-name()='Data']");
	assert_null(strstr(sealed, "1.25"));
	assert_non_null(strstr(sealed, "<Meta>gw1</Meta>"));
	assert_int_equal(open_doc(sealed, g_recipient, g_sender, "//*[local-name()='Data']", &opened),
			 SUIDO_OK);
	plain = unsign(opened);
	assert_string_equal(plain, DOC_NS);
	free(plain);
	free(opened);
	free(sealed);

	/* two elements: two EncryptedData, each with its own EncryptedKey */
	sealed = seal(DOC, 128, "//Item", "//Item");
	assert_int_equal(count(sealed, "<EncryptedData "), 2);
	assert_int_equal(count(sealed, "<EncryptedKey "), 2);
	assert_int_equal(count(sealed, "<ds:Reference "), 2);
	assert_int_equal(open_doc(sealed, g_recipient, g_sender, "//Item", NULL), SUIDO_OK);
	free(sealed);

	/* encrypting an encrypted document would nest EncryptedData */
	assert_int_equal(xmlseal_encrypt(DOC, strlen(DOC), g_recipient, 128, "//Body", NULL, &enc,
					 &n, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(xmlseal_encrypt(enc, n, g_recipient, 128, "/*", NULL, &dec, &n, err,
					 sizeof err),
			 SUIDO_ERR_INVALID);
	assert_null(dec);
	free(enc);
	enc = NULL;

	/* a match inside another match is encrypted with it */
	assert_int_equal(xmlseal_encrypt(DOC, strlen(DOC), g_recipient, 128, "//Item | //Body",
					 NULL, &enc, &n, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(count(enc, "<EncryptedData "), 1);
	assert_int_equal(xmlseal_decrypt(enc, n, g_recipient, NULL, &dec, &n, err, sizeof err),
			 SUIDO_OK);
	assert_string_equal(dec, DOC);
	free(dec);
	free(enc);

	/* the whole document: sign it, then encrypt the document element */
	sealed = seal(DOC, 256, "/*", "/*");
	assert_null(strstr(sealed, "Header"));
	assert_int_equal(open_doc(sealed, g_recipient, g_sender, "/*", &opened), SUIDO_OK);
	plain = unsign(opened);
	assert_string_equal(plain, DOC);
	free(plain);
	free(opened);
	free(sealed);
}

/* A Shift_JIS document comes out UTF-8 (xmlsec encrypts UTF-8; see
 * xmlseal.c parse_doc) with its text intact. */
static void test_shift_jis(void **state)
{
	static const char sjis[] = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\n"
				   "<Envelope><Body><From>\x94\x7a\x90\x85\x92\x72</From></Body>"
				   "<Trailer>\x94\x7a</Trailer></Envelope>\n";
	char *sealed, *opened = NULL;

	sealed = seal(sjis, 128, "//Body", "//Body");
	assert_non_null(strstr(sealed, "encoding=\"UTF-8\""));
	assert_non_null(strstr(sealed, "<Trailer>配</Trailer>"));
	assert_int_equal(open_doc(sealed, g_recipient, g_sender, "//Body", &opened), SUIDO_OK);
	assert_non_null(strstr(opened, "<From>配水池</From>"));
	free(opened);
	free(sealed);
}

/* ---- negative matrix ---- */

static void test_tampered_signature(void **state)
{
	char err[256], *s, *t;

	s = sign(DOC, g_sender, g_sender_cert, "//Body");
	t = replace(s, ">4.5<", ">4.6<");
	assert_int_equal(verify(t, g_sender, "//Body", err, sizeof err), SUIDO_ERR_SIGNATURE);
	assert_non_null(strstr(err, "digest"));
	free(t);
	t = replace(s, "1 < 2", "1 < 3");
	assert_int_equal(verify(t, g_sender, "//Body", err, sizeof err), SUIDO_ERR_SIGNATURE);
	free(t);
	t = flip_b64(s, "<ds:SignatureValue>", 0);
	assert_int_equal(verify(t, g_sender, "//Body", err, sizeof err), SUIDO_ERR_SIGNATURE);
	assert_non_null(strstr(err, "SignatureValue"));
	free(t);
	t = flip_b64(s, "<ds:DigestValue>", 0);
	assert_int_equal(verify(t, g_sender, "//Body", err, sizeof err), SUIDO_ERR_SIGNATURE);
	free(t);
	/* wrong key */
	assert_int_equal(verify(s, g_attacker, "//Body", err, sizeof err), SUIDO_ERR_SIGNATURE);
	assert_int_equal(verify(s, g_recipient, "//Body", err, sizeof err), SUIDO_ERR_SIGNATURE);
	/* removed signature */
	t = unsign(s);
	assert_int_equal(verify(t, g_sender, "//Body", err, sizeof err), SUIDO_ERR_SIGNATURE);
	assert_non_null(strstr(err, "no ds:Signature"));
	free(t);
	/* the algorithm in SignedInfo swapped for a weaker one */
	t = replace(s, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
		    "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
	assert_int_equal(verify(t, g_sender, "//Body", err, sizeof err), SUIDO_ERR_SIGNATURE);
	assert_non_null(strstr(err, "disabled"));
	free(t);
	free(s);
}

static void test_key_in_keyinfo_ignored(void **state)
{
	char err[256];
	/* The attacker signs a forged body and ships his own certificate. */
	char *forged = replace(DOC, ">4.5<", ">0.0<");
	char *s = sign(forged, g_attacker, g_attacker_cert, "//Body");

	assert_non_null(strstr(s, "<ds:X509Certificate>"));
	assert_int_equal(verify(s, g_attacker, "//Body", err, sizeof err), SUIDO_OK);
	assert_int_equal(verify(s, g_sender, "//Body", err, sizeof err), SUIDO_ERR_SIGNATURE);
	free(s);
	free(forged);
}

static void test_signature_wrapping(void **state)
{
	char err[256], *s, *id, *body, *fake, *attack, *moved, *tmp;
	const char *b, *be, *hc;

	s = sign(DOC, g_sender, NULL, "//Body");
	id = id_of(s, "<Body");
	b = strstr(s, "<Body");
	be = strstr(s, "</Body>") + 7;
	body = strndup(b, (size_t)(be - b));

	/* 1. the signed Body moved under a wrapper in the Header, an unsigned
	 *    Body (no Id) where the receiver looks for it */
	hc = strstr(s, "</Header>");
	moved = malloc(strlen(body) + 32);
	sprintf(moved, "<Wrapper>%s</Wrapper>", body);
	tmp = splice(s, (size_t)(b - s), (size_t)(be - b), "<Body><Item>9.9</Item></Body>");
	attack = splice(tmp, (size_t)(hc - s), 0, moved);
	free(tmp);
	/* xmlsec alone is satisfied: the signed Body is intact ... */
	assert_int_equal(verify(attack, g_sender, "//Wrapper/Body", err, sizeof err), SUIDO_OK);
	/* ... but the element the receiver reads is not the signed one */
	assert_int_equal(verify(attack, g_sender, "/Envelope/Body", err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	assert_non_null(strstr(err, "not signed"));
	assert_int_equal(verify(attack, g_sender, "//Body", err, sizeof err), SUIDO_ERR_SIGNATURE);
	free(attack);

	/* 2. the same, the unsigned Body carrying the signed Body's Id */
	fake = malloc(strlen(id) + 64);
	sprintf(fake, "<Body Id=\"%s\"><Item>9.9</Item></Body>", id);
	tmp = splice(s, (size_t)(b - s), (size_t)(be - b), fake);
	attack = splice(tmp, (size_t)(hc - s), 0, moved);
	free(tmp);
	assert_int_equal(verify(attack, g_sender, "/Envelope/Body", err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	assert_non_null(strstr(err, "duplicate Id"));
	free(attack);

	/* 3. the fake first in document order, the signed one after it */
	tmp = splice(s, (size_t)(b - s), 0, fake);
	attack = replace(tmp, "<Trailer>", "<Trailer><X>");
	free(tmp);
	tmp = replace(attack, "end</Trailer>", "end</X></Trailer>");
	assert_int_equal(verify(tmp, g_sender, "/Envelope/Body", err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	free(tmp);
	free(attack);

	/* 4. a duplicated Id anywhere, even on an unrelated element */
	{
		char note[128];

		snprintf(note, sizeof note, "<Trailer Id=\"%s\">", id);
		attack = replace(s, "<Trailer>", note);
		assert_int_equal(verify(attack, g_sender, "//Body", err, sizeof err),
				 SUIDO_ERR_SIGNATURE);
		assert_non_null(strstr(err, "duplicate Id"));
		free(attack);
	}
	/* and an xml:id with the same value */
	{
		char note[128];

		snprintf(note, sizeof note, "<Trailer xml:id=\"%s\">", id);
		attack = replace(s, "<Trailer>", note);
		assert_int_equal(verify(attack, g_sender, "//Body", err, sizeof err),
				 SUIDO_ERR_SIGNATURE);
		free(attack);
	}

	/* 5. the signed Body copied into a ds:Object of the signature, the
	 *    visible one replaced */
	tmp = splice(s, (size_t)(b - s), (size_t)(be - b), "<Body><Item>9.9</Item></Body>");
	moved = realloc(moved, strlen(body) + 64);
	sprintf(moved, "<ds:Object>%s</ds:Object></ds:Signature>", body);
	attack = replace(tmp, "</ds:Signature>", moved);
	assert_int_equal(verify(attack, g_sender, "/Envelope/Body", err, sizeof err),
			 SUIDO_ERR_SIGNATURE);
	free(attack);
	free(tmp);

	free(moved);
	free(fake);
	free(body);
	free(id);
	free(s);
}

static void test_tampered_ciphertext(void **state)
{
	char *sealed, *t;
	int rc;

	sealed = seal(DOC, 128, "//Body", "//Body");
	/* the session key's CipherValue (inside EncryptedKey) */
	t = flip_b64(sealed, "<CipherValue>", 0);
	assert_int_equal(open_doc(t, g_recipient, g_sender, "//Body", NULL), SUIDO_ERR_DECRYPT);
	free(t);
	/* the data's CipherValue: garbage plaintext or bad padding (decrypt),
	 * or by chance well-formed but then unsigned (signature) */
	t = flip_b64(sealed, "<CipherValue>", 1);
	rc = open_doc(t, g_recipient, g_sender, "//Body", NULL);
	assert_true(rc == SUIDO_ERR_DECRYPT || rc == SUIDO_ERR_SIGNATURE);
	free(t);
	/* the last block (padding) */
	{
		char *p = strstr(strstr(sealed, "<CipherValue>") + 1, "<CipherValue>");
		char *e = strstr(p, "</CipherValue>");

		t = strdup(sealed);
		t[e - sealed - 4] = t[e - sealed - 4] == 'A' ? 'B' : 'A';
		rc = open_doc(t, g_recipient, g_sender, "//Body", NULL);
		assert_true(rc == SUIDO_ERR_DECRYPT || rc == SUIDO_ERR_SIGNATURE);
		free(t);
	}
	/* wrong private key; wrong sender key */
	assert_int_equal(open_doc(sealed, g_attacker, g_sender, "//Body", NULL), SUIDO_ERR_DECRYPT);
	assert_int_equal(open_doc(sealed, g_recipient, g_attacker, "//Body", NULL),
			 SUIDO_ERR_SIGNATURE);
	/* signature removed from the sealed document */
	t = unsign(sealed);
	assert_int_equal(open_doc(t, g_recipient, g_sender, "//Body", NULL), SUIDO_ERR_SIGNATURE);
	free(t);
	/* a downgrade of the key transport to PKCS#1 v1.5 */
	t = replace(sealed, "xmlenc#rsa-oaep-mgf1p", "xmlenc#rsa-1_5");
	assert_int_equal(open_doc(t, g_recipient, g_sender, "//Body", NULL), SUIDO_ERR_DECRYPT);
	free(t);
	/* nothing encrypted at all */
	assert_int_equal(open_doc(DOC, g_recipient, g_sender, "//Body", NULL), SUIDO_ERR_DECRYPT);
	free(sealed);
}

static void test_parse_safety(void **state)
{
	static const char *bad[] = {
		"<?xml version=\"1.0\"?>\n<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;\">]>"
		"<Envelope><Body>&c;</Body></Envelope>",
		"<!DOCTYPE x SYSTEM \"http://127.0.0.1:9/x.dtd\"><Envelope><Body/></Envelope>",
		"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><Envelope><Body>&e;</Body></Envelope>",
		"<Envelope><Body>&undefined;</Body></Envelope>",
		"",
		"not xml",
		"<Envelope><Body></Envelope>",
	};
	char err[256], *out = (char *)1, *deep;
	size_t outlen = 7;
	struct xmlseal_limits lim = { 0 };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(verify(bad[i], g_sender, "//Body", err, sizeof err),
				 SUIDO_ERR_INVALID);
		assert_int_equal(xmlseal_decrypt(bad[i], strlen(bad[i]), g_recipient, NULL, &out,
						 &outlen, err, sizeof err),
				 SUIDO_ERR_INVALID);
		assert_null(out);
		assert_int_equal(xmlseal_sign(bad[i], strlen(bad[i]), g_sender, NULL, "//Body", NULL,
					      &out, &outlen, err, sizeof err),
				 SUIDO_ERR_INVALID);
	}
	assert_int_equal(verify(bad[0], g_sender, "//Body", err, sizeof err), SUIDO_ERR_INVALID);
	assert_non_null(strstr(err, "DOCTYPE"));

	/* size and element caps */
	lim.max_bytes = 64;
	assert_int_equal(xmlseal_verify(DOC, strlen(DOC), g_sender, "//Body", &lim, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	lim.max_bytes = 0;
	lim.max_elements = 1;
	assert_int_equal(xmlseal_sign(DOC, strlen(DOC), g_sender, NULL, "//Item", &lim, &out,
				      &outlen, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	assert_int_equal(xmlseal_encrypt(DOC, strlen(DOC), g_recipient, 128, "//Item", &lim, &out,
					 &outlen, err, sizeof err),
			 SUIDO_ERR_LIMIT);

	/* nesting deeper than libxml2's limit */
	deep = malloc(600 * 7 + 1);
	deep[0] = '\0';
	for (int i = 0; i < 600; i++)
		strcat(deep, "<a>");
	for (int i = 0; i < 600; i++)
		strcat(deep, "</a>");
	assert_int_equal(verify(deep, g_sender, "//a", err, sizeof err), SUIDO_ERR_INVALID);
	free(deep);

	/* selection and key errors */
	assert_int_equal(xmlseal_sign(DOC, strlen(DOC), g_sender, NULL, "//Nothing", NULL, &out,
				      &outlen, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(xmlseal_sign(DOC, strlen(DOC), g_sender, NULL, "//Item/text()", NULL,
				      &out, &outlen, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(xmlseal_sign(DOC, strlen(DOC), g_sender, g_attacker_cert, "//Body", NULL,
				      &out, &outlen, err, sizeof err),
			 SUIDO_ERR_INVALID);
	{
		/* a public key cannot sign (a DER round trip drops the private part) */
		unsigned char *der = NULL;
		const unsigned char *p;
		int derlen = i2d_PUBKEY(g_sender, &der);
		EVP_PKEY *pub;

		assert_true(derlen > 0);
		p = der;
		pub = d2i_PUBKEY(NULL, &p, derlen);
		OPENSSL_free(der);
		assert_non_null(pub);
		assert_int_equal(xmlseal_sign(DOC, strlen(DOC), pub, NULL, "//Body", NULL, &out,
					      &outlen, err, sizeof err),
				 SUIDO_ERR_INVALID);
		EVP_PKEY_free(pub);
	}
	assert_int_equal(xmlseal_encrypt(DOC, strlen(DOC), g_recipient, 512, "//Body", NULL, &out,
					 &outlen, err, sizeof err),
			 SUIDO_ERR_INVALID);
	{
		EVP_PKEY *small = EVP_RSA_gen(1024);
		EVP_PKEY *ec = EVP_EC_gen("P-256");

		assert_non_null(small);
		assert_non_null(ec);
		assert_int_equal(xmlseal_encrypt(DOC, strlen(DOC), small, 128, "//Body", NULL, &out,
						 &outlen, err, sizeof err),
				 SUIDO_ERR_INVALID);
		assert_int_equal(verify(DOC, ec, "//Body", err, sizeof err), SUIDO_ERR_INVALID);
		EVP_PKEY_free(small);
		EVP_PKEY_free(ec);
	}
	assert_null(out);
}

/* Bytes of a sealed and of a signed document (the document element signed)
 * mutated one at a time: each result is a clean refusal, or the change is in
 * the only places no signature covers: the XML declaration, a comment, the
 * (ignored) KeyInfo. */
static void test_mutations_never_crash(void **state)
{
	char *sealed = seal(DOC, 128, "/*", "//Body");
	char *signed_doc = sign(DOC, g_sender, NULL, "/*");
	const char *docs[] = { sealed, signed_doc };
	char err[256];

	for (int d = 0; d < 2; d++) {
		const char *doc = docs[d];
		size_t len = strlen(doc);
		size_t decl_end = (size_t)(strchr(doc, '\n') - doc);
		size_t c0 = (size_t)(strstr(doc, "<!--") - doc), c1 = (size_t)(strstr(doc, "-->") - doc) + 3;
		/* KeyInfo is neither signed nor read (the caller's key only) */
		const char *k0 = strstr(doc, "<ds:KeyInfo>"), *k1 = strstr(doc, "</ds:KeyInfo>");
		char *m = malloc(len + 1);

		assert_non_null(m);
		for (size_t i = 0; i < len; i += 3) {
			int rc;

			memcpy(m, doc, len + 1);
			m[i] ^= (char)(1 << (i % 8));
			if (!m[i])
				m[i] = 1;
			rc = d == 0 ? open_doc(m, g_recipient, g_sender, "/*", NULL)
				    : xmlseal_verify(m, len, g_sender, "/*", NULL, err, sizeof err);
			if (rc == SUIDO_OK && !(i < decl_end || (i >= c0 && i < c1) ||
						(k0 && doc + i > k0 && doc + i < k1)))
				fail_msg("doc %d: flipping byte %zu was accepted: %.40s|%.20s", d, i,
					 doc + (i > 40 ? i - 40 : 0), doc + i);
			/* truncated */
			rc = xmlseal_verify(doc, i, g_sender, "/*", NULL, err, sizeof err);
			assert_int_not_equal(rc, SUIDO_OK);
		}
		free(m);
	}
	free(signed_doc);
	free(sealed);
}

static void *seal_open_loop(void *arg)
{
	int bits = *(int *)arg;

	for (int i = 0; i < 3; i++) {
		char *out = NULL, *opened = NULL, err[256];
		size_t n;

		if (xmlseal_seal(DOC, strlen(DOC), g_sender, g_sender_cert, "//Body", g_recipient,
				 bits, "//Body", NULL, &out, &n, err, sizeof err) != SUIDO_OK ||
		    xmlseal_open(out, n, g_recipient, g_sender, "//Body", NULL, &opened, &n, err,
				 sizeof err) != SUIDO_OK) {
			free(out);
			return (void *)1;
		}
		free(out);
		free(opened);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	int bits[4] = { 128, 192, 256, 128 };
	void *res;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, seal_open_loop, &bits[i]), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &res), 0);
		assert_null(res);
	}
}

/* Runs last: the global state can be released and comes back on next use. */
static void test_cleanup_and_reinit(void **state)
{
	char *sealed;

	xmlseal_global_cleanup();
	xmlseal_global_cleanup();
	sealed = seal(DOC, 128, "//Body", "//Body");
	assert_int_equal(open_doc(sealed, g_recipient, g_sender, "//Body", NULL), SUIDO_OK);
	free(sealed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_128),
		cmocka_unit_test(test_round_trip_192),
		cmocka_unit_test(test_round_trip_256),
		cmocka_unit_test(test_rest_unchanged),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_namespaced_and_multiple),
		cmocka_unit_test(test_shift_jis),
		cmocka_unit_test(test_tampered_signature),
		cmocka_unit_test(test_key_in_keyinfo_ignored),
		cmocka_unit_test(test_signature_wrapping),
		cmocka_unit_test(test_tampered_ciphertext),
		cmocka_unit_test(test_parse_safety),
		cmocka_unit_test(test_mutations_never_crash),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_cleanup_and_reinit),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
