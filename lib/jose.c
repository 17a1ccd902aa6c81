/*
 * JWS (RS256) and JWE (RSA-OAEP + A128CBC-HS256) compact serializations for
 * the JSON data profile (jose.h), on cjose. cjose does all the cryptography;
 * this module is the gate in front of it. cjose accepts far more than the
 * profile allows (alg "none" at import, HMAC and PSS signatures, RSA1_5, AES
 * key wrap, GCM, "dir") and trusts the lengths of what it is given (an IV or
 * a tag of the wrong size is read past), so every token is split, its
 * base64url held to the canonical unpadded form, its protected header
 * parsed with duplicate members refused and held to the one algorithm pair we
 * speak, and every binary part's length checked against what the algorithm
 * and the key imply before cjose is handed the token (its decoder then
 * refuses any byte outside the base64url alphabet). Keys are converted
 * from EVP_PKEY to cjose JWKs once (struct jose_key), with the CRT parameters,
 * so that opening a message costs one RSA private operation and little else.
 */
#include "suido/jose.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include "suido/error.h"

#define ALG_JWS "RS256"
#define ALG_JWE "RSA-OAEP"
#define ENC_JWE "A128CBC-HS256"
#define CTY_NESTED "JWT"
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384
#define CBC_IV_LEN 16  /* AES block */
#define CBC_TAG_LEN 16 /* HMAC-SHA-256 truncated to half (RFC 7518 5.2.3) */

struct jose_key {
	cjose_jwk_t *jwk;
	size_t mod_bytes; /* RSA modulus length: the length of every signature and encrypted key */
	int has_private;
};

/* One part of a compact serialization: a span of the caller's buffer. */
struct part {
	const char *s;
	size_t n;
};

static int cjose_code(const cjose_err *ce, int otherwise)
{
	return ce->code == CJOSE_ERR_NO_MEMORY ? SUIDO_ERR_NOMEM : otherwise;
}

/* Copies an untrusted header value for an error message, printable ASCII only,
 * so that a peer cannot put control characters into our logs. */
static const char *printable(const char *s, char *buf, size_t buflen)
{
	size_t i;

	for (i = 0; s[i] && i + 4 < buflen; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
	if (s[i])
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

static size_t b64u_enclen(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

static size_t b64u_declen(size_t n)
{
	return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

/* Value of the base64url characters that can end a part, for the canonical
 * check; 0 elsewhere (the alphabet itself is enforced by cjose's decoder). */
static int b64u_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '-' ? 62 : c == '_' ? 63 : 0;
}

/* Unpadded base64url in canonical form: no "=" (which cjose's decoder would
 * take), no length that no byte count encodes to, and zero bits after the
 * last byte — so that no two strings decode to the same bytes and a token
 * cannot be altered unnoticed. Any other byte outside the alphabet is refused
 * by cjose_base64url_decode, through which every part goes; checking the
 * alphabet here too would cost a table lookup per byte of every token, a few
 * percent of jose_open. */
static int b64u_valid(const struct part *p)
{
	int last;

	if (p->n % 4 == 1 || memchr(p->s, '=', p->n))
		return 0;
	if (p->n % 4 == 0)
		return 1;
	last = b64u_val((unsigned char)p->s[p->n - 1]);
	if (p->n % 4 == 2)
		return (last & 0x0f) == 0;
	return (last & 0x03) == 0;
}

/* Splits s[len] at its dots into exactly nparts base64url parts. */
static int split(const char *what, const char *s, size_t len, struct part *parts, size_t nparts,
		 char *err, size_t errlen)
{
	const char *p = s, *end = s + len, *dot;
	size_t k = 0;

	if (!s || len == 0) {
		suido_errf(err, errlen, "%s: empty token", what);
		return SUIDO_ERR_INVALID;
	}
	/* cjose copies parts with strncpy: a NUL would cut them short. */
	if (memchr(s, '\0', len)) {
		suido_errf(err, errlen, "%s: NUL byte in the token", what);
		return SUIDO_ERR_INVALID;
	}
	for (;;) {
		dot = memchr(p, '.', (size_t)(end - p));
		if (k == nparts) {
			suido_errf(err, errlen, "%s: more than %zu parts", what, nparts);
			return SUIDO_ERR_INVALID;
		}
		parts[k].s = p;
		parts[k].n = (size_t)((dot ? dot : end) - p);
		if (!b64u_valid(&parts[k])) {
			suido_errf(err, errlen, "%s: part %zu is not canonical base64url", what, k + 1);
			return SUIDO_ERR_INVALID;
		}
		k++;
		if (!dot)
			break;
		p = dot + 1;
	}
	if (k != nparts) {
		suido_errf(err, errlen, "%s: %zu parts, not %zu (truncated?)", what, k, nparts);
		return SUIDO_ERR_INVALID;
	}
	return SUIDO_OK;
}

/* Decodes and parses a protected header: a JSON object, no member twice (two
 * "alg" would let cjose and this module read different algorithms). */
static int parse_header(const char *what, const struct part *p, json_t **out, char *err,
			size_t errlen)
{
	cjose_err ce = {0};
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	json_error_t je;
	json_t *h = NULL;
	int rc;

	*out = NULL;
	if (p->n == 0) {
		suido_errf(err, errlen, "%s: empty protected header", what);
		return SUIDO_ERR_INVALID;
	}
	if (!cjose_base64url_decode(p->s, p->n, &raw, &rawlen, &ce) || !raw) {
		suido_errf(err, errlen, "%s: protected header: bad base64url", what);
		return cjose_code(&ce, SUIDO_ERR_INVALID);
	}
	h = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &je);
	if (!h || !json_is_object(h)) {
		suido_errf(err, errlen, "%s: protected header is not a JSON object%s%s", what,
			   h ? "" : ": ", h ? "" : je.text);
		rc = SUIDO_ERR_INVALID;
		goto out;
	}
	*out = h;
	h = NULL;
	rc = SUIDO_OK;
out:
	json_decref(h);
	cjose_get_dealloc()(raw);
	return rc;
}

/* The string value of member name, NULL when absent; SUIDO_ERR_INVALID when
 * present but not a string of 1 to JOSE_KID_MAX bytes without NUL. */
static int header_string(const char *what, json_t *h, const char *name, const char **val,
			 char *err, size_t errlen)
{
	json_t *v = json_object_get(h, name);
	size_t n;

	*val = NULL;
	if (!v)
		return SUIDO_OK;
	if (!json_is_string(v)) {
		suido_errf(err, errlen, "%s: header \"%s\" is not a string", what, name);
		return SUIDO_ERR_INVALID;
	}
	n = json_string_length(v);
	if (n == 0 || n > JOSE_KID_MAX || strlen(json_string_value(v)) != n) {
		suido_errf(err, errlen, "%s: header \"%s\" is empty, too long or holds NUL", what,
			   name);
		return SUIDO_ERR_INVALID;
	}
	*val = json_string_value(v);
	return SUIDO_OK;
}

/* A kid or cty we write: 1 to JOSE_KID_MAX printable ASCII characters, which
 * every JOSE library and every log takes as they are. */
static int arg_string_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n == JOSE_KID_MAX || s[n] < 0x20 || s[n] > 0x7e)
			return 0;
	return n >= 1;
}

static char *dup_bytes(const void *p, size_t n)
{
	char *d = malloc(n + 1);

	if (!d)
		return NULL;
	if (n)
		memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

/* ---- keys ---- */

struct bn_bytes {
	const char *param;
	uint8_t *b;
	size_t n;
};

/* Reads one BIGNUM parameter as big-endian bytes; *got = 0 when absent. */
static int get_bn(const EVP_PKEY *pkey, struct bn_bytes *x, int *got)
{
	BIGNUM *bn = NULL;
	int rc = SUIDO_OK, n;

	*got = 0;
	if (EVP_PKEY_get_bn_param(pkey, x->param, &bn) != 1)
		return SUIDO_OK;
	n = BN_num_bytes(bn);
	if (n <= 0) {
		rc = SUIDO_ERR_INVALID;
		goto out;
	}
	if (!(x->b = malloc((size_t)n))) {
		rc = SUIDO_ERR_NOMEM;
		goto out;
	}
	x->n = (size_t)n;
	if (BN_bn2bin(bn, x->b) != n) {
		rc = SUIDO_ERR_INVALID;
		goto out;
	}
	*got = 1;
out:
	BN_clear_free(bn);
	return rc;
}

int jose_key_from_pkey(const EVP_PKEY *pkey, struct jose_key **out, char *err, size_t errlen)
{
	/* Order: n, e, d, p, q, dp, dq, qi. */
	struct bn_bytes x[8] = {
		{OSSL_PKEY_PARAM_RSA_N, NULL, 0},         {OSSL_PKEY_PARAM_RSA_E, NULL, 0},
		{OSSL_PKEY_PARAM_RSA_D, NULL, 0},         {OSSL_PKEY_PARAM_RSA_FACTOR1, NULL, 0},
		{OSSL_PKEY_PARAM_RSA_FACTOR2, NULL, 0},   {OSSL_PKEY_PARAM_RSA_EXPONENT1, NULL, 0},
		{OSSL_PKEY_PARAM_RSA_EXPONENT2, NULL, 0}, {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, NULL, 0},
	};
	int got[8] = {0};
	cjose_jwk_rsa_keyspec spec;
	cjose_err ce = {0};
	struct jose_key *k = NULL;
	int rc, bits, ncrt = 0;

	*out = NULL;
	if (!pkey || !EVP_PKEY_is_a(pkey, "RSA")) {
		suido_errf(err, errlen, "jose key: not an RSA key");
		return SUIDO_ERR_INVALID;
	}
	bits = EVP_PKEY_get_bits(pkey);
	if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
		suido_errf(err, errlen, "jose key: RSA key of %d bits (%d to %d allowed)", bits,
			   RSA_MIN_BITS, RSA_MAX_BITS);
		return SUIDO_ERR_INVALID;
	}
	for (int i = 0; i < 8; i++) {
		if ((rc = get_bn(pkey, &x[i], &got[i])) != SUIDO_OK) {
			suido_errf(err, errlen, "jose key: cannot read %s", x[i].param);
			goto out;
		}
		if (i >= 3)
			ncrt += got[i];
	}
	if (!got[0] || !got[1]) {
		suido_errf(err, errlen, "jose key: RSA key without modulus or exponent");
		rc = SUIDO_ERR_INVALID;
		goto out;
	}
	if (!got[2] && ncrt) {
		suido_errf(err, errlen, "jose key: RSA primes without private exponent");
		rc = SUIDO_ERR_INVALID;
		goto out;
	}
	/* Multi-prime keys or partial CRT sets: cjose takes exactly two primes. */
	if (ncrt != 0 && ncrt != 5) {
		suido_errf(err, errlen, "jose key: incomplete RSA CRT parameters");
		rc = SUIDO_ERR_INVALID;
		goto out;
	}
	memset(&spec, 0, sizeof spec);
	spec.n = x[0].b, spec.nlen = x[0].n;
	spec.e = x[1].b, spec.elen = x[1].n;
	spec.d = x[2].b, spec.dlen = x[2].n;
	spec.p = x[3].b, spec.plen = x[3].n;
	spec.q = x[4].b, spec.qlen = x[4].n;
	spec.dp = x[5].b, spec.dplen = x[5].n;
	spec.dq = x[6].b, spec.dqlen = x[6].n;
	spec.qi = x[7].b, spec.qilen = x[7].n;
	if (!(k = calloc(1, sizeof *k))) {
		rc = SUIDO_ERR_NOMEM;
		goto out;
	}
	if (!(k->jwk = cjose_jwk_create_RSA_spec(&spec, &ce))) {
		rc = cjose_code(&ce, SUIDO_ERR_INVALID);
		suido_errf(err, errlen, "jose key: cjose refused the key: %s",
			   ce.message ? ce.message : "?");
		goto out;
	}
	k->mod_bytes = x[0].n;
	k->has_private = got[2];
	*out = k;
	k = NULL;
	rc = SUIDO_OK;
out:
	if (rc == SUIDO_ERR_NOMEM)
		suido_errf(err, errlen, "jose key: out of memory");
	for (int i = 0; i < 8; i++) {
		if (x[i].b)
			OPENSSL_cleanse(x[i].b, x[i].n);
		free(x[i].b);
	}
	jose_key_free(k);
	return rc;
}

void jose_key_free(struct jose_key *key)
{
	if (!key)
		return;
	/* cjose frees the RSA key with RSA_free, which clears its private parts. */
	cjose_jwk_release(key->jwk);
	free(key);
}

int jose_key_has_private(const struct jose_key *key)
{
	return key->has_private;
}

/* ---- JWS ---- */

int jose_sign(const void *payload, size_t len, const struct jose_key *signer, const char *kid,
	      size_t max, char **jws, char *err, size_t errlen)
{
	cjose_header_t *hdr = NULL;
	cjose_jws_t *cj = NULL;
	cjose_err ce = {0};
	const char *ser = NULL;
	size_t n;
	int rc;

	*jws = NULL;
	if (!max)
		max = JOSE_MAX_DEFAULT;
	if (!signer->has_private) {
		suido_errf(err, errlen, "jws: signing needs a private key");
		return SUIDO_ERR_INVALID;
	}
	if (kid && !arg_string_ok(kid)) {
		suido_errf(err, errlen, "jws: kid must be 1 to %d printable ASCII characters",
			   JOSE_KID_MAX);
		return SUIDO_ERR_INVALID;
	}
	/* Refuse before the work when the payload part alone is too long. */
	if (len > max || b64u_enclen(len) + 2 + b64u_enclen(signer->mod_bytes) > max) {
		suido_errf(err, errlen, "jws: a payload of %zu bytes exceeds the limit of %zu", len,
			   max);
		return SUIDO_ERR_LIMIT;
	}
	if (!(hdr = cjose_header_new(&ce))) {
		rc = SUIDO_ERR_NOMEM;
		goto fail;
	}
	if (!cjose_header_set(hdr, CJOSE_HDR_ALG, ALG_JWS, &ce) ||
	    (kid && !cjose_header_set(hdr, CJOSE_HDR_KID, kid, &ce))) {
		rc = cjose_code(&ce, SUIDO_ERR_INVALID);
		suido_errf(err, errlen, "jws: cannot set the header");
		goto out;
	}
	/* cjose wants a non-NULL buffer even for an empty payload. */
	if (!(cj = cjose_jws_sign(signer->jwk, hdr, payload ? payload : (const void *)"", len,
				  &ce)) ||
	    !cjose_jws_export(cj, &ser, &ce)) {
		rc = cjose_code(&ce, SUIDO_ERR_INVALID);
		suido_errf(err, errlen, "jws: signing failed: %s", ce.message ? ce.message : "?");
		goto out;
	}
	n = strlen(ser);
	if (n > max) {
		suido_errf(err, errlen, "jws: token of %zu bytes exceeds the limit of %zu", n, max);
		rc = SUIDO_ERR_LIMIT;
		goto out;
	}
	if (!(*jws = dup_bytes(ser, n))) {
		rc = SUIDO_ERR_NOMEM;
		goto fail;
	}
	rc = SUIDO_OK;
	goto out;
fail:
	suido_errf(err, errlen, "jws: out of memory");
out:
	cjose_jws_release(cj);
	cjose_header_release(hdr);
	return rc;
}

/* jose_verify, with the key given or looked up by kid (jose_open). */
static int verify_impl(const char *jws, size_t len, const struct jose_key *signer,
		       const struct jose_signer_lookup *lookup, size_t max, char **payload,
		       size_t *plen, char **kid_out, char *err, size_t errlen)
{
	struct part p[3];
	json_t *hdr = NULL;
	cjose_jws_t *cj = NULL;
	cjose_err ce = {0};
	const char *alg, *kid;
	const struct jose_key *key = signer;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	char shown[40];
	int rc;

	*payload = NULL;
	*plen = 0;
	if (kid_out)
		*kid_out = NULL;
	if (!max)
		max = JOSE_MAX_DEFAULT;
	if (len > max) {
		suido_errf(err, errlen, "jws: %zu bytes exceed the limit of %zu", len, max);
		return SUIDO_ERR_LIMIT;
	}
	if ((rc = split("jws", jws, len, p, 3, err, errlen)) != SUIDO_OK ||
	    (rc = parse_header("jws", &p[0], &hdr, err, errlen)) != SUIDO_OK)
		return rc;
	alg = json_string_value(json_object_get(hdr, "alg"));
	if (!alg || strcmp(alg, ALG_JWS) != 0) {
		suido_errf(err, errlen, "jws: alg \"%s\" refused (only " ALG_JWS ")",
			   alg ? printable(alg, shown, sizeof shown) : "(none)");
		rc = SUIDO_ERR_SIGNATURE;
		goto out;
	}
	if (json_object_get(hdr, "crit")) {
		suido_errf(err, errlen, "jws: \"crit\" header refused (no extension is understood)");
		rc = SUIDO_ERR_SIGNATURE;
		goto out;
	}
	if ((rc = header_string("jws", hdr, "kid", &kid, err, errlen)) != SUIDO_OK)
		goto out;
	if (!key) {
		if ((rc = lookup->find(lookup->ctx, kid, &key)) != SUIDO_OK) {
			suido_errf(err, errlen, "jws: no key for kid \"%s\": %s",
				   kid ? printable(kid, shown, sizeof shown) : "(none)",
				   suido_strerror(rc));
			goto out;
		}
		if (!key) {
			suido_errf(err, errlen, "jws: the key lookup returned no key");
			rc = SUIDO_ERR_SIGNATURE;
			goto out;
		}
	}
	if (b64u_declen(p[2].n) != key->mod_bytes) {
		suido_errf(err, errlen, "jws: signature of %zu bytes, the key's modulus has %zu",
			   b64u_declen(p[2].n), key->mod_bytes);
		rc = SUIDO_ERR_INVALID;
		goto out;
	}
	if (!(cj = cjose_jws_import(jws, len, &ce))) {
		rc = cjose_code(&ce, SUIDO_ERR_INVALID);
		suido_errf(err, errlen, "jws: cannot import: %s", ce.message ? ce.message : "?");
		goto out;
	}
	if (!cjose_jws_verify(cj, key->jwk, &ce)) {
		rc = cjose_code(&ce, SUIDO_ERR_SIGNATURE);
		suido_errf(err, errlen, "jws: signature does not verify");
		goto out;
	}
	if (!cjose_jws_get_plaintext(cj, &pt, &ptlen, &ce)) {
		rc = cjose_code(&ce, SUIDO_ERR_INVALID);
		suido_errf(err, errlen, "jws: no payload: %s", ce.message ? ce.message : "?");
		goto out;
	}
	if (!(*payload = dup_bytes(pt, ptlen)) || (kid_out && kid && !(*kid_out = strdup(kid)))) {
		rc = SUIDO_ERR_NOMEM;
		suido_errf(err, errlen, "jws: out of memory");
		goto out;
	}
	*plen = ptlen;
	rc = SUIDO_OK;
out:
	if (rc != SUIDO_OK) {
		free(*payload);
		*payload = NULL;
		*plen = 0;
		if (kid_out) {
			free(*kid_out);
			*kid_out = NULL;
		}
	}
	/* cjose's own copy of the payload is freed uncleansed by cjose; ours is
	 * the caller's. */
	cjose_jws_release(cj);
	json_decref(hdr);
	return rc;
}

int jose_verify(const char *jws, size_t len, const struct jose_key *signer, size_t max,
		char **payload, size_t *plen, char **kid, char *err, size_t errlen)
{
	return verify_impl(jws, len, signer, NULL, max, payload, plen, kid, err, errlen);
}

/* ---- JWE ---- */

int jose_encrypt(const void *plaintext, size_t len, const struct jose_key *recipient,
		 const char *cty, size_t max, char **jwe, char *err, size_t errlen)
{
	cjose_header_t *hdr = NULL;
	cjose_jwe_t *cj = NULL;
	cjose_err ce = {0};
	char *ser = NULL;
	size_t n, ctlen;
	int rc;

	*jwe = NULL;
	if (!max)
		max = JOSE_MAX_DEFAULT;
	if (cty && !arg_string_ok(cty)) {
		suido_errf(err, errlen, "jwe: cty must be 1 to %d printable ASCII characters",
			   JOSE_KID_MAX);
		return SUIDO_ERR_INVALID;
	}
	ctlen = (len / CBC_IV_LEN + 1) * CBC_IV_LEN; /* PKCS#7 always pads */
	if (len > max || b64u_enclen(ctlen) + b64u_enclen(recipient->mod_bytes) + 4 +
				 b64u_enclen(CBC_IV_LEN) + b64u_enclen(CBC_TAG_LEN) >
			 max) {
		suido_errf(err, errlen, "jwe: a plaintext of %zu bytes exceeds the limit of %zu",
			   len, max);
		return SUIDO_ERR_LIMIT;
	}
	if (!(hdr = cjose_header_new(&ce))) {
		rc = SUIDO_ERR_NOMEM;
		goto fail;
	}
	if (!cjose_header_set(hdr, CJOSE_HDR_ALG, ALG_JWE, &ce) ||
	    !cjose_header_set(hdr, CJOSE_HDR_ENC, ENC_JWE, &ce) ||
	    (cty && !cjose_header_set(hdr, CJOSE_HDR_CTY, cty, &ce))) {
		rc = cjose_code(&ce, SUIDO_ERR_INVALID);
		suido_errf(err, errlen, "jwe: cannot set the header");
		goto out;
	}
	/* cjose draws a new content key and IV with RAND_bytes for every JWE. */
	if (!(cj = cjose_jwe_encrypt(recipient->jwk, hdr,
				     plaintext ? plaintext : (const void *)"", len, &ce)) ||
	    !(ser = cjose_jwe_export(cj, &ce))) {
		rc = cjose_code(&ce, SUIDO_ERR_INVALID);
		suido_errf(err, errlen, "jwe: encryption failed: %s", ce.message ? ce.message : "?");
		goto out;
	}
	n = strlen(ser);
	if (n > max) {
		suido_errf(err, errlen, "jwe: token of %zu bytes exceeds the limit of %zu", n, max);
		rc = SUIDO_ERR_LIMIT;
		goto out;
	}
	if (!(*jwe = dup_bytes(ser, n))) {
		rc = SUIDO_ERR_NOMEM;
		goto fail;
	}
	rc = SUIDO_OK;
	goto out;
fail:
	suido_errf(err, errlen, "jwe: out of memory");
out:
	if (ser)
		cjose_get_dealloc()(ser);
	cjose_jwe_release(cj);
	cjose_header_release(hdr);
	return rc;
}

/* jose_decrypt, leaving the plaintext in cjose's buffer *pt (cleanse, then
 * free with cjose_get_dealloc()); nested = 1 also requires "cty":"JWT"
 * (jose_open, which verifies the content in place). */
static int decrypt_impl(const char *jwe, size_t len, const struct jose_key *recipient, size_t max,
			int nested, uint8_t **pt, size_t *ptlen, char *err, size_t errlen)
{
	struct part p[5];
	json_t *hdr = NULL;
	cjose_jwe_t *cj = NULL;
	cjose_err ce = {0};
	const char *alg, *enc, *cty;
	size_t ct;
	char shown[40];
	int rc;

	*pt = NULL;
	*ptlen = 0;
	if (!max)
		max = JOSE_MAX_DEFAULT;
	if (!recipient->has_private) {
		suido_errf(err, errlen, "jwe: decryption needs a private key");
		return SUIDO_ERR_INVALID;
	}
	if (len > max) {
		suido_errf(err, errlen, "jwe: %zu bytes exceed the limit of %zu", len, max);
		return SUIDO_ERR_LIMIT;
	}
	if ((rc = split("jwe", jwe, len, p, 5, err, errlen)) != SUIDO_OK ||
	    (rc = parse_header("jwe", &p[0], &hdr, err, errlen)) != SUIDO_OK)
		return rc;
	alg = json_string_value(json_object_get(hdr, "alg"));
	enc = json_string_value(json_object_get(hdr, "enc"));
	if (!alg || strcmp(alg, ALG_JWE) != 0) {
		suido_errf(err, errlen, "jwe: alg \"%s\" refused (only " ALG_JWE ")",
			   alg ? printable(alg, shown, sizeof shown) : "(none)");
		rc = SUIDO_ERR_DECRYPT;
		goto out;
	}
	if (!enc || strcmp(enc, ENC_JWE) != 0) {
		suido_errf(err, errlen, "jwe: enc \"%s\" refused (only " ENC_JWE ")",
			   enc ? printable(enc, shown, sizeof shown) : "(none)");
		rc = SUIDO_ERR_DECRYPT;
		goto out;
	}
	/* cjose ignores "zip": it would hand back compressed bytes as plaintext. */
	if (json_object_get(hdr, "zip") || json_object_get(hdr, "crit")) {
		suido_errf(err, errlen, "jwe: \"%s\" header refused",
			   json_object_get(hdr, "zip") ? "zip" : "crit");
		rc = SUIDO_ERR_DECRYPT;
		goto out;
	}
	if ((rc = header_string("jwe", hdr, "cty", &cty, err, errlen)) != SUIDO_OK)
		goto out;
	if (nested && (!cty || strcasecmp(cty, CTY_NESTED) != 0)) {
		suido_errf(err, errlen, "jwe: cty \"%s\", a sealed message has \"" CTY_NESTED "\"",
			   cty ? printable(cty, shown, sizeof shown) : "(none)");
		rc = SUIDO_ERR_INVALID;
		goto out;
	}
	/* cjose reads a whole AES block of IV and trusts the other lengths. */
	ct = b64u_declen(p[3].n);
	if (b64u_declen(p[1].n) != recipient->mod_bytes) {
		suido_errf(err, errlen, "jwe: encrypted key of %zu bytes, the key's modulus has %zu",
			   b64u_declen(p[1].n), recipient->mod_bytes);
		rc = SUIDO_ERR_INVALID;
	} else if (b64u_declen(p[2].n) != CBC_IV_LEN) {
		suido_errf(err, errlen, "jwe: IV of %zu bytes, not %d", b64u_declen(p[2].n),
			   CBC_IV_LEN);
		rc = SUIDO_ERR_INVALID;
	} else if (ct == 0 || ct % CBC_IV_LEN) {
		suido_errf(err, errlen, "jwe: ciphertext of %zu bytes is not whole AES blocks", ct);
		rc = SUIDO_ERR_INVALID;
	} else if (b64u_declen(p[4].n) != CBC_TAG_LEN) {
		suido_errf(err, errlen, "jwe: tag of %zu bytes, not %d", b64u_declen(p[4].n),
			   CBC_TAG_LEN);
		rc = SUIDO_ERR_INVALID;
	}
	if (rc != SUIDO_OK)
		goto out;
	if (!(cj = cjose_jwe_import(jwe, len, &ce))) {
		rc = cjose_code(&ce, SUIDO_ERR_INVALID);
		suido_errf(err, errlen, "jwe: cannot import: %s", ce.message ? ce.message : "?");
		goto out;
	}
	/* One message for a content key that does not decrypt and for a tag
	 * that does not match: the difference is of use to an attacker only. */
	if (!(*pt = cjose_jwe_decrypt(cj, recipient->jwk, ptlen, &ce))) {
		*ptlen = 0;
		rc = cjose_code(&ce, SUIDO_ERR_DECRYPT);
		suido_errf(err, errlen, "jwe: does not decrypt (wrong key or altered token)");
		goto out;
	}
	rc = SUIDO_OK;
out:
	cjose_jwe_release(cj);
	json_decref(hdr);
	return rc;
}

static void cjose_free_secret(uint8_t *p, size_t n)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, n);
	cjose_get_dealloc()(p);
}

int jose_decrypt(const char *jwe, size_t len, const struct jose_key *recipient, size_t max,
		 char **plaintext, size_t *plen, char *err, size_t errlen)
{
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	int rc;

	*plaintext = NULL;
	*plen = 0;
	rc = decrypt_impl(jwe, len, recipient, max, 0, &pt, &ptlen, err, errlen);
	if (rc == SUIDO_OK) {
		if ((*plaintext = dup_bytes(pt, ptlen))) {
			*plen = ptlen;
		} else {
			rc = SUIDO_ERR_NOMEM;
			suido_errf(err, errlen, "jwe: out of memory");
		}
	}
	cjose_free_secret(pt, ptlen);
	return rc;
}

/* ---- nested ---- */

int jose_seal(const void *payload, size_t len, const struct jose_key *signer, const char *kid,
	      const struct jose_key *recipient, size_t max, char **jwe, char *err, size_t errlen)
{
	char *jws = NULL;
	int rc;

	*jwe = NULL;
	if ((rc = jose_sign(payload, len, signer, kid, max, &jws, err, errlen)) != SUIDO_OK)
		return rc;
	rc = jose_encrypt(jws, strlen(jws), recipient, CTY_NESTED, max, jwe, err, errlen);
	/* The JWS carries the payload in clear. */
	OPENSSL_cleanse(jws, strlen(jws));
	free(jws);
	return rc;
}

int jose_open_jws(const char *jwe, size_t len, const struct jose_key *recipient,
		  const struct jose_key *signer, const struct jose_signer_lookup *lookup,
		  size_t max, char **payload, size_t *plen, char **kid, char **jws_out,
		  size_t *jws_len, char *err, size_t errlen)
{
	uint8_t *jws = NULL;
	size_t jwslen = 0;
	int rc;

	*payload = NULL;
	*plen = 0;
	if (kid)
		*kid = NULL;
	if (jws_out)
		*jws_out = NULL;
	if (jws_len)
		*jws_len = 0;
	if (!signer == !lookup) {
		suido_errf(err, errlen, "jose_open: give exactly one of signer and lookup");
		return SUIDO_ERR_INVALID;
	}
	if ((rc = decrypt_impl(jwe, len, recipient, max, 1, &jws, &jwslen, err, errlen)) ==
	    SUIDO_OK)
		rc = verify_impl((const char *)jws, jwslen, signer, lookup, max, payload, plen, kid,
				 err, errlen);
	/* Only a JWS that verified is handed out: the caller keeps it as the
	 * signed original of what it stores. */
	if (rc == SUIDO_OK && jws_out) {
		if (!(*jws_out = dup_bytes(jws, jwslen))) {
			rc = SUIDO_ERR_NOMEM;
			suido_errf(err, errlen, "jws: out of memory");
			free(*payload);
			*payload = NULL;
			*plen = 0;
			if (kid) {
				free(*kid);
				*kid = NULL;
			}
		} else if (jws_len) {
			*jws_len = jwslen;
		}
	}
	/* The JWS carries the payload in clear. */
	cjose_free_secret(jws, jwslen);
	return rc;
}

int jose_open(const char *jwe, size_t len, const struct jose_key *recipient,
	      const struct jose_key *signer, const struct jose_signer_lookup *lookup, size_t max,
	      char **payload, size_t *plen, char **kid, char *err, size_t errlen)
{
	return jose_open_jws(jwe, len, recipient, signer, lookup, max, payload, plen, kid, NULL,
			     NULL, err, errlen);
}
