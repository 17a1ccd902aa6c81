/*
 * JWS (RS256) and JWE (RSA-OAEP + A128CBC-HS256) compact serializations for
 * the JSON data profile (jose.h). Tokens are made by cjose and opened by this
 * module on OpenSSL's EVP interface; nothing but the profile is accepted
 * (no "none", HMAC or PSS signature, no RSA1_5, key wrap, GCM or "dir", no
 * "zip", no "crit"). Every token is split, its base64url held to the
 * canonical unpadded form and to the alphabet, its protected header parsed
 * with duplicate members refused and held to the one algorithm pair we
 * speak, and every binary part's length checked against what the algorithm
 * and the key imply before any cryptography. Then it is opened in one pass:
 * each part is decoded once, straight into the buffer it ends up in, and the
 * cryptography is OpenSSL's (EVP_PKEY_decrypt for the RSA-OAEP unwrap,
 * EVP_MAC HMAC-SHA-256 and EVP_CIPHER AES-128-CBC for the content,
 * EVP_DigestVerify for RS256 over the signing input as received). Opening
 * through cjose's import cost, beyond the RSA operation, as much again at
 * 1,000 points per message: it decodes the JWS payload a second time, with
 * a slow decoder, and copies every part (docs/benchmarks.md). Keys are
 * converted once (struct jose_key): a cjose JWK with the CRT parameters for
 * making tokens, and a copy of the caller's EVP_PKEY, whose RSA blinding and
 * Montgomery contexts OpenSSL keeps across calls, for opening them — so that
 * opening a message costs one RSA private operation and little else.
 */
#include "suido/jose.h"
#include "suido/b64url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "suido/error.h"

#define ALG_JWS "RS256"
#define ALG_JWE "RSA-OAEP"
#define ENC_JWE "A128CBC-HS256"
#define CTY_NESTED "JWT"
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384
#define CBC_IV_LEN 16  /* AES block */
#define CBC_TAG_LEN 16 /* HMAC-SHA-256 truncated to half (RFC 7518 5.2.3) */
#define CBC_KEY_LEN 16 /* each half of the 32-byte content key (RFC 7518 5.2.3) */

/* The contexts for opening are set up once per key and only duplicated per
 * call: setting one up fetches algorithms from OpenSSL's provider store,
 * about 3 µs each, duplicating costs a tenth of that. The templates are only
 * read after jose_key_from_pkey, which OpenSSL allows from several threads. */
struct jose_key {
	cjose_jwk_t *jwk;        /* making tokens: jose_sign, jose_encrypt */
	EVP_PKEY *pkey;          /* opening them (our own copy of the caller's key) */
	EVP_MD_CTX *rs256;       /* RS256 verification with pkey, before any data */
	EVP_PKEY_CTX *oaep;      /* RSA-OAEP (SHA-1) decryption with pkey; NULL when public */
	EVP_MAC_CTX *hs256;      /* HMAC-SHA-256, before its key */
	EVP_CIPHER *aes128cbc;
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
	/* Outside the alphabet too, but worth its own message: a token cut
	 * short by a C string function on the way. */
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
		if (!b64url_canonical(parts[k].s, parts[k].n)) {
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
 * "alg" would let this module and the peer's JOSE library read different
 * algorithms). */
static int parse_header(const char *what, const struct part *p, json_t **out, char *err,
			size_t errlen)
{
	uint8_t *raw = NULL;
	size_t rawlen = b64url_decoded_len(p->n);
	json_error_t je;
	json_t *h = NULL;
	int rc;

	*out = NULL;
	if (p->n == 0) {
		suido_errf(err, errlen, "%s: empty protected header", what);
		return SUIDO_ERR_INVALID;
	}
	if (!(raw = malloc(rawlen))) {
		suido_errf(err, errlen, "%s: out of memory", what);
		return SUIDO_ERR_NOMEM;
	}
	if (!b64url_decode(p->s, p->n, raw)) {
		suido_errf(err, errlen, "%s: protected header: bad base64url", what);
		rc = SUIDO_ERR_INVALID;
		goto out;
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
	OPENSSL_cleanse(raw, rawlen); /* a JWS header inside a JWE is not public */
	free(raw);
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

/* Sets up k's copy of pkey and the templates of struct jose_key. Returns
 * SUIDO_OK or SUIDO_ERR_NOMEM (OpenSSL refused, most likely for memory). */
static int open_contexts(struct jose_key *k, const EVP_PKEY *pkey)
{
	OSSL_PARAM params[2];
	EVP_PKEY_CTX *pc = NULL;
	EVP_MAC *hmac = NULL;
	int rc = SUIDO_ERR_NOMEM;

	ERR_set_mark();
	/* EVP_PKEY_dup only reads its argument; the const is OpenSSL 3.0's
	 * omission. A copy, not a reference: the caller may free pkey. */
	if (!(k->pkey = EVP_PKEY_dup((EVP_PKEY *)pkey)) || !(k->rs256 = EVP_MD_CTX_new()) ||
	    EVP_DigestVerifyInit_ex(k->rs256, &pc, "SHA256", NULL, NULL, k->pkey, NULL) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) != 1)
		goto out;
	/* RSA-OAEP with SHA-1 and MGF1 with SHA-1 (RFC 7518 4.3; OpenSSL's MGF1
	 * digest is the OAEP digest unless set). */
	if (k->has_private &&
	    (!(k->oaep = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL)) ||
	     EVP_PKEY_decrypt_init(k->oaep) != 1 ||
	     EVP_PKEY_CTX_set_rsa_padding(k->oaep, RSA_PKCS1_OAEP_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_oaep_md_name(k->oaep, "SHA1", NULL) != 1))
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!(hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(k->hs256 = EVP_MAC_CTX_new(hmac)) ||
	    EVP_MAC_CTX_set_params(k->hs256, params) != 1 ||
	    !(k->aes128cbc = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL)))
		goto out;
	rc = SUIDO_OK;
out:
	EVP_MAC_free(hmac);
	ERR_pop_to_mark();
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
	if ((rc = open_contexts(k, pkey)) != SUIDO_OK)
		goto out;
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
	EVP_CIPHER_free(key->aes128cbc);
	EVP_MAC_CTX_free(key->hs256);
	EVP_PKEY_CTX_free(key->oaep);
	EVP_MD_CTX_free(key->rs256);
	/* cjose frees the RSA key with RSA_free and EVP_PKEY_free frees ours
	 * with it; both clear the private parts. */
	cjose_jwk_release(key->jwk);
	EVP_PKEY_free(key->pkey);
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
	if (len > max || b64url_encoded_len(len) + 2 + b64url_encoded_len(signer->mod_bytes) > max) {
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

/* RS256 (RSASSA-PKCS1-v1_5 with SHA-256) of in[inlen] — the token's
 * header "." payload as it is, which is what the signer signed, so that the
 * payload need not be encoded again. Returns SUIDO_OK, SUIDO_ERR_SIGNATURE
 * or SUIDO_ERR_NOMEM; leaves nothing on OpenSSL's error queue. */
static int rs256_verify(const struct jose_key *key, const char *in, size_t inlen,
			const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc;

	if (!md)
		return SUIDO_ERR_NOMEM;
	ERR_set_mark();
	if (EVP_MD_CTX_copy_ex(md, key->rs256) != 1)
		rc = SUIDO_ERR_NOMEM;
	else if (EVP_DigestVerify(md, sig, siglen, (const unsigned char *)in, inlen) != 1)
		rc = SUIDO_ERR_SIGNATURE;
	else
		rc = SUIDO_OK;
	ERR_pop_to_mark();
	EVP_MD_CTX_free(md);
	return rc;
}

/* jose_verify, with the key given or looked up by kid (jose_open). */
static int verify_impl(const char *jws, size_t len, const struct jose_key *signer,
		       const struct jose_signer_lookup *lookup, size_t max, char **payload,
		       size_t *plen, char **kid_out, char *err, size_t errlen)
{
	struct part p[3];
	json_t *hdr = NULL;
	const char *alg, *kid;
	const struct jose_key *key = signer;
	uint8_t sig[RSA_MAX_BITS / 8], *pl = NULL;
	size_t pllen = 0;
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
	if (b64url_decoded_len(p[2].n) != key->mod_bytes) {
		suido_errf(err, errlen, "jws: signature of %zu bytes, the key's modulus has %zu",
			   b64url_decoded_len(p[2].n), key->mod_bytes);
		rc = SUIDO_ERR_INVALID;
		goto out;
	}
	/* The payload is decoded once, into the buffer handed out, and before
	 * the signature is checked: a token that is not base64url is
	 * SUIDO_ERR_INVALID whatever its signature. */
	pllen = b64url_decoded_len(p[1].n);
	if (!(pl = malloc(pllen + 1))) {
		rc = SUIDO_ERR_NOMEM;
		suido_errf(err, errlen, "jws: out of memory");
		goto out;
	}
	if (!b64url_decode(p[1].s, p[1].n, pl) || !b64url_decode(p[2].s, p[2].n, sig)) {
		rc = SUIDO_ERR_INVALID;
		suido_errf(err, errlen, "jws: payload or signature is not base64url");
		goto out;
	}
	pl[pllen] = '\0';
	rc = rs256_verify(key, jws, (size_t)(p[1].s + p[1].n - jws), sig, key->mod_bytes);
	if (rc != SUIDO_OK) {
		suido_errf(err, errlen, rc == SUIDO_ERR_NOMEM ? "jws: out of memory"
							      : "jws: signature does not verify");
		goto out;
	}
	if (kid_out && kid && !(*kid_out = strdup(kid))) {
		rc = SUIDO_ERR_NOMEM;
		suido_errf(err, errlen, "jws: out of memory");
		goto out;
	}
	*payload = (char *)pl;
	*plen = pllen;
	pl = NULL;
	rc = SUIDO_OK;
out:
	/* What did not verify may still be a decrypted secret (jose_open). */
	if (pl) {
		OPENSSL_cleanse(pl, pllen);
		free(pl);
	}
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
	if (len > max || b64url_encoded_len(ctlen) + b64url_encoded_len(recipient->mod_bytes) + 4 +
				 b64url_encoded_len(CBC_IV_LEN) + b64url_encoded_len(CBC_TAG_LEN) >
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

/* Feeds the HMAC with n bytes. */
static int mac_update(EVP_MAC_CTX *mc, const void *p, size_t n)
{
	return EVP_MAC_update(mc, p, n) == 1;
}

/* A128CBC-HS256 decryption (RFC 7518 5.2.2.2) of the parts of a JWE that
 * passed decrypt_impl's checks, with the content key that the RSA-OAEP
 * encrypted key unwraps to. The ciphertext is decoded once into the buffer
 * handed out and decrypted in place once the tag matched. Returns SUIDO_OK
 * and *out (malloc'ed, NUL after the *outlen bytes), SUIDO_ERR_INVALID (a
 * part outside the base64url alphabet), SUIDO_ERR_DECRYPT, SUIDO_ERR_LIMIT
 * (a ciphertext of 1 GiB or more) or SUIDO_ERR_NOMEM; leaves nothing on
 * OpenSSL's error queue. */
static int cbc_hs256_open(const struct jose_key *rcpt, const struct part *p, uint8_t **out,
			  size_t *outlen, char *err, size_t errlen)
{
	uint8_t ek[RSA_MAX_BITS / 8], raw[RSA_MAX_BITS / 8], rnd[2 * CBC_KEY_LEN];
	uint8_t cek[2 * CBC_KEY_LEN], iv[CBC_IV_LEN], tag[CBC_TAG_LEN], mac[EVP_MAX_MD_SIZE], al[8];
	uint64_t aad_bits = (uint64_t)p[0].n * 8;
	size_t rawlen = sizeof raw, ctlen = b64url_decoded_len(p[3].n), maclen = 0;
	EVP_PKEY_CTX *pc = NULL;
	EVP_MAC_CTX *mc = NULL;
	EVP_CIPHER_CTX *cc = NULL;
	uint8_t *ct = NULL, ok;
	int rc, n1 = 0, n2 = 0, unwrapped;

	*out = NULL;
	*outlen = 0;
	/* EVP_DecryptUpdate counts in int. */
	if (ctlen >= (size_t)1 << 30) {
		suido_errf(err, errlen, "jwe: ciphertext of %zu bytes is too large", ctlen);
		return SUIDO_ERR_LIMIT;
	}
	if (!(ct = malloc(ctlen + 1))) {
		suido_errf(err, errlen, "jwe: out of memory");
		return SUIDO_ERR_NOMEM;
	}
	if (!b64url_decode(p[1].s, p[1].n, ek) || !b64url_decode(p[2].s, p[2].n, iv) ||
	    !b64url_decode(p[3].s, p[3].n, ct) || !b64url_decode(p[4].s, p[4].n, tag)) {
		suido_errf(err, errlen, "jwe: a part is not base64url");
		free(ct);
		return SUIDO_ERR_INVALID;
	}
	ERR_set_mark();
	if (!(pc = EVP_PKEY_CTX_dup(rcpt->oaep)) || !(mc = EVP_MAC_CTX_dup(rcpt->hs256)) ||
	    !(cc = EVP_CIPHER_CTX_new())) {
		suido_errf(err, errlen, "jwe: out of memory");
		rc = SUIDO_ERR_NOMEM;
		goto out;
	}
	/* From here on every failure is SUIDO_ERR_DECRYPT: what OpenSSL
	 * refuses here is no reason to retry the message. */
	rc = SUIDO_ERR_DECRYPT;
	if (RAND_bytes(rnd, sizeof rnd) != 1) {
		suido_errf(err, errlen, "jwe: no random bytes");
		goto out;
	}
	/* RSA-OAEP (rcpt->oaep). When the key does not unwrap, go on with a
	 * random one, chosen without a branch, so that a bad key costs the same
	 * as a bad tag and ends with the same message: telling them apart would
	 * be an oracle on the RSA operation (RFC 7516 11.5). */
	memset(raw, 0, sizeof cek); /* read below even when nothing was unwrapped */
	unwrapped = EVP_PKEY_decrypt(pc, raw, &rawlen, ek, rcpt->mod_bytes) == 1;
	unwrapped &= rawlen == sizeof cek;
	ok = (uint8_t)(0 - unwrapped);
	for (size_t i = 0; i < sizeof cek; i++)
		cek[i] = (uint8_t)((raw[i] & ok) | (rnd[i] & (uint8_t)~ok));
	/* M = HMAC-SHA-256(MAC_KEY, AAD || IV || ciphertext || AL), where the
	 * AAD is the encoded protected header as sent and AL its length in
	 * bits, 64-bit big-endian; the tag is the first half of M. */
	for (int i = 0; i < 8; i++)
		al[i] = (uint8_t)(aad_bits >> (56 - 8 * i));
	if (EVP_MAC_init(mc, cek, CBC_KEY_LEN, NULL) != 1 || !mac_update(mc, p[0].s, p[0].n) ||
	    !mac_update(mc, iv, sizeof iv) || !mac_update(mc, ct, ctlen) ||
	    !mac_update(mc, al, sizeof al) || EVP_MAC_final(mc, mac, &maclen, sizeof mac) != 1 ||
	    maclen < CBC_TAG_LEN) {
		suido_errf(err, errlen, "jwe: OpenSSL's HMAC-SHA-256 failed");
		goto out;
	}
	/* One message for a content key that does not decrypt and for a tag
	 * that does not match: the difference is of use to an attacker only.
	 * The padding is checked only under a valid tag, so it is no oracle
	 * either. */
	if ((CRYPTO_memcmp(mac, tag, CBC_TAG_LEN) != 0) | !unwrapped ||
	    EVP_DecryptInit_ex2(cc, rcpt->aes128cbc, cek + CBC_KEY_LEN, iv, NULL) != 1 ||
	    EVP_DecryptUpdate(cc, ct, &n1, ct, (int)ctlen) != 1 ||
	    EVP_DecryptFinal_ex(cc, ct + n1, &n2) != 1) {
		suido_errf(err, errlen, "jwe: does not decrypt (wrong key or altered token)");
		goto out;
	}
	*outlen = (size_t)n1 + (size_t)n2;
	ct[*outlen] = '\0';
	*out = ct;
	ct = NULL;
	rc = SUIDO_OK;
out:
	ERR_pop_to_mark();
	if (ct) {
		OPENSSL_cleanse(ct, ctlen);
		free(ct);
	}
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(cek, sizeof cek);
	OPENSSL_cleanse(rnd, sizeof rnd);
	OPENSSL_cleanse(mac, sizeof mac);
	EVP_CIPHER_CTX_free(cc);
	EVP_MAC_CTX_free(mc);
	EVP_PKEY_CTX_free(pc);
	return rc;
}

/* jose_decrypt, leaving the plaintext in *pt (malloc'ed, NUL after the
 * *ptlen bytes; cleanse, then free); nested = 1 also requires "cty":"JWT"
 * (jose_open, which verifies the content in place). */
static int decrypt_impl(const char *jwe, size_t len, const struct jose_key *recipient, size_t max,
			int nested, uint8_t **pt, size_t *ptlen, char *err, size_t errlen)
{
	struct part p[5];
	json_t *hdr = NULL;
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
	/* A "zip" plaintext would be handed back compressed. */
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
	/* The lengths the algorithms and the key imply: cbc_hs256_open decodes
	 * into buffers of these sizes. */
	ct = b64url_decoded_len(p[3].n);
	if (b64url_decoded_len(p[1].n) != recipient->mod_bytes) {
		suido_errf(err, errlen, "jwe: encrypted key of %zu bytes, the key's modulus has %zu",
			   b64url_decoded_len(p[1].n), recipient->mod_bytes);
		rc = SUIDO_ERR_INVALID;
	} else if (b64url_decoded_len(p[2].n) != CBC_IV_LEN) {
		suido_errf(err, errlen, "jwe: IV of %zu bytes, not %d", b64url_decoded_len(p[2].n),
			   CBC_IV_LEN);
		rc = SUIDO_ERR_INVALID;
	} else if (ct == 0 || ct % CBC_IV_LEN) {
		suido_errf(err, errlen, "jwe: ciphertext of %zu bytes is not whole AES blocks", ct);
		rc = SUIDO_ERR_INVALID;
	} else if (b64url_decoded_len(p[4].n) != CBC_TAG_LEN) {
		suido_errf(err, errlen, "jwe: tag of %zu bytes, not %d", b64url_decoded_len(p[4].n),
			   CBC_TAG_LEN);
		rc = SUIDO_ERR_INVALID;
	}
	if (rc != SUIDO_OK)
		goto out;
	rc = cbc_hs256_open(recipient, p, pt, ptlen, err, errlen);
out:
	json_decref(hdr);
	return rc;
}

static void free_secret(uint8_t *p, size_t n)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}

int jose_decrypt(const char *jwe, size_t len, const struct jose_key *recipient, size_t max,
		 char **plaintext, size_t *plen, char *err, size_t errlen)
{
	uint8_t *pt = NULL;
	int rc;

	*plaintext = NULL;
	*plen = 0;
	rc = decrypt_impl(jwe, len, recipient, max, 0, &pt, plen, err, errlen);
	*plaintext = (char *)pt;
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
	 * signed original of what it stores. It is the decrypted buffer
	 * itself, NUL-terminated by decrypt_impl. */
	if (rc == SUIDO_OK && jws_out) {
		*jws_out = (char *)jws;
		if (jws_len)
			*jws_len = jwslen;
		jws = NULL;
	}
	/* The JWS carries the payload in clear. */
	free_secret(jws, jwslen);
	return rc;
}

int jose_open(const char *jwe, size_t len, const struct jose_key *recipient,
	      const struct jose_key *signer, const struct jose_signer_lookup *lookup, size_t max,
	      char **payload, size_t *plen, char **kid, char *err, size_t errlen)
{
	return jose_open_jws(jwe, len, recipient, signer, lookup, max, payload, plen, kid, NULL,
			     NULL, err, errlen);
}
