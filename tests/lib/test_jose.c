/* Tests for JWS/JWE sealing (jose.h): round trips of every function, the
 * limits, and the negative matrix — a bit flipped in each part of a JWS and of
 * a JWE, every single-character change and every truncation of both, wrong
 * and swapped keys, alg "none", HS256 keyed with the public key, a valid
 * signature under another algorithm, unsupported alg/enc/zip/crit, extra dots
 * — each refused with the code jose.h documents. Keys are generated here. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjose/base64.h>
#include <cjose/util.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "suido/error.h"
#include "suido/jose.h"

static EVP_PKEY *pk_a, *pk_b;               /* signer (gateway), recipient (platform) */
static struct jose_key *a, *b, *c, *d;      /* c: another 2048-bit key, d: 3072 bits */
static struct jose_key *a_pub, *b_pub;      /* the public halves of a and b */

static const char PAYLOAD[] = "{\"profile\":\"suido.data/1\",\"id\":\"gw1:1:1\",\"items\":[],"
			      "\"points\":[],\"name\":\"配水池水位(m)\"}";

static struct jose_key *mk(EVP_PKEY *pk)
{
	struct jose_key *k = NULL;
	char err[256];

	assert_int_equal(jose_key_from_pkey(pk, &k, err, sizeof err), SUIDO_OK);
	assert_non_null(k);
	return k;
}

static EVP_PKEY *public_of(EVP_PKEY *pk)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int n = i2d_PUBKEY(pk, &der);
	EVP_PKEY *pub;

	assert_true(n > 0);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, n);
	assert_non_null(pub);
	OPENSSL_free(der);
	return pub;
}

static int setup(void **state)
{
	EVP_PKEY *pc = EVP_RSA_gen(2048), *pd = EVP_RSA_gen(3072), *pa_pub, *pb_pub;

	pk_a = EVP_RSA_gen(2048);
	pk_b = EVP_RSA_gen(2048);
	if (!pk_a || !pk_b || !pc || !pd)
		return -1;
	pa_pub = public_of(pk_a);
	pb_pub = public_of(pk_b);
	a = mk(pk_a);
	b = mk(pk_b);
	c = mk(pc);
	d = mk(pd);
	a_pub = mk(pa_pub);
	b_pub = mk(pb_pub);
	EVP_PKEY_free(pc);
	EVP_PKEY_free(pd);
	EVP_PKEY_free(pa_pub);
	EVP_PKEY_free(pb_pub);
	return 0;
}

static int teardown(void **state)
{
	jose_key_free(a);
	jose_key_free(b);
	jose_key_free(c);
	jose_key_free(d);
	jose_key_free(a_pub);
	jose_key_free(b_pub);
	EVP_PKEY_free(pk_a);
	EVP_PKEY_free(pk_b);
	return 0;
}

/* ---- token surgery ---- */

static char *b64u(const void *data, size_t n)
{
	char *s = NULL, *out;
	size_t slen = 0;

	assert_true(cjose_base64url_encode(data, n, &s, &slen, NULL));
	out = strndup(s, slen);
	cjose_get_dealloc()(s);
	assert_non_null(out);
	return out;
}

/* Part idx of tok (0-based), as text. */
static char *part_text(const char *tok, int idx)
{
	const char *s = tok, *e;

	for (int i = 0; i < idx; i++) {
		s = strchr(s, '.');
		assert_non_null(s);
		s++;
	}
	e = strchr(s, '.');
	return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

static uint8_t *part_bytes(const char *tok, int idx, size_t *n)
{
	char *t = part_text(tok, idx);
	uint8_t *raw = NULL, *out;

	assert_true(cjose_base64url_decode(t, strlen(t), &raw, n, NULL));
	out = malloc(*n + 1);
	memcpy(out, raw, *n);
	out[*n] = 0;
	cjose_get_dealloc()(raw);
	free(t);
	return out;
}

/* tok with part idx replaced by the text repl. */
static char *with_part(const char *tok, int idx, const char *repl)
{
	char *out = malloc(strlen(tok) + strlen(repl) + 1), *o = out;
	const char *s = tok;
	int i = 0;

	while (*s || i == idx) {
		const char *e = strchr(s, '.');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (i == idx) {
			o += sprintf(o, "%s", repl);
		} else {
			memcpy(o, s, n);
			o += n;
		}
		if (!e)
			break;
		*o++ = '.';
		s = e + 1;
		i++;
	}
	*o = 0;
	return out;
}

/* tok with bit 0 of byte at of part idx flipped (at < 0: from the end). */
static char *flip_part(const char *tok, int idx, long at)
{
	size_t n;
	uint8_t *raw = part_bytes(tok, idx, &n);
	char *enc, *out;

	assert_true(n > 0);
	raw[at < 0 ? (long)n + at : at] ^= 1;
	enc = b64u(raw, n);
	out = with_part(tok, idx, enc);
	free(raw);
	free(enc);
	return out;
}

/* ---- call wrappers that check the no-output-on-failure contract ---- */

static int verify_rc(const char *tok, const struct jose_key *k)
{
	char *pl = (char *)1, *kid = (char *)1, err[256] = "";
	size_t n = 7;
	int rc = jose_verify(tok, strlen(tok), k, 0, &pl, &n, &kid, err, sizeof err);

	if (rc != SUIDO_OK) {
		assert_null(pl);
		assert_null(kid);
		assert_int_equal(n, 0);
		assert_true(err[0] != '\0');
	}
	free(pl);
	free(kid);
	return rc;
}

static int decrypt_rc(const char *tok, const struct jose_key *k)
{
	char *pt = (char *)1, err[256] = "";
	size_t n = 7;
	int rc = jose_decrypt(tok, strlen(tok), k, 0, &pt, &n, err, sizeof err);

	if (rc != SUIDO_OK) {
		assert_null(pt);
		assert_int_equal(n, 0);
		assert_true(err[0] != '\0');
	}
	free(pt);
	return rc;
}

static int open_rc(const char *tok, const struct jose_key *rcpt, const struct jose_key *signer)
{
	char *pl = (char *)1, *kid = (char *)1, err[256] = "";
	size_t n = 7;
	int rc = jose_open(tok, strlen(tok), rcpt, signer, NULL, 0, &pl, &n, &kid, err,
			   sizeof err);

	if (rc != SUIDO_OK) {
		assert_null(pl);
		assert_null(kid);
		assert_int_equal(n, 0);
	}
	free(pl);
	free(kid);
	return rc;
}

static char *sign_ok(const void *p, size_t n, const struct jose_key *k, const char *kid)
{
	char *jws = NULL, err[256];

	assert_int_equal(jose_sign(p, n, k, kid, 0, &jws, err, sizeof err), SUIDO_OK);
	assert_non_null(jws);
	return jws;
}

static char *encrypt_ok(const void *p, size_t n, const struct jose_key *k, const char *cty)
{
	char *jwe = NULL, err[256];

	assert_int_equal(jose_encrypt(p, n, k, cty, 0, &jwe, err, sizeof err), SUIDO_OK);
	assert_non_null(jwe);
	return jwe;
}

static char *seal_ok(const void *p, size_t n, const char *kid)
{
	char *jwe = NULL, err[256];

	assert_int_equal(jose_seal(p, n, a, kid, b_pub, 0, &jwe, err, sizeof err), SUIDO_OK);
	assert_non_null(jwe);
	return jwe;
}

/* A JWS over header json and payload "x", with a signature made by f. */
static char *jws_with(const char *header_json, const char *sig_b64u)
{
	char *h = b64u(header_json, strlen(header_json)), *p = b64u("x", 1);
	char *out = malloc(strlen(h) + strlen(p) + strlen(sig_b64u) + 3);

	sprintf(out, "%s.%s.%s", h, p, sig_b64u);
	free(h);
	free(p);
	return out;
}

/* ---- round trips ---- */

static void test_key_conversion(void **state)
{
	struct jose_key *k = (struct jose_key *)1;
	EVP_PKEY *ec = EVP_EC_gen("P-256"), *small = EVP_RSA_gen(1024);
	char err[256];

	assert_true(jose_key_has_private(a));
	assert_false(jose_key_has_private(a_pub));
	assert_int_equal(jose_key_from_pkey(ec, &k, err, sizeof err), SUIDO_ERR_INVALID);
	assert_null(k);
	assert_non_null(strstr(err, "not an RSA key"));
	assert_int_equal(jose_key_from_pkey(small, &k, err, sizeof err), SUIDO_ERR_INVALID);
	assert_non_null(strstr(err, "1024 bits"));
	assert_int_equal(jose_key_from_pkey(NULL, &k, err, sizeof err), SUIDO_ERR_INVALID);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(small);
	jose_key_free(NULL);
}

static void test_sign_verify(void **state)
{
	const uint8_t bin[] = {0, 1, 2, 0xff, 0, '.', 0};
	char *jws, *pl, *kid, err[256];
	uint8_t *hdr;
	size_t n, hn;

	jws = sign_ok(PAYLOAD, strlen(PAYLOAD), a, "gw1");
	hdr = part_bytes(jws, 0, &hn);
	assert_string_equal((char *)hdr, "{\"alg\":\"RS256\",\"kid\":\"gw1\"}");
	free(hdr);
	assert_int_equal(jose_verify(jws, strlen(jws), a_pub, 0, &pl, &n, &kid, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(n, strlen(PAYLOAD));
	assert_string_equal(pl, PAYLOAD);
	assert_string_equal(kid, "gw1");
	free(pl);
	free(kid);
	/* kid out is optional; the private key verifies too */
	assert_int_equal(jose_verify(jws, strlen(jws), a, 0, &pl, &n, NULL, err, sizeof err),
			 SUIDO_OK);
	free(pl);
	free(jws);

	/* no kid, binary payload with NULs */
	jws = sign_ok(bin, sizeof bin, a, NULL);
	hdr = part_bytes(jws, 0, &hn);
	assert_string_equal((char *)hdr, "{\"alg\":\"RS256\"}");
	free(hdr);
	assert_int_equal(jose_verify(jws, strlen(jws), a_pub, 0, &pl, &n, &kid, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(n, sizeof bin);
	assert_memory_equal(pl, bin, sizeof bin);
	assert_int_equal(pl[n], 0);
	assert_null(kid);
	free(pl);
	free(jws);

	/* empty payload */
	jws = sign_ok(NULL, 0, a, NULL);
	assert_int_equal(jose_verify(jws, strlen(jws), a_pub, 0, &pl, &n, NULL, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(n, 0);
	assert_string_equal(pl, "");
	free(pl);
	free(jws);

	/* signing needs the private key; kid is bounded */
	assert_int_equal(jose_sign("x", 1, a_pub, NULL, 0, &jws, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_null(jws);
	char longkid[JOSE_KID_MAX + 2];
	memset(longkid, 'k', sizeof longkid - 1);
	longkid[sizeof longkid - 1] = 0;
	assert_int_equal(jose_sign("x", 1, a, longkid, 0, &jws, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(jose_sign("x", 1, a, "", 0, &jws, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(jose_sign("x", 1, a, "\xff\xfe", 0, &jws, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(jose_sign("x", 1, a, "a\nb", 0, &jws, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(jose_encrypt("x", 1, b, "J\tWT", 0, &jws, err, sizeof err),
			 SUIDO_ERR_INVALID);
}

static void test_encrypt_decrypt(void **state)
{
	static uint8_t big[100000];
	char *j1, *j2, *pt, err[256];
	uint8_t *hdr;
	size_t n, hn;

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	j1 = encrypt_ok(PAYLOAD, strlen(PAYLOAD), b_pub, NULL);
	hdr = part_bytes(j1, 0, &hn);
	assert_non_null(strstr((char *)hdr, "\"RSA-OAEP\""));
	assert_non_null(strstr((char *)hdr, "\"A128CBC-HS256\""));
	assert_null(strstr((char *)hdr, "cty"));
	free(hdr);
	assert_int_equal(jose_decrypt(j1, strlen(j1), b, 0, &pt, &n, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, strlen(PAYLOAD));
	assert_string_equal(pt, PAYLOAD);
	free(pt);

	/* a fresh content key and IV per call */
	j2 = encrypt_ok(PAYLOAD, strlen(PAYLOAD), b_pub, NULL);
	for (int i = 1; i <= 4; i++) {
		char *p1 = part_text(j1, i), *p2 = part_text(j2, i);
		assert_string_not_equal(p1, p2);
		free(p1);
		free(p2);
	}
	free(j1);
	free(j2);

	/* cty, empty and large plaintexts, whole blocks */
	j1 = encrypt_ok(NULL, 0, b_pub, "JWT");
	hdr = part_bytes(j1, 0, &hn);
	assert_non_null(strstr((char *)hdr, "\"JWT\""));
	free(hdr);
	assert_int_equal(jose_decrypt(j1, strlen(j1), b, 0, &pt, &n, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, 0);
	free(pt);
	free(j1);
	j1 = encrypt_ok(big, sizeof big, b, NULL);
	assert_int_equal(jose_decrypt(j1, strlen(j1), b, 0, &pt, &n, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, sizeof big);
	assert_memory_equal(pt, big, sizeof big);
	free(pt);
	free(j1);
	j1 = encrypt_ok(big, 32, b_pub, NULL);
	assert_int_equal(jose_decrypt(j1, strlen(j1), b, 0, &pt, &n, err, sizeof err), SUIDO_OK);
	assert_int_equal(n, 32);
	free(pt);

	/* decryption needs the private key */
	assert_int_equal(jose_decrypt(j1, strlen(j1), b_pub, 0, &pt, &n, err, sizeof err),
			 SUIDO_ERR_INVALID);
	free(j1);
}

struct directory {
	const char *kid;
	const struct jose_key *key;
	char seen[16]; /* the kid the last lookup was asked for, "(null)" for NULL */
	int calls;
};

static int find(void *ctx, const char *kid, const struct jose_key **key)
{
	struct directory *dir = ctx;

	dir->calls++;
	snprintf(dir->seen, sizeof dir->seen, "%s", kid ? kid : "(null)");
	if (!kid || strcmp(kid, dir->kid) != 0)
		return SUIDO_ERR_NOTFOUND;
	*key = dir->key;
	return SUIDO_OK;
}

static void test_seal_open(void **state)
{
	struct directory dir = {"gw1", NULL, "", 0};
	struct jose_signer_lookup lk = {find, &dir};
	char *jwe, *inner, *pl, *kid, err[256];
	uint8_t *hdr;
	size_t n, hn;

	dir.key = a_pub;
	jwe = seal_ok(PAYLOAD, strlen(PAYLOAD), "gw1");
	hdr = part_bytes(jwe, 0, &hn);
	assert_non_null(strstr((char *)hdr, "\"JWT\""));
	free(hdr);
	assert_int_equal(jose_open(jwe, strlen(jwe), b, a_pub, NULL, 0, &pl, &n, &kid, err,
				   sizeof err),
			 SUIDO_OK);
	assert_string_equal(pl, PAYLOAD);
	assert_int_equal(n, strlen(PAYLOAD));
	assert_string_equal(kid, "gw1");
	free(pl);
	free(kid);

	/* the nesting is a plain JWS inside a plain JWE */
	assert_int_equal(jose_decrypt(jwe, strlen(jwe), b, 0, &inner, &n, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(verify_rc(inner, a_pub), SUIDO_OK);

	/* jose_open_jws hands out that same JWS, which verifies on its own */
	{
		char *jws = NULL;
		size_t jn = 0;
		assert_int_equal(jose_open_jws(jwe, strlen(jwe), b, a_pub, NULL, 0, &pl, &hn, NULL,
					       &jws, &jn, err, sizeof err),
				 SUIDO_OK);
		assert_string_equal(pl, PAYLOAD);
		assert_int_equal(jn, n);
		assert_int_equal(strlen(jws), jn);
		assert_memory_equal(jws, inner, n);
		assert_int_equal(verify_rc(jws, a_pub), SUIDO_OK);
		free(pl);
		free(jws);
		/* nothing is handed out when the signature does not verify */
		jws = (char *)"x";
		assert_int_equal(jose_open_jws(jwe, strlen(jwe), b, b, NULL, 0, &pl, &hn, NULL,
					       &jws, &jn, err, sizeof err),
				 SUIDO_ERR_SIGNATURE);
		assert_null(jws);
		assert_int_equal(jn, 0);
		assert_null(pl);
	}
	free(inner);

	/* the signer chosen by kid */
	assert_int_equal(jose_open(jwe, strlen(jwe), b, NULL, &lk, 0, &pl, &n, &kid, err,
				   sizeof err),
			 SUIDO_OK);
	assert_string_equal(pl, PAYLOAD);
	assert_string_equal(kid, "gw1");
	assert_string_equal(dir.seen, "gw1");
	free(pl);
	free(kid);
	/* a lookup's refusal is passed on; kid absent is asked for as NULL */
	dir.kid = "gw2";
	assert_int_equal(jose_open(jwe, strlen(jwe), b, NULL, &lk, 0, &pl, &n, &kid, err,
				   sizeof err),
			 SUIDO_ERR_NOTFOUND);
	assert_null(pl);
	assert_null(kid);
	free(jwe);
	jwe = seal_ok("x", 1, NULL);
	dir.calls = 0;
	assert_int_equal(jose_open(jwe, strlen(jwe), b, NULL, &lk, 0, &pl, &n, &kid, err,
				   sizeof err),
			 SUIDO_ERR_NOTFOUND);
	assert_int_equal(dir.calls, 1);
	assert_string_equal(dir.seen, "(null)");
	/* exactly one of signer and lookup */
	assert_int_equal(jose_open(jwe, strlen(jwe), b, a_pub, &lk, 0, &pl, &n, &kid, err,
				   sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(jose_open(jwe, strlen(jwe), b, NULL, NULL, 0, &pl, &n, &kid, err,
				   sizeof err),
			 SUIDO_ERR_INVALID);
	assert_int_equal(open_rc(jwe, b, a_pub), SUIDO_OK);
	free(jwe);
}

static void test_limits(void **state)
{
	static char big[20000];
	char *tok = NULL, *pl, err[256];
	size_t n, max;

	memset(big, 'x', sizeof big);
	assert_int_equal(jose_sign(big, sizeof big, a, NULL, 1000, &tok, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	assert_null(tok);
	assert_int_equal(jose_encrypt(big, sizeof big, b, NULL, 1000, &tok, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	assert_int_equal(jose_seal(big, sizeof big, a, NULL, b, 1000, &tok, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	assert_null(tok);

	/* a token made under max opens under the same max, and not under less */
	tok = seal_ok(big, 1000, "gw1");
	max = strlen(tok);
	free(tok);
	assert_int_equal(jose_seal(big, 1000, a, "gw1", b, max, &tok, err, sizeof err), SUIDO_OK);
	assert_int_equal(jose_open(tok, strlen(tok), b, a, NULL, max, &pl, &n, NULL, err,
				   sizeof err),
			 SUIDO_OK);
	free(pl);
	assert_int_equal(jose_open(tok, strlen(tok), b, a, NULL, max - 1, &pl, &n, NULL, err,
				   sizeof err),
			 SUIDO_ERR_LIMIT);
	assert_int_equal(jose_decrypt(tok, strlen(tok), b, max - 1, &pl, &n, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	free(tok);
	assert_int_equal(jose_seal(big, 1000, a, "gw1", b, max - 1, &tok, err, sizeof err),
			 SUIDO_ERR_LIMIT);
	assert_null(tok);
	tok = sign_ok(big, 100, a, NULL);
	assert_int_equal(jose_verify(tok, strlen(tok), a, strlen(tok) - 1, &pl, &n, NULL, err,
				     sizeof err),
			 SUIDO_ERR_LIMIT);
	free(tok);
}

/* ---- the JWS negative matrix ---- */

static void test_jws_bit_flips(void **state)
{
	char *jws = sign_ok(PAYLOAD, strlen(PAYLOAD), a, "gw1"), *t;
	size_t len = strlen(jws), hn;
	uint8_t *hdr = part_bytes(jws, 0, &hn);
	long kidpos = strstr((char *)hdr, "gw1") - (char *)hdr;

	free(hdr);
	/* header (inside the kid, so that it stays JSON), payload, signature */
	t = flip_part(jws, 0, kidpos + 2);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_SIGNATURE);
	free(t);
	t = flip_part(jws, 1, 10);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_SIGNATURE);
	free(t);
	t = flip_part(jws, 2, 100);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_SIGNATURE);
	free(t);
	t = flip_part(jws, 2, -1);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_SIGNATURE);
	free(t);

	/* every bit of every character: refused, never with another code */
	t = strdup(jws);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int rc;

			t[i] ^= (char)(1 << bit);
			rc = t[i] ? verify_rc(t, a_pub) : SUIDO_ERR_INVALID;
			if (rc != SUIDO_ERR_INVALID && rc != SUIDO_ERR_SIGNATURE)
				fail_msg("char %zu bit %d: rc %d", i, bit, rc);
			t[i] = jws[i];
		}
	}
	free(t);
	free(jws);
}

static void test_jws_refusals(void **state)
{
	char *jws = sign_ok(PAYLOAD, strlen(PAYLOAD), a, "gw1"), *t, *sig;
	size_t len = strlen(jws);
	unsigned char mac[EVP_MAX_MD_SIZE], rs384[512];
	unsigned int maclen = 0;
	size_t rslen = sizeof rs384;
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long pemlen;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	/* wrong key, key of another size, swapped signer */
	assert_int_equal(verify_rc(jws, c), SUIDO_ERR_SIGNATURE);
	assert_int_equal(verify_rc(jws, b_pub), SUIDO_ERR_SIGNATURE);
	assert_int_equal(verify_rc(jws, d), SUIDO_ERR_INVALID);

	/* every truncation */
	t = strdup(jws);
	for (size_t i = 0; i < len; i++) {
		t[i] = 0;
		if (verify_rc(t, a_pub) != SUIDO_ERR_INVALID)
			fail_msg("truncated to %zu: not SUIDO_ERR_INVALID", i);
		t[i] = jws[i];
	}
	free(t);

	/* extra dots, in the middle and at the ends */
	t = malloc(len + 3);
	sprintf(t, "%s.", jws);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_INVALID);
	sprintf(t, ".%s", jws);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_INVALID);
	sprintf(t, "%.20s.%s", jws, jws + 20);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_INVALID);
	assert_int_equal(verify_rc("..", a_pub), SUIDO_ERR_INVALID);
	assert_int_equal(verify_rc("", a_pub), SUIDO_ERR_INVALID);
	free(t);

	/* alg none, with and without a signature */
	sig = part_text(jws, 2);
	t = jws_with("{\"alg\":\"none\"}", "");
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_SIGNATURE);
	free(t);
	t = jws_with("{\"alg\":\"none\"}", sig);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_SIGNATURE);
	free(t);
	t = jws_with("{\"kid\":\"gw1\"}", sig);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_SIGNATURE);
	free(t);
	t = jws_with("{\"alg\":\"rs256\"}", sig);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_SIGNATURE);
	free(t);

	/* HS256 keyed with the public key's PEM: the classic confusion */
	assert_int_equal(PEM_write_bio_PUBKEY(bio, pk_a), 1);
	pemlen = BIO_get_mem_data(bio, &pem);
	{
		char *h = b64u("{\"alg\":\"HS256\"}", 15), *p = b64u("x", 1), *s, *tok;
		char *in = malloc(strlen(h) + strlen(p) + 2);

		sprintf(in, "%s.%s", h, p);
		assert_non_null(HMAC(EVP_sha256(), pem, (int)pemlen, (unsigned char *)in,
				     strlen(in), mac, &maclen));
		s = b64u(mac, maclen);
		tok = jws_with("{\"alg\":\"HS256\"}", s);
		assert_int_equal(verify_rc(tok, a_pub), SUIDO_ERR_SIGNATURE);
		assert_int_equal(verify_rc(tok, a), SUIDO_ERR_SIGNATURE);
		free(tok);
		free(s);

		/* a valid RS384 signature by the right key is still refused */
		free(h);
		h = b64u("{\"alg\":\"RS384\"}", 15);
		sprintf(in, "%s.%s", h, p);
		assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, pk_a), 1);
		assert_int_equal(EVP_DigestSign(md, rs384, &rslen, (unsigned char *)in, strlen(in)),
				 1);
		s = b64u(rs384, rslen);
		tok = jws_with("{\"alg\":\"RS384\"}", s);
		assert_int_equal(verify_rc(tok, a_pub), SUIDO_ERR_SIGNATURE);
		free(tok);
		free(s);
		free(h);
		free(p);
		free(in);
	}

	/* crit, duplicate members, malformed headers and kids */
	t = jws_with("{\"alg\":\"RS256\",\"crit\":[\"b64\"],\"b64\":false}", sig);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_SIGNATURE);
	free(t);
	t = jws_with("{\"alg\":\"RS256\",\"alg\":\"none\"}", sig);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_INVALID);
	free(t);
	t = jws_with("[\"RS256\"]", sig);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_INVALID);
	free(t);
	t = jws_with("{\"alg\":\"RS256\"", sig);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_INVALID);
	free(t);
	t = jws_with("{\"alg\":\"RS256\",\"kid\":7}", sig);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_INVALID);
	free(t);
	t = jws_with("{\"alg\":\"RS256\",\"kid\":\"a\\u0000b\"}", sig);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_INVALID);
	free(t);
	/* well-formed but not the signed header */
	t = jws_with("{\"alg\":\"RS256\",\"kid\":\"gw2\"}", sig);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_SIGNATURE);
	free(t);
	/* padding and the standard alphabet are not base64url */
	t = malloc(len + 2);
	sprintf(t, "%s=", jws);
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_INVALID);
	free(t);
	t = with_part(jws, 1, "eA+/");
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_INVALID);
	free(t);
	/* "eB" decodes like "eA" ('x') with a stray bit: not canonical */
	t = with_part(jws, 1, "eB");
	assert_int_equal(verify_rc(t, a_pub), SUIDO_ERR_INVALID);
	free(t);

	free(sig);
	free(jws);
	EVP_MD_CTX_free(md);
	BIO_free(bio);
}

/* ---- the JWE negative matrix ---- */

static void test_jwe_bit_flips(void **state)
{
	char *jwe = encrypt_ok(PAYLOAD, strlen(PAYLOAD), b_pub, "JWT"), *t;
	size_t len = strlen(jwe), hn;
	uint8_t *hdr = part_bytes(jwe, 0, &hn);
	long ctypos = strstr((char *)hdr, "\"JWT\"") - (char *)hdr;

	free(hdr);
	/* header (the T of JWT: still JSON, but other authenticated data), key,
	 * IV, ciphertext (first, middle and last block), tag */
	t = flip_part(jwe, 0, ctypos + 3);
	assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_DECRYPT);
	free(t);
	t = flip_part(jwe, 1, 17);
	assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_DECRYPT);
	free(t);
	t = flip_part(jwe, 2, 3);
	assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_DECRYPT);
	free(t);
	for (long at = 0; at < 3; at++) {
		t = flip_part(jwe, 3, at == 0 ? 0 : at == 1 ? 40 : -1);
		assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_DECRYPT);
		free(t);
	}
	t = flip_part(jwe, 4, 15);
	assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_DECRYPT);
	free(t);

	/* every character changed (one bit each, the RSA operation is slow):
	 * refused, never with another code */
	t = strdup(jwe);
	for (size_t i = 0; i < len; i++) {
		int rc;

		t[i] ^= (char)(1 << (i % 7));
		rc = decrypt_rc(t, b);
		if (rc != SUIDO_ERR_INVALID && rc != SUIDO_ERR_DECRYPT)
			fail_msg("char %zu: rc %d", i, rc);
		t[i] = jwe[i];
	}
	free(t);
	free(jwe);
}

/* jwe with its protected header replaced by header_json. */
static char *jwe_header(const char *jwe, const char *header_json)
{
	char *h = b64u(header_json, strlen(header_json)), *out = with_part(jwe, 0, h);

	free(h);
	return out;
}

static void test_jwe_refusals(void **state)
{
	char *jwe = encrypt_ok(PAYLOAD, strlen(PAYLOAD), b_pub, NULL), *t;
	size_t len = strlen(jwe);
	static const char *bad_headers[] = {
		"{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}",
		"{\"alg\":\"RSA-OAEP\",\"enc\":\"A256CBC-HS512\"}",
		"{\"alg\":\"RSA-OAEP\"}",
		"{\"alg\":\"RSA1_5\",\"enc\":\"A128CBC-HS256\"}",
		"{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A128CBC-HS256\"}",
		"{\"alg\":\"dir\",\"enc\":\"A128CBC-HS256\"}",
		"{\"alg\":\"A128KW\",\"enc\":\"A128CBC-HS256\"}",
		"{\"alg\":\"none\",\"enc\":\"A128CBC-HS256\"}",
		"{\"enc\":\"A128CBC-HS256\"}",
		"{\"alg\":\"RSA-OAEP\",\"enc\":\"A128CBC-HS256\",\"zip\":\"DEF\"}",
		"{\"alg\":\"RSA-OAEP\",\"enc\":\"A128CBC-HS256\",\"crit\":[\"exp\"],\"exp\":1}",
		"{\"alg\":\"RSA-OAEP\",\"enc\":7}",
	};

	/* wrong key, key of another size, public key only */
	assert_int_equal(decrypt_rc(jwe, c), SUIDO_ERR_DECRYPT);
	assert_int_equal(decrypt_rc(jwe, a), SUIDO_ERR_DECRYPT);
	assert_int_equal(decrypt_rc(jwe, d), SUIDO_ERR_INVALID);
	assert_int_equal(decrypt_rc(jwe, b_pub), SUIDO_ERR_INVALID);
	assert_int_equal(decrypt_rc(jwe, b), SUIDO_OK);

	/* unsupported algorithms and headers */
	for (size_t i = 0; i < sizeof bad_headers / sizeof *bad_headers; i++) {
		t = jwe_header(jwe, bad_headers[i]);
		if (decrypt_rc(t, b) != SUIDO_ERR_DECRYPT)
			fail_msg("header %s: not SUIDO_ERR_DECRYPT", bad_headers[i]);
		free(t);
	}
	/* the right algorithms, but not the authenticated header */
	t = jwe_header(jwe, "{\"alg\":\"RSA-OAEP\",\"enc\":\"A128CBC-HS256\"}");
	assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_DECRYPT);
	free(t);
	t = jwe_header(jwe, "{\"alg\":\"RSA-OAEP\",\"enc\":\"A128CBC-HS256\",\"enc\":\"A256GCM\"}");
	assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_INVALID);
	free(t);
	t = jwe_header(jwe, "\"RSA-OAEP\"");
	assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_INVALID);
	free(t);

	/* every truncation */
	t = strdup(jwe);
	for (size_t i = 0; i < len; i++) {
		t[i] = 0;
		if (decrypt_rc(t, b) != SUIDO_ERR_INVALID)
			fail_msg("truncated to %zu: not SUIDO_ERR_INVALID", i);
		t[i] = jwe[i];
	}
	free(t);
	/* extra dots */
	t = malloc(len + 3);
	sprintf(t, "%s.", jwe);
	assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_INVALID);
	sprintf(t, "%.30s.%s", jwe, jwe + 30);
	assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_INVALID);
	assert_int_equal(decrypt_rc("....", b), SUIDO_ERR_INVALID);
	free(t);

	/* lengths cjose would trust: a short IV (GCM's 12 bytes), a short tag,
	 * ciphertext that is not whole blocks, no ciphertext */
	{
		uint8_t zero[40] = {0};
		char *iv12 = b64u(zero, 12), *tag8 = b64u(zero, 8), *ct20 = b64u(zero, 20);

		t = with_part(jwe, 2, iv12);
		assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_INVALID);
		free(t);
		t = with_part(jwe, 4, tag8);
		assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_INVALID);
		free(t);
		t = with_part(jwe, 3, ct20);
		assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_INVALID);
		free(t);
		t = with_part(jwe, 3, "");
		assert_int_equal(decrypt_rc(t, b), SUIDO_ERR_INVALID);
		free(t);
		free(iv12);
		free(tag8);
		free(ct20);
	}
	free(jwe);
}

static void test_open_refusals(void **state)
{
	char *jwe = seal_ok(PAYLOAD, strlen(PAYLOAD), "gw1"), *t, *jws, *none, *h, *p;

	/* wrong recipient key, swapped signer */
	assert_int_equal(open_rc(jwe, c, a_pub), SUIDO_ERR_DECRYPT);
	assert_int_equal(open_rc(jwe, b, c), SUIDO_ERR_SIGNATURE);
	assert_int_equal(open_rc(jwe, b, b_pub), SUIDO_ERR_SIGNATURE);
	assert_int_equal(open_rc(jwe, b, a_pub), SUIDO_OK);
	/* a bit flipped in each of the five parts */
	for (int i = 0; i < 5; i++) {
		int rc;

		t = flip_part(jwe, i, i == 0 ? -3 : 5);
		rc = open_rc(t, b, a_pub);
		if (rc != SUIDO_ERR_DECRYPT && !(i == 0 && rc == SUIDO_ERR_INVALID))
			fail_msg("part %d flipped: rc %d", i, rc);
		free(t);
	}
	free(jwe);

	/* a JWE without cty JWT; content that is no JWS; alg none inside */
	jws = sign_ok(PAYLOAD, strlen(PAYLOAD), a, "gw1");
	t = encrypt_ok(jws, strlen(jws), b_pub, NULL);
	assert_int_equal(open_rc(t, b, a_pub), SUIDO_ERR_INVALID);
	free(t);
	t = encrypt_ok(jws, strlen(jws), b_pub, "jwt");
	assert_int_equal(open_rc(t, b, a_pub), SUIDO_OK);
	free(t);
	t = encrypt_ok(jws, strlen(jws), b_pub, "JOSE");
	assert_int_equal(open_rc(t, b, a_pub), SUIDO_ERR_INVALID);
	free(t);
	t = encrypt_ok(PAYLOAD, strlen(PAYLOAD), b_pub, "JWT");
	assert_int_equal(open_rc(t, b, a_pub), SUIDO_ERR_INVALID);
	free(t);
	h = b64u("{\"alg\":\"none\",\"kid\":\"gw1\"}", 26);
	p = b64u(PAYLOAD, strlen(PAYLOAD));
	none = malloc(strlen(h) + strlen(p) + 3);
	sprintf(none, "%s.%s.", h, p);
	t = encrypt_ok(none, strlen(none), b_pub, "JWT");
	assert_int_equal(open_rc(t, b, a_pub), SUIDO_ERR_SIGNATURE);
	free(t);
	/* signed by the right key but for nobody: a JWS is not a sealed message */
	assert_int_equal(open_rc(jws, b, a_pub), SUIDO_ERR_INVALID);
	free(none);
	free(h);
	free(p);
	free(jws);
}

/* Keys are shared by the platform's worker threads: seal and open at once
 * with the same jose_keys. */
static void *worker(void *arg)
{
	long failures = 0;

	for (int i = 0; i < 25; i++) {
		char *jwe = NULL, *pl = NULL, *kid = NULL;
		size_t n = 0;

		if (jose_seal(PAYLOAD, strlen(PAYLOAD), a, "gw1", b_pub, 0, &jwe, NULL, 0) ||
		    jose_open(jwe, strlen(jwe), b, a_pub, NULL, 0, &pl, &n, &kid, NULL, 0) ||
		    n != strlen(PAYLOAD) || strcmp(pl, PAYLOAD) || strcmp(kid, "gw1"))
			failures++;
		free(jwe);
		free(pl);
		free(kid);
	}
	return (void *)failures;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	void *ret;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_int_equal((long)ret, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_conversion),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_encrypt_decrypt),
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_jws_bit_flips),
		cmocka_unit_test(test_jws_refusals),
		cmocka_unit_test(test_jwe_bit_flips),
		cmocka_unit_test(test_jwe_refusals),
		cmocka_unit_test(test_open_refusals),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
