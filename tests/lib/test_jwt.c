/* Tests for JSON Web Tokens (jwt.h): sign and verify round trips, every
 * jwt_reason — alg "none", HS256 keyed with our public key PEM, other
 * algorithms, crit, missing and unknown kids, a character changed anywhere
 * in a token, issuer, audience (string and array), exp, nbf and iat with and
 * without leeway, typ, truncations, extra parts, padding, non-canonical
 * base64url, duplicate members — JWK set round trips, skipped and refused
 * JWKs, the limits, the key functions and the at_hash. Tokens the module
 * would never make are built here with OpenSSL directly. Keys are generated
 * here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "suido/error.h"
#include "suido/b64url.h"
#include "suido/jwt.h"

#define NOW INT64_C(1800000000)
#define ISS "https://idp.suido.example"
#define AUD "ap-suido"

static struct jwt_key *k1, *k2;  /* private keys "k1" and "k2" */
static struct jwt_keyset *ks;    /* their public halves */
static EVP_PKEY *pk1;            /* k1 as OpenSSL sees it, for hand-made tokens */
static char *pub1_pem;           /* k1's public key, SubjectPublicKeyInfo PEM */

static int setup(void **state)
{
	char *pem = NULL;
	BIO *bio;
	BUF_MEM *bm;

	(void)state;
	if (jwt_key_generate("k1", 2048, &k1) != SUIDO_OK ||
	    jwt_key_generate("k2", 2048, &k2) != SUIDO_OK || jwt_keyset_create(&ks) != SUIDO_OK ||
	    jwt_keyset_add(ks, k1) != SUIDO_OK || jwt_keyset_add(ks, k2) != SUIDO_OK ||
	    jwt_key_private_pem(k1, &pem) != SUIDO_OK)
		return -1;
	bio = BIO_new_mem_buf(pem, -1);
	pk1 = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	jwt_pem_free(pem);
	if (!pk1)
		return -1;
	bio = BIO_new(BIO_s_mem());
	if (!bio || PEM_write_bio_PUBKEY(bio, pk1) != 1)
		return -1;
	BIO_get_mem_ptr(bio, &bm);
	pub1_pem = strndup(bm->data, bm->length);
	BIO_free(bio);
	return pub1_pem ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	jwt_key_free(k1);
	jwt_key_free(k2);
	jwt_keyset_free(ks);
	EVP_PKEY_free(pk1);
	free(pub1_pem);
	return 0;
}

static struct jwt_expect expect(void)
{
	struct jwt_expect e = {ISS, AUD, NULL, NOW, 0};

	return e;
}

/* Verifies tok against ks and e; returns the reason (and checks the return
 * code matches it). */
static enum jwt_reason check_with(const struct jwt_keyset *set, const char *tok, size_t len,
				  const struct jwt_expect *e)
{
	enum jwt_reason why = (enum jwt_reason)-1;
	json_t *claims = NULL;
	int rc = jwt_verify(set, tok, len, e, &claims, &why);

	if (why == JWT_VALID) {
		assert_int_equal(rc, SUIDO_OK);
		assert_true(json_is_object(claims));
		json_decref(claims);
	} else {
		assert_int_equal(rc, SUIDO_ERR_SIGNATURE);
		assert_null(claims);
	}
	return why;
}

static enum jwt_reason check_e(const char *tok, const struct jwt_expect *e)
{
	return check_with(ks, tok, strlen(tok), e);
}

static enum jwt_reason check(const char *tok)
{
	struct jwt_expect e = expect();

	return check_e(tok, &e);
}

static char *b64(const void *p, size_t n)
{
	size_t cap = 4 * n / 3 + 2;
	char *s = malloc(cap);

	assert_non_null(s);
	assert_int_equal(b64url_encode(p, n, s, cap), (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0));
	return s;
}

/* A token made by hand: header and payload as given (any bytes), signed
 * with k1's private key for "RS256" and "RS512", with HMAC-SHA-256 keyed by
 * k1's public key PEM for "HS256", not at all for anything else. */
static char *raw_token(const char *header, const char *payload, const char *alg)
{
	char *h = b64(header, strlen(header)), *p = b64(payload, strlen(payload)), *sig = NULL;
	unsigned char s[512];
	size_t slen = sizeof s;
	unsigned int hlen = 0;
	char *tok;
	size_t n;

	assert_non_null(tok = malloc(strlen(h) + strlen(p) + 1024));
	n = (size_t)sprintf(tok, "%s.%s", h, p);
	if (strcmp(alg, "RS256") == 0 || strcmp(alg, "RS512") == 0) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		const char *digest = strcmp(alg, "RS256") == 0 ? "SHA256" : "SHA512";

		assert_int_equal(EVP_DigestSignInit_ex(md, NULL, digest, NULL, NULL, pk1, NULL), 1);
		assert_int_equal(EVP_DigestSign(md, s, &slen, (unsigned char *)tok, n), 1);
		EVP_MD_CTX_free(md);
		sig = b64(s, slen);
	} else if (strcmp(alg, "HS256") == 0) {
		assert_non_null(HMAC(EVP_sha256(), pub1_pem, (int)strlen(pub1_pem),
				     (unsigned char *)tok, n, s, &hlen));
		sig = b64(s, hlen);
	}
	sprintf(tok + n, ".%s", sig ? sig : "");
	free(h);
	free(p);
	free(sig);
	return tok;
}

/* The usual claims, with extra members (a JSON object text without braces,
 * may be "") and without the members named in drop (comma-separated). */
static char *claims_text(const char *extra, const char *drop)
{
	json_t *c = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", ISS, "aud", AUD, "sub", "user-1",
			      "iat", (json_int_t)NOW - 10, "exp", (json_int_t)NOW + 300);
	char *buf = malloc(strlen(extra) + 3), *out, *d;
	json_t *x;

	assert_non_null(c);
	assert_non_null(buf);
	sprintf(buf, "{%s}", extra);
	x = json_loads(buf, 0, NULL);
	free(buf);
	assert_non_null(x);
	assert_int_equal(json_object_update(c, x), 0);
	json_decref(x);
	if (drop) {
		char *copy = strdup(drop), *save = NULL;

		for (d = strtok_r(copy, ",", &save); d; d = strtok_r(NULL, ",", &save))
			json_object_del(c, d);
		free(copy);
	}
	assert_non_null(out = json_dumps(c, JSON_COMPACT));
	json_decref(c);
	return out;
}

/* A properly signed RS256 token by k1 with the usual claims changed. */
static char *token_with(const char *extra, const char *drop)
{
	char *c = claims_text(extra, drop);
	char *t = raw_token("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", c, "RS256");

	free(c);
	return t;
}

static enum jwt_reason claims_reason(const char *extra, const char *drop, int64_t leeway)
{
	struct jwt_expect e = expect();
	char *t = token_with(extra, drop);
	enum jwt_reason r;

	e.leeway = leeway;
	r = check_e(t, &e);
	free(t);
	return r;
}

#define WANT_HDR "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}"

static void test_sign_verify(void **state)
{
	json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "iss", ISS, "aud", AUD, "sub",
				   "user-1", "iat", (json_int_t)NOW, "exp", (json_int_t)NOW + 60,
				   "name", "水道 太郎"),
	       *got = NULL;
	struct jwt_expect e = expect();
	enum jwt_reason why = (enum jwt_reason)-1;
	char *tok = NULL, *dot, *hdr;
	size_t n;

	(void)state;
	assert_int_equal(jwt_sign(k1, "at+jwt", claims, &tok), SUIDO_OK);
	e.typ = "at+jwt";
	assert_int_equal(jwt_verify(ks, tok, strlen(tok), &e, &got, &why), SUIDO_OK);
	assert_int_equal(why, JWT_VALID);
	assert_true(json_equal(got, claims));
	json_decref(got);
	/* The header as jwt.h has it, byte for byte. */
	dot = strchr(tok, '.');
	assert_non_null(dot);
	n = (size_t)(dot - tok);
	hdr = b64(WANT_HDR, strlen(WANT_HDR));
	assert_int_equal(strlen(hdr), n);
	assert_memory_equal(hdr, tok, n);
	free(hdr);
	/* claims not wanted: just the verdict */
	assert_int_equal(jwt_verify(ks, tok, strlen(tok), &e, NULL, &why), SUIDO_OK);
	/* typ comparisons: case and "application/" ignored on either side */
	e.typ = "application/at+jwt";
	assert_int_equal(check_e(tok, &e), JWT_VALID);
	e.typ = "AT+JWT";
	assert_int_equal(check_e(tok, &e), JWT_VALID);
	e.typ = "JWT";
	assert_int_equal(check_e(tok, &e), JWT_BAD_TYP);
	e.typ = NULL;
	assert_int_equal(check_e(tok, &e), JWT_VALID);
	/* Not NUL-terminated: only len bytes are read. */
	{
		size_t len = strlen(tok);
		char *copy = malloc(len);

		assert_non_null(copy);
		memcpy(copy, tok, len);
		assert_int_equal(check_with(ks, copy, len, &e), JWT_VALID);
		free(copy);
	}
	free(tok);
	/* typ NULL: "JWT" */
	assert_int_equal(jwt_sign(k2, NULL, claims, &tok), SUIDO_OK);
	e.typ = "JWT";
	assert_int_equal(check_e(tok, &e), JWT_VALID);
	e.typ = "at+jwt";
	assert_int_equal(check_e(tok, &e), JWT_BAD_TYP);
	free(tok);
	/* typ application/at+jwt in the token */
	{
		char *c = claims_text("", NULL);

		tok = raw_token("{\"alg\":\"RS256\",\"typ\":\"application/at+jwt\",\"kid\":\"k1\"}",
				c, "RS256");
		assert_int_equal(check_e(tok, &e), JWT_VALID);
		free(tok);
		tok = raw_token("{\"alg\":\"RS256\",\"kid\":\"k1\"}", c, "RS256");
		assert_int_equal(check_e(tok, &e), JWT_BAD_TYP); /* typ absent, one expected */
		e.typ = NULL;
		assert_int_equal(check_e(tok, &e), JWT_VALID);
		free(tok);
		free(c);
	}
	json_decref(claims);
}

static void test_sign_refusals(void **state)
{
	json_t *claims = json_pack("{s:s}", "iss", ISS), *arr = json_array(), *big;
	struct jwt_key *pub = NULL;
	char *tok = (char *)"x", *pad;

	(void)state;
	assert_int_equal(jwt_sign(k1, "JWT", arr, &tok), SUIDO_ERR_INVALID);
	assert_null(tok);
	assert_int_equal(jwt_sign(k1, "a\"b", claims, &tok), SUIDO_ERR_INVALID);
	assert_int_equal(jwt_sign(k1, "", claims, &tok), SUIDO_ERR_INVALID);
	assert_int_equal(jwt_key_from_pem("p1", pub1_pem, strlen(pub1_pem), &pub, NULL, 0),
			 SUIDO_OK);
	assert_int_equal(jwt_key_is_private(pub), 0);
	assert_int_equal(jwt_sign(pub, NULL, claims, &tok), SUIDO_ERR_INVALID);
	assert_null(tok);
	/* A token we would refuse is not made. */
	pad = malloc(JWT_MAX_BYTES);
	assert_non_null(pad);
	memset(pad, 'a', JWT_MAX_BYTES - 1);
	pad[JWT_MAX_BYTES - 1] = '\0';
	big = json_pack("{s:s,s:s}", "iss", ISS, "pad", pad);
	assert_int_equal(jwt_sign(k1, NULL, big, &tok), SUIDO_ERR_LIMIT);
	assert_null(tok);
	json_decref(big);
	free(pad);
	jwt_key_free(pub);
	json_decref(arr);
	json_decref(claims);
}

static void test_algorithms(void **state)
{
	char *c = claims_text("", NULL), *t;
	static const char *const bad_alg[] = {
		"{\"alg\":\"RS512\",\"kid\":\"k1\"}", "{\"alg\":\"PS256\",\"kid\":\"k1\"}",
		"{\"alg\":\"rs256\",\"kid\":\"k1\"}", "{\"alg\":\"ES256\",\"kid\":\"k1\"}",
		"{\"kid\":\"k1\"}",                   "{\"alg\":null,\"kid\":\"k1\"}",
		"{\"alg\":[\"RS256\"],\"kid\":\"k1\"}",
	};

	(void)state;
	/* alg "none": an unsecured JWT, with its empty signature */
	t = raw_token("{\"alg\":\"none\",\"kid\":\"k1\"}", c, "none");
	assert_int_equal(t[strlen(t) - 1], '.');
	assert_int_equal(check(t), JWT_BAD_ALG);
	free(t);
	t = raw_token("{\"alg\":\"none\"}", c, "none");
	assert_int_equal(check(t), JWT_BAD_ALG);
	free(t);
	/* HS256 with our public key PEM as the HMAC secret: the confusion attack */
	t = raw_token("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", c, "HS256");
	assert_int_equal(check(t), JWT_BAD_ALG);
	free(t);
	for (size_t i = 0; i < sizeof bad_alg / sizeof *bad_alg; i++) {
		t = raw_token(bad_alg[i], c, "RS256");
		assert_int_equal(check(t), JWT_BAD_ALG);
		free(t);
	}
	/* A valid RS512 signature by the same key under alg RS512 */
	t = raw_token("{\"alg\":\"RS512\",\"kid\":\"k1\"}", c, "RS512");
	assert_int_equal(check(t), JWT_BAD_ALG);
	free(t);
	/* crit, even one naming something harmless */
	t = raw_token("{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"exp\"],\"exp\":1}", c, "RS256");
	assert_int_equal(check(t), JWT_BAD_ALG);
	free(t);
	t = raw_token("{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[]}", c, "RS256");
	assert_int_equal(check(t), JWT_BAD_ALG);
	free(t);
	free(c);
}

static void test_kid(void **state)
{
	char *c = claims_text("", NULL), *t;

	(void)state;
	t = raw_token("{\"alg\":\"RS256\"}", c, "RS256");
	assert_int_equal(check(t), JWT_UNKNOWN_KID);
	free(t);
	t = raw_token("{\"alg\":\"RS256\",\"kid\":\"k3\"}", c, "RS256");
	assert_int_equal(check(t), JWT_UNKNOWN_KID);
	free(t);
	t = raw_token("{\"alg\":\"RS256\",\"kid\":\"\"}", c, "RS256");
	assert_int_equal(check(t), JWT_UNKNOWN_KID);
	free(t);
	t = raw_token("{\"alg\":\"RS256\",\"kid\":1}", c, "RS256");
	assert_int_equal(check(t), JWT_UNKNOWN_KID);
	free(t);
	/* Signed by k1, naming k2: the signature does not verify. */
	t = raw_token("{\"alg\":\"RS256\",\"kid\":\"k2\"}", c, "RS256");
	assert_int_equal(check(t), JWT_BAD_SIGNATURE);
	free(t);
	/* A key embedded in the header is never used. */
	t = raw_token("{\"alg\":\"RS256\",\"jwk\":{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}}",
		      c, "RS256");
	assert_int_equal(check(t), JWT_UNKNOWN_KID);
	free(t);
	/* An empty key set knows no kid. */
	{
		struct jwt_keyset *empty = NULL;
		struct jwt_expect e = expect();

		assert_int_equal(jwt_keyset_create(&empty), SUIDO_OK);
		t = token_with("", NULL);
		assert_int_equal(check_with(empty, t, strlen(t), &e), JWT_UNKNOWN_KID);
		free(t);
		jwt_keyset_free(empty);
	}
	free(c);
}

/* Every character of a good token replaced by another of the alphabet: never
 * valid; in the payload and in the signature (but their last character,
 * whose low bits may then be non-canonical) always JWT_BAD_SIGNATURE. */
static void test_changes(void **state)
{
	char *t = token_with("", NULL), *d1, *d2;
	size_t len = strlen(t), hdr_end, pl_end;

	(void)state;
	assert_int_equal(check(t), JWT_VALID);
	d1 = strchr(t, '.');
	d2 = strchr(d1 + 1, '.');
	hdr_end = (size_t)(d1 - t);
	pl_end = (size_t)(d2 - t);
	for (size_t i = 0; i < len; i++) {
		char was = t[i];
		enum jwt_reason r;

		if (was == '.')
			continue;
		t[i] = was == 'A' ? 'B' : 'A';
		r = check(t);
		assert_int_not_equal(r, JWT_VALID);
		if (i > hdr_end && i + 1 != pl_end && i + 1 != len)
			assert_int_equal(r, JWT_BAD_SIGNATURE);
		else if (i < hdr_end)
			assert_true(r == JWT_MALFORMED || r == JWT_BAD_ALG || r == JWT_UNKNOWN_KID ||
				    r == JWT_BAD_SIGNATURE);
		else
			assert_true(r == JWT_MALFORMED || r == JWT_BAD_SIGNATURE);
		/* one bit flipped, when that stays in the alphabet */
		t[i] = (char)(was ^ 1);
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", t[i]))
			assert_int_not_equal(check(t), JWT_VALID);
		t[i] = was;
	}
	assert_int_equal(check(t), JWT_VALID);
	free(t);
}

static void test_form(void **state)
{
	char *t = token_with("", NULL), *x, *c;
	size_t len = strlen(t);
	struct jwt_expect e = expect();

	(void)state;
	/* every truncation */
	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(check_with(ks, t, n, &e), JWT_VALID);
	/* without the signature part, and with an empty one */
	*strrchr(t, '.') = '\0';
	assert_int_equal(check(t), JWT_MALFORMED);
	strcat(t, ".");
	assert_int_equal(check(t), JWT_BAD_SIGNATURE);
	free(t);
	t = token_with("", NULL);
	x = malloc(len + 16);
	assert_non_null(x);
	/* four parts, five */
	sprintf(x, "%s.AAAA", t);
	assert_int_equal(check(x), JWT_MALFORMED);
	sprintf(x, "%s.", t);
	assert_int_equal(check(x), JWT_MALFORMED);
	sprintf(x, "%s..", t);
	assert_int_equal(check(x), JWT_MALFORMED);
	/* padding, spaces, NUL, a leading dot */
	sprintf(x, "%s=", t);
	assert_int_equal(check(x), JWT_MALFORMED);
	sprintf(x, " %s", t);
	assert_int_equal(check(x), JWT_MALFORMED);
	sprintf(x, "%s\n", t);
	assert_int_equal(check(x), JWT_MALFORMED);
	sprintf(x, ".%s", t);
	assert_int_equal(check(x), JWT_MALFORMED);
	memcpy(x, t, len + 1);
	x[len / 2] = '\0';
	assert_int_equal(check_with(ks, x, len, &e), JWT_MALFORMED);
	assert_int_equal(check_with(ks, "", 0, &e), JWT_MALFORMED);
	assert_int_equal(check_with(ks, "..", 2, &e), JWT_MALFORMED);
	free(x);
	free(t);
	/* A padded header: "{"alg":"RS256","kid":"k1"}" is 26 bytes, 2 mod 3. */
	c = claims_text("", NULL);
	t = raw_token("{\"alg\":\"RS256\",\"kid\":\"k1\"}", c, "RS256");
	assert_int_equal(check(t), JWT_VALID);
	x = malloc(strlen(t) + 4);
	assert_non_null(x);
	{
		size_t h = (size_t)(strchr(t, '.') - t);

		assert_int_equal(h % 4, 3);
		sprintf(x, "%.*s=%s", (int)h, t, t + h);
		assert_int_equal(check(x), JWT_MALFORMED);
		/* the same with non-zero bits after the last byte: the last
		 * character of a 3-character group carries 2 of them */
		strcpy(x, t);
		assert_int_equal(x[h - 1], '0'); /* ..."} */
		x[h - 1] = '1';
		assert_int_equal(check(x), JWT_MALFORMED);
	}
	free(x);
	free(t);
	/* standard base64 characters instead of base64url */
	t = token_with("", NULL);
	for (char *p = t; *p; p++)
		if (*p == '_' || *p == '-') {
			*p = *p == '_' ? '/' : '+';
			break;
		}
	assert_int_equal(check(t), JWT_MALFORMED);
	free(t);
	/* duplicate members: in the header and, properly signed, in the claims */
	t = raw_token("{\"alg\":\"RS256\",\"kid\":\"k1\",\"alg\":\"none\"}", c, "RS256");
	assert_int_equal(check(t), JWT_MALFORMED);
	free(t);
	t = raw_token("{\"alg\":\"RS256\",\"kid\":\"k1\"}",
		      "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1900000000,\"aud\":\"x\"}",
		      "RS256");
	assert_int_equal(check(t), JWT_MALFORMED);
	free(t);
	/* header or payload not a JSON object, or not JSON */
	t = raw_token("[\"RS256\"]", c, "RS256");
	assert_int_equal(check(t), JWT_MALFORMED);
	free(t);
	t = raw_token("{\"alg\":\"RS256\",\"kid\":\"k1\"}", "[1]", "RS256");
	assert_int_equal(check(t), JWT_MALFORMED);
	free(t);
	t = raw_token("{\"alg\":\"RS256\",\"kid\":\"k1\"}", "{\"iss\":", "RS256");
	assert_int_equal(check(t), JWT_MALFORMED);
	free(t);
	t = raw_token("{\"alg\":\"RS256\",\"kid\":\"k1\"}", "{\"iss\":\"a\\u0000b\"}", "RS256");
	assert_int_equal(check(t), JWT_MALFORMED);
	free(t);
	free(c);
	/* over JWT_MAX_BYTES: refused unread, even well signed */
	{
		char *pad = malloc(JWT_MAX_BYTES), extra[JWT_MAX_BYTES + 16];

		assert_non_null(pad);
		/* 4/3 of the claims, plus a header and a 342-character signature */
		memset(pad, 'a', 12000);
		pad[12000] = '\0';
		snprintf(extra, sizeof extra, "\"pad\":\"%s\"", pad);
		t = token_with(extra, NULL);
		assert_true(strlen(t) > JWT_MAX_BYTES);
		assert_int_equal(check(t), JWT_MALFORMED);
		free(t);
		pad[11500] = '\0';
		snprintf(extra, sizeof extra, "\"pad\":\"%s\"", pad);
		t = token_with(extra, NULL);
		assert_true(strlen(t) <= JWT_MAX_BYTES);
		assert_int_equal(check(t), JWT_VALID);
		free(t);
		free(pad);
	}
}

static void test_issuer_audience(void **state)
{
	struct jwt_expect e = expect();
	char *t;

	(void)state;
	assert_int_equal(claims_reason("", NULL, 0), JWT_VALID);
	assert_int_equal(claims_reason("\"iss\":\"https://evil.example\"", NULL, 0), JWT_BAD_ISSUER);
	assert_int_equal(claims_reason("\"iss\":\"" ISS "/\"", NULL, 0), JWT_BAD_ISSUER);
	assert_int_equal(claims_reason("", "iss", 0), JWT_BAD_ISSUER);
	assert_int_equal(claims_reason("\"iss\":1", NULL, 0), JWT_BAD_CLAIMS);
	assert_int_equal(claims_reason("\"sub\":1", NULL, 0), JWT_BAD_CLAIMS);
	assert_int_equal(claims_reason("\"aud\":\"other\"", NULL, 0), JWT_BAD_AUDIENCE);
	assert_int_equal(claims_reason("", "aud", 0), JWT_BAD_AUDIENCE);
	assert_int_equal(claims_reason("\"aud\":[\"other\",\"" AUD "\"]", NULL, 0), JWT_VALID);
	assert_int_equal(claims_reason("\"aud\":[\"" AUD "\"]", NULL, 0), JWT_VALID);
	assert_int_equal(claims_reason("\"aud\":[\"other\",\"x\"]", NULL, 0), JWT_BAD_AUDIENCE);
	assert_int_equal(claims_reason("\"aud\":[]", NULL, 0), JWT_BAD_AUDIENCE);
	assert_int_equal(claims_reason("\"aud\":[\"" AUD "\",1]", NULL, 0), JWT_BAD_CLAIMS);
	assert_int_equal(claims_reason("\"aud\":{\"" AUD "\":1}", NULL, 0), JWT_BAD_CLAIMS);
	/* audience not checked when NULL; the issuer always */
	t = token_with("\"aud\":\"other\"", NULL);
	e.audience = NULL;
	assert_int_equal(check_e(t, &e), JWT_VALID);
	e.issuer = NULL;
	assert_int_equal(check_e(t, &e), JWT_BAD_ISSUER);
	free(t);
}

static void test_times(void **state)
{
	char buf[128];

	(void)state;
	/* exp */
	assert_int_equal(claims_reason("", "exp", 0), JWT_EXPIRED);
	assert_int_equal(claims_reason("", "exp", 1000), JWT_EXPIRED);
	assert_int_equal(claims_reason("\"exp\":1799999999", NULL, 0), JWT_EXPIRED);
	assert_int_equal(claims_reason("\"exp\":1800000000", NULL, 0), JWT_EXPIRED);
	assert_int_equal(claims_reason("\"exp\":1800000001", NULL, 0), JWT_VALID);
	assert_int_equal(claims_reason("\"exp\":1800000000.5", NULL, 0), JWT_VALID);
	assert_int_equal(claims_reason("\"exp\":1799999970", NULL, 60), JWT_VALID);
	assert_int_equal(claims_reason("\"exp\":1799999940", NULL, 60), JWT_EXPIRED);
	assert_int_equal(claims_reason("\"exp\":-1", NULL, 60), JWT_EXPIRED);
	assert_int_equal(claims_reason("\"exp\":\"1900000000\"", NULL, 0), JWT_BAD_CLAIMS);
	assert_int_equal(claims_reason("\"exp\":null", NULL, 0), JWT_BAD_CLAIMS);
	assert_int_equal(claims_reason("\"exp\":true", NULL, 0), JWT_BAD_CLAIMS);
	/* a negative leeway is none */
	assert_int_equal(claims_reason("\"exp\":1800000001", NULL, -60), JWT_VALID);
	/* nbf */
	assert_int_equal(claims_reason("\"nbf\":1800000000", NULL, 0), JWT_VALID);
	assert_int_equal(claims_reason("\"nbf\":1800000010", NULL, 0), JWT_NOT_YET);
	assert_int_equal(claims_reason("\"nbf\":1800000010", NULL, 60), JWT_VALID);
	assert_int_equal(claims_reason("\"nbf\":1800000061", NULL, 60), JWT_NOT_YET);
	assert_int_equal(claims_reason("\"nbf\":\"soon\"", NULL, 0), JWT_BAD_CLAIMS);
	/* iat */
	assert_int_equal(claims_reason("", "iat", 0), JWT_VALID);
	assert_int_equal(claims_reason("\"iat\":1800000010", NULL, 0), JWT_NOT_YET);
	assert_int_equal(claims_reason("\"iat\":1800000010", NULL, 60), JWT_VALID);
	assert_int_equal(claims_reason("\"iat\":1800000060.5", NULL, 60), JWT_NOT_YET);
	assert_int_equal(claims_reason("\"iat\":[1]", NULL, 0), JWT_BAD_CLAIMS);
	/* huge values do not overflow */
	snprintf(buf, sizeof buf, "\"exp\":%lld", (long long)INT64_MAX);
	assert_int_equal(claims_reason(buf, NULL, INT64_MAX), JWT_VALID);
	assert_int_equal(claims_reason("\"exp\":1e300", NULL, 0), JWT_VALID);
	assert_int_equal(claims_reason("\"nbf\":-1e300", NULL, 0), JWT_VALID);
	/* a jansson integer overflow is not JSON to us */
	assert_int_equal(claims_reason("", "exp", 0), JWT_EXPIRED);
	{
		char *t = raw_token("{\"alg\":\"RS256\",\"kid\":\"k1\"}",
				    "{\"iss\":\"" ISS "\",\"exp\":99999999999999999999999}", "RS256");

		assert_int_equal(check(t), JWT_MALFORMED);
		free(t);
	}
}

/* The JWK of an RSA public key pk, with kid and extra members. */
static char *jwk_of(EVP_PKEY *pk, const char *kid, const char *extra)
{
	BIGNUM *n = NULL, *e = NULL;
	unsigned char nb[1024], eb[16];
	char *n64, *e64, *out;
	int nl, el;

	assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e), 1);
	nl = BN_bn2bin(n, nb);
	el = BN_bn2bin(e, eb);
	n64 = b64(nb, (size_t)nl);
	e64 = b64(eb, (size_t)el);
	out = malloc(strlen(n64) + 512);
	assert_non_null(out);
	sprintf(out, "{\"kty\":\"RSA\"%s%s%s,\"n\":\"%s\",\"e\":\"%s\"%s}", kid ? ",\"kid\":\"" : "",
		kid ? kid : "", kid ? "\"" : "", n64, e64, extra);
	free(n64);
	free(e64);
	BN_free(n);
	BN_free(e);
	return out;
}

static int from_jwks(const char *doc, struct jwt_keyset **out)
{
	char err[256] = "";
	int rc = jwt_keyset_from_jwks(doc, strlen(doc), out, err, sizeof err);

	if (rc != SUIDO_OK) {
		assert_null(*out);
		assert_true(err[0] != '\0');
	}
	return rc;
}

static void test_jwks_round_trip(void **state)
{
	struct jwt_keyset *again = NULL;
	struct jwt_expect e = expect();
	char *doc = NULL, *doc2 = NULL, *t;
	json_t *j, *k;

	(void)state;
	assert_int_equal(jwt_keyset_to_jwks(ks, &doc), SUIDO_OK);
	j = json_loads(doc, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "keys")), 2);
	k = json_array_get(json_object_get(j, "keys"), 0);
	assert_string_equal(json_string_value(json_object_get(k, "kty")), "RSA");
	assert_string_equal(json_string_value(json_object_get(k, "use")), "sig");
	assert_string_equal(json_string_value(json_object_get(k, "alg")), "RS256");
	assert_string_equal(json_string_value(json_object_get(k, "kid")), "k1");
	assert_string_equal(json_string_value(json_object_get(k, "e")), "AQAB");
	assert_int_equal(strlen(json_string_value(json_object_get(k, "n"))), 342);
	assert_null(json_object_get(k, "d"));
	json_decref(j);
	assert_int_equal(from_jwks(doc, &again), SUIDO_OK);
	assert_int_equal(jwt_keyset_count(again), 2);
	assert_int_equal(jwt_keyset_to_jwks(again, &doc2), SUIDO_OK);
	assert_string_equal(doc, doc2);
	t = token_with("", NULL);
	assert_int_equal(check_with(again, t, strlen(t), &e), JWT_VALID);
	free(t);
	{
		json_t *c = json_pack("{s:s,s:s,s:I}", "iss", ISS, "aud", AUD, "exp",
				      (json_int_t)NOW + 5);

		assert_int_equal(jwt_sign(k2, "at+jwt", c, &t), SUIDO_OK);
		assert_int_equal(check_with(again, t, strlen(t), &e), JWT_VALID);
		free(t);
		json_decref(c);
	}
	jwt_keyset_free(again);
	free(doc);
	free(doc2);
	/* an empty set */
	assert_int_equal(jwt_keyset_create(&again), SUIDO_OK);
	assert_int_equal(jwt_keyset_to_jwks(again, &doc), SUIDO_OK);
	assert_string_equal(doc, "{\"keys\":[]}");
	jwt_keyset_free(again);
	again = NULL;
	assert_int_equal(from_jwks(doc, &again), SUIDO_OK);
	assert_int_equal(jwt_keyset_count(again), 0);
	jwt_keyset_free(again);
	free(doc);
}

static void test_jwks_skips_and_refusals(void **state)
{
	EVP_PKEY *small = EVP_RSA_gen(1024);
	char *good = jwk_of(pk1, "k1", ",\"use\":\"sig\",\"alg\":\"RS256\""), *doc, *t;
	char *enc = jwk_of(pk1, "e1", ",\"use\":\"enc\""),
	     *rs512 = jwk_of(pk1, "r5", ",\"alg\":\"RS512\""),
	     *ops = jwk_of(pk1, "o1", ",\"key_ops\":[\"encrypt\"]"),
	     *opsv = jwk_of(pk1, "o2", ",\"key_ops\":[\"verify\"]"), *nokid = jwk_of(pk1, NULL, ""),
	     *badkid = jwk_of(pk1, "a b", ""), *weak = jwk_of(small, "w1", ""),
	     *withd = jwk_of(pk1, "d1", ",\"d\":\"AQAB\"");
	struct jwt_keyset *set = NULL;
	struct jwt_expect e = expect();
	size_t cap = 16 * strlen(good) + 4096;

	(void)state;
	assert_non_null(small);
	doc = malloc(cap);
	assert_non_null(doc);
	snprintf(doc, cap,
		 "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\",\"x\":\"AA\",\"y\":"
		 "\"AA\"},{\"kty\":\"oct\",\"k\":\"AA\"},%s,%s,%s,%s,%s,%s,%s,%s,%s],\"other\":1}",
		 enc, rs512, ops, nokid, badkid, weak, good, opsv, withd);
	assert_int_equal(from_jwks(doc, &set), SUIDO_OK);
	assert_int_equal(jwt_keyset_count(set), 3); /* k1, o2 and d1 */
	t = token_with("", NULL);
	assert_int_equal(check_with(set, t, strlen(t), &e), JWT_VALID);
	free(t);
	jwt_keyset_free(set);
	set = NULL;
	/* a kid twice */
	snprintf(doc, cap, "{\"keys\":[%s,%s]}", good, good);
	assert_int_equal(from_jwks(doc, &set), SUIDO_ERR_INVALID);
	/* not JSON, not an object, no keys array, duplicate members */
	assert_int_equal(from_jwks("{\"keys\":[", &set), SUIDO_ERR_INVALID);
	assert_int_equal(from_jwks("[]", &set), SUIDO_ERR_INVALID);
	assert_int_equal(from_jwks("{\"keys\":{}}", &set), SUIDO_ERR_INVALID);
	assert_int_equal(from_jwks("{}", &set), SUIDO_ERR_INVALID);
	assert_int_equal(from_jwks("{\"keys\":[1]}", &set), SUIDO_ERR_INVALID);
	assert_int_equal(from_jwks("{\"keys\":[{\"kid\":\"x\"}]}", &set), SUIDO_ERR_INVALID);
	assert_int_equal(jwt_keyset_from_jwks("", 0, &set, NULL, 0), SUIDO_ERR_INVALID);
	snprintf(doc, cap, "{\"keys\":[],\"keys\":[%s]}", good);
	assert_int_equal(from_jwks(doc, &set), SUIDO_ERR_INVALID);
	/* kept keys malformed: n padded, n with a leading zero octet, e
	 * missing, n not base64url, n not a string, n too short to be a key */
	{
		static const char *const bad[] = {
			"{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"%s=\",\"e\":\"AQAB\"}",
			"{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"AA%s\",\"e\":\"AQAB\"}",
			"{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"%s\"}",
			"{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"%s+\",\"e\":\"AQAB\"}",
			"{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":[\"%s\"],\"e\":\"AQAB\"}",
			"{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"%s\",\"e\":\"AAEAAQ\"}",
			"{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"%s\",\"e\":\"\"}",
			"{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"%s\",\"e\":\"AQAB\",\"use\":1}",
		};
		json_t *g = json_loads(good, 0, NULL);
		const char *n = json_string_value(json_object_get(g, "n"));
		char *one = malloc(strlen(n) + 256);

		assert_non_null(one);
		for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
			/* The format strings are the table above. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			sprintf(one, bad[i], n);
#pragma GCC diagnostic pop
			snprintf(doc, cap, "{\"keys\":[%s]}", one);
			assert_int_equal(from_jwks(doc, &set), SUIDO_ERR_INVALID);
		}
		/* an even modulus is no RSA key */
		strcpy(one, n);
		one[strlen(one) - 1] = one[strlen(one) - 1] == 'A' ? 'E' : 'A';
		snprintf(doc, cap, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"%s\",\"e\":\"AQAB\"}]}",
			 one);
		assert_int_not_equal(from_jwks(doc, &set), SUIDO_OK);
		free(one);
		json_decref(g);
	}
	free(doc);
	/* the caps: 33 keys, and a document over JWKS_MAX_BYTES */
	{
		size_t big = JWKS_MAX_BYTES + 100, at;
		char kid[8];

		doc = malloc(big + 1);
		assert_non_null(doc);
		at = (size_t)sprintf(doc, "{\"keys\":[");
		for (int i = 0; i < JWKS_MAX_KEYS + 1; i++) {
			char *j;

			snprintf(kid, sizeof kid, "k%d", i);
			j = jwk_of(pk1, kid, "");
			at += (size_t)sprintf(doc + at, "%s%s", i ? "," : "", j);
			free(j);
		}
		strcpy(doc + at, "]}");
		assert_int_equal(from_jwks(doc, &set), SUIDO_ERR_LIMIT);
		memset(doc, ' ', big);
		memcpy(doc, "{\"keys\":[]}", 11);
		doc[big] = '\0';
		assert_int_equal(from_jwks(doc, &set), SUIDO_ERR_LIMIT);
		free(doc);
	}
	EVP_PKEY_free(small);
	free(good), free(enc), free(rs512), free(ops), free(opsv), free(nokid), free(badkid);
	free(weak), free(withd);
}

static void test_keys(void **state)
{
	struct jwt_key *k = NULL, *again = NULL, *kp = NULL;
	struct jwt_keyset *set = NULL;
	char *pem = NULL, err[256];
	EVP_PKEY *small = EVP_RSA_gen(1024), *ec = EVP_EC_gen("P-256");
	BIO *bio;
	BUF_MEM *bm;
	json_t *c = json_pack("{s:s,s:I}", "iss", ISS, "exp", (json_int_t)NOW + 1);
	struct jwt_expect e = expect();
	char *t;

	(void)state;
	e.audience = NULL;
	assert_int_equal(jwt_key_generate("k", 1024, &k), SUIDO_ERR_INVALID);
	assert_int_equal(jwt_key_generate("k", 8192, &k), SUIDO_ERR_INVALID);
	assert_int_equal(jwt_key_generate("bad kid", 2048, &k), SUIDO_ERR_INVALID);
	assert_int_equal(jwt_key_generate("", 2048, &k), SUIDO_ERR_INVALID);
	assert_null(k);
	assert_string_equal(jwt_key_kid(k1), "k1");
	assert_int_equal(jwt_key_is_private(k1), 1);
	/* PEM out and in: the same key */
	assert_int_equal(jwt_key_private_pem(k1, &pem), SUIDO_OK);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(jwt_key_from_pem("k1", pem, strlen(pem), &again, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(jwt_key_is_private(again), 1);
	assert_int_equal(jwt_sign(again, NULL, c, &t), SUIDO_OK);
	assert_int_equal(check_e(t, &e), JWT_VALID);
	free(t);
	jwt_pem_free(pem);
	/* a public key PEM: verifies, does not sign, has no private PEM */
	assert_int_equal(jwt_key_from_pem("k1", pub1_pem, strlen(pub1_pem), &kp, err, sizeof err),
			 SUIDO_OK);
	assert_int_equal(jwt_key_private_pem(kp, &pem), SUIDO_ERR_INVALID);
	assert_null(pem);
	assert_int_equal(jwt_keyset_create(&set), SUIDO_OK);
	assert_int_equal(jwt_keyset_add(set, kp), SUIDO_OK);
	assert_int_equal(jwt_keyset_add(set, again), SUIDO_ERR_EXISTS);
	assert_int_equal(jwt_sign(k1, NULL, c, &t), SUIDO_OK);
	assert_int_equal(check_with(set, t, strlen(t), &e), JWT_VALID);
	free(t);
	/* JWKS_MAX_KEYS */
	for (int i = 1; i < JWKS_MAX_KEYS; i++) {
		struct jwt_key *x = NULL;
		char kid[8];

		snprintf(kid, sizeof kid, "x%d", i);
		assert_int_equal(jwt_key_from_pem(kid, pub1_pem, strlen(pub1_pem), &x, NULL, 0),
				 SUIDO_OK);
		assert_int_equal(jwt_keyset_add(set, x), SUIDO_OK);
		jwt_key_free(x);
	}
	assert_int_equal(jwt_keyset_count(set), JWKS_MAX_KEYS);
	assert_int_equal(jwt_keyset_add(set, k2), SUIDO_ERR_LIMIT);
	jwt_keyset_free(set);
	/* a traditional RSA PRIVATE KEY PEM */
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, pk1, NULL, NULL, 0, NULL, NULL),
			 1);
	BIO_get_mem_ptr(bio, &bm);
	assert_non_null(strstr(bm->data, "BEGIN RSA PRIVATE KEY"));
	jwt_key_free(k);
	k = NULL;
	assert_int_equal(jwt_key_from_pem("t", bm->data, bm->length, &k, err, sizeof err), SUIDO_OK);
	assert_int_equal(jwt_key_is_private(k), 1);
	jwt_key_free(k);
	k = NULL;
	BIO_free(bio);
	/* refused: too small, EC, encrypted, garbage, bad kid; no key in err */
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(bio, small, NULL, NULL, 0, NULL, NULL), 1);
	BIO_get_mem_ptr(bio, &bm);
	assert_int_equal(jwt_key_from_pem("s", bm->data, bm->length, &k, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_null(strstr(err, "MII"));
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL), 1);
	BIO_get_mem_ptr(bio, &bm);
	assert_int_equal(jwt_key_from_pem("s", bm->data, bm->length, &k, err, sizeof err),
			 SUIDO_ERR_INVALID);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, pk1, EVP_aes_128_cbc(), "secret", 6,
						       NULL, NULL),
			 1);
	BIO_get_mem_ptr(bio, &bm);
	assert_int_equal(jwt_key_from_pem("s", bm->data, bm->length, &k, err, sizeof err),
			 SUIDO_ERR_INVALID);
	BIO_free(bio);
	assert_int_equal(jwt_key_from_pem("s", "hello", 5, &k, err, sizeof err), SUIDO_ERR_INVALID);
	assert_int_equal(jwt_key_from_pem("s/", pub1_pem, strlen(pub1_pem), &k, err, sizeof err),
			 SUIDO_ERR_INVALID);
	assert_null(k);
	jwt_key_free(NULL);
	jwt_keyset_free(NULL);
	jwt_pem_free(NULL);
	jwt_key_free(kp);
	jwt_key_free(again);
	EVP_PKEY_free(small);
	EVP_PKEY_free(ec);
	json_decref(c);
}

static void test_hashes(void **state)
{
	char out[JWT_HALF_HASH_TEXT], want[JWT_HALF_HASH_TEXT], s[16];
	unsigned char md[32];
	unsigned int mdlen = 0;
	static const char at[] = "dNZX1hEZ9wBCzNL40Upu646bdzQA";

	(void)state;
	assert_int_equal(jwt_half_hash("abc", 3, out), SUIDO_OK);
	assert_string_equal(out, "ungWv48Bz-pBQUDeXa4iIw"); /* openssl dgst -sha256, by hand */
	assert_int_equal(jwt_half_hash("", 0, out), SUIDO_OK);
	assert_string_equal(out, "47DEQpj8HBSa-_TImW-5JA");
	assert_int_equal(jwt_half_hash(at, strlen(at), out), SUIDO_OK);
	assert_int_equal(EVP_Digest(at, strlen(at), md, &mdlen, EVP_sha256(), NULL), 1);
	assert_int_equal(b64url_encode(md, 16, want, sizeof want), 22);
	assert_string_equal(out, want);
	assert_int_equal(strlen(out), JWT_HALF_HASH_TEXT - 1);
	/* base64url */
	assert_int_equal(b64url_encode((const unsigned char *)"f", 1, s, sizeof s), 2);
	assert_string_equal(s, "Zg");
	assert_int_equal(b64url_encode((const unsigned char *)"fo", 2, s, sizeof s), 3);
	assert_string_equal(s, "Zm8");
	assert_int_equal(b64url_encode((const unsigned char *)"foo", 3, s, sizeof s), 4);
	assert_string_equal(s, "Zm9v");
	assert_int_equal(b64url_encode((const unsigned char *)"\xfb\xff", 2, s, sizeof s), 3);
	assert_string_equal(s, "-_8");
	assert_int_equal(b64url_encode((const unsigned char *)"foo", 3, s, 4), 0);
	assert_int_equal(b64url_encode((const unsigned char *)"foo", 3, s, 5), 4);
}

static void test_reason_text(void **state)
{
	(void)state;
	for (int r = JWT_VALID; r <= JWT_BAD_CLAIMS; r++) {
		assert_non_null(jwt_reason_text((enum jwt_reason)r));
		assert_string_not_equal(jwt_reason_text((enum jwt_reason)r), "unknown reason");
	}
	assert_string_equal(jwt_reason_text((enum jwt_reason)99), "unknown reason");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_algorithms),
		cmocka_unit_test(test_kid),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_form),
		cmocka_unit_test(test_issuer_audience),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_jwks_round_trip),
		cmocka_unit_test(test_jwks_skips_and_refusals),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_hashes),
		cmocka_unit_test(test_reason_text),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
