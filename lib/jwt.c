/*
 * JSON Web Tokens with RS256 only (jwt.h): ID tokens and RFC 9068 access
 * tokens made by the OpenID Connect provider, checked by the AP interface,
 * and the JWK sets that publish and fetch the keys. A token is held to its
 * form before anything is decoded (size cap, exactly three canonical
 * unpadded base64url parts), its header to the one algorithm we speak (no
 * "none", no HMAC — the classic confusion where the RSA public key becomes
 * an HMAC secret — no "crit") and to a kid found in the caller's key set;
 * the header's "jwk", "jku", "x5u" and "x5c" are never looked at, so a token
 * cannot bring its own key. Only when the signature holds (OpenSSL's
 * EVP_DigestVerify, PKCS #1 v1.5 with SHA-256, over the signing input as
 * received) is the payload parsed, duplicate members refused, and the
 * claims checked against what the caller expects. Keys are EVP_PKEYs,
 * public ones built from a JWK's n and e with EVP_PKEY_fromdata.
 */
#include "suido/jwt.h"
#include "suido/b64url.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "suido/error.h"

#define ALG "RS256"
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384   /* OpenSSL's own cap on an RSA modulus it verifies with */
#define RSA_GEN_MAX_BITS 4096
#define RSA_E_MAX_BYTES 8    /* OpenSSL refuses larger public exponents for big moduli */
#define PEM_MAX_BYTES 65536  /* an RSA-16384 private key is about 12 KiB of PEM */
#define TYP_MAX 64

struct jwt_key {
	EVP_PKEY *pkey;
	char kid[JWT_KID_MAX + 1];
	int priv;
};

struct jwt_keyset {
	struct jwt_key *keys[JWKS_MAX_KEYS]; /* public halves, in the order added */
	size_t n;
};

/* One part of a compact serialization: a span of the caller's buffer. */
struct part {
	const char *s;
	size_t n;
};

/* ---- base64url (b64url.h) ---- */

/* Decodes p into out[b64url_decoded_len(p->n)], or only checks it when out
 * is NULL: the canonical form and the alphabet. Returns 1, or 0 (out then
 * holds garbage). */
static int b64u_decode(const struct part *p, unsigned char *out)
{
	if (!out)
		return b64url_valid(p->s, p->n);
	return b64url_canonical(p->s, p->n) && b64url_decode(p->s, p->n, out);
}

/* Encodes n bytes into a new NUL-terminated string; NULL when out of memory. */
static char *b64u_new(const unsigned char *in, size_t n)
{
	size_t cap = b64url_encoded_len(n) + 1;
	char *s = malloc(cap);

	if (s && b64url_encode(in, n, s, cap) != cap - 1) {
		free(s);
		s = NULL;
	}
	return s;
}

/* ---- keys ---- */

static int kid_ok(const char *kid)
{
	size_t n = 0;

	if (!kid)
		return 0;
	for (; kid[n]; n++) {
		char c = kid[n];

		if (n == JWT_KID_MAX ||
		    !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

static int rsa_bits_ok(const EVP_PKEY *pkey)
{
	int bits = EVP_PKEY_get_bits(pkey);

	/* "RSA" only: an RSA-PSS key refuses PKCS #1 v1.5 padding. */
	return EVP_PKEY_is_a(pkey, "RSA") && bits >= RSA_MIN_BITS && bits <= RSA_MAX_BITS;
}

/* Wraps pkey (taken over, freed on failure) as a key named kid. */
static int key_new(const char *kid, EVP_PKEY *pkey, struct jwt_key **out)
{
	struct jwt_key *k = calloc(1, sizeof *k);
	BIGNUM *d = NULL;

	*out = NULL;
	if (!k) {
		EVP_PKEY_free(pkey);
		return SUIDO_ERR_NOMEM;
	}
	assert(strlen(kid) <= JWT_KID_MAX);
	strcpy(k->kid, kid);
	k->pkey = pkey;
	ERR_set_mark();
	k->priv = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d) == 1;
	ERR_pop_to_mark();
	BN_clear_free(d);
	*out = k;
	return SUIDO_OK;
}

int jwt_key_generate(const char *kid, unsigned bits, struct jwt_key **out)
{
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = SUIDO_ERR_NOMEM;

	*out = NULL;
	if (!kid_ok(kid) || bits < RSA_MIN_BITS || bits > RSA_GEN_MAX_BITS)
		return SUIDO_ERR_INVALID;
	ERR_set_mark();
	if (!(pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) || EVP_PKEY_keygen_init(pc) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(pc, (int)bits) != 1 ||
	    EVP_PKEY_generate(pc, &pkey) != 1)
		goto out;
	rc = key_new(kid, pkey, out);
	pkey = NULL;
out:
	ERR_pop_to_mark();
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pc);
	return rc;
}

/* An encrypted PEM is refused rather than prompted for on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

int jwt_key_from_pem(const char *kid, const char *pem, size_t len, struct jwt_key **out,
		     char *err, size_t errlen)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = SUIDO_ERR_INVALID;

	*out = NULL;
	if (!kid_ok(kid)) {
		suido_errf(err, errlen, "jwt key: kid must be 1 to %d of [A-Za-z0-9._-]",
			   JWT_KID_MAX);
		return SUIDO_ERR_INVALID;
	}
	if (!pem || len == 0 || len > PEM_MAX_BYTES) {
		suido_errf(err, errlen, "jwt key: PEM of %zu bytes (1 to %d allowed)", len,
			   PEM_MAX_BYTES);
		return SUIDO_ERR_INVALID;
	}
	ERR_set_mark();
	if (!(bio = BIO_new_mem_buf(pem, (int)len))) {
		rc = SUIDO_ERR_NOMEM;
		suido_errf(err, errlen, "jwt key: out of memory");
		goto out;
	}
	/* The PEM label says which it is; a private key is tried first. */
	if (!(pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL))) {
		if (BIO_reset(bio) != 1) {
			suido_errf(err, errlen, "jwt key: cannot reread the PEM");
			goto out;
		}
		pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	}
	if (!pkey) {
		suido_errf(err, errlen, "jwt key: not an unencrypted PEM private or public key");
		goto out;
	}
	if (!rsa_bits_ok(pkey)) {
		suido_errf(err, errlen, "jwt key: not an RSA key of %d to %d bits (%s, %d bits)",
			   RSA_MIN_BITS, RSA_MAX_BITS,
			   EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?",
			   EVP_PKEY_get_bits(pkey));
		goto out;
	}
	rc = key_new(kid, pkey, out);
	pkey = NULL;
	if (rc != SUIDO_OK)
		suido_errf(err, errlen, "jwt key: out of memory");
out:
	ERR_pop_to_mark();
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return rc;
}

int jwt_key_private_pem(const struct jwt_key *k, char **pem)
{
	BIO *bio = NULL;
	char *data;
	long n;
	int rc = SUIDO_ERR_NOMEM;

	*pem = NULL;
	if (!k->priv)
		return SUIDO_ERR_INVALID;
	ERR_set_mark();
	/* A secure-memory BIO: its buffer is cleansed when it grows and when
	 * it is freed. */
	if (!(bio = BIO_new(BIO_s_secmem())) ||
	    PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || !(*pem = malloc((size_t)n + 1)))
		goto out;
	memcpy(*pem, data, (size_t)n);
	(*pem)[n] = '\0';
	rc = SUIDO_OK;
out:
	ERR_pop_to_mark();
	BIO_free(bio);
	return rc;
}

void jwt_pem_free(char *pem)
{
	if (!pem)
		return;
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
}

const char *jwt_key_kid(const struct jwt_key *k)
{
	return k->kid;
}

int jwt_key_is_private(const struct jwt_key *k)
{
	return k->priv;
}

void jwt_key_free(struct jwt_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

/* Builds a public RSA key from big-endian n and e. SUIDO_ERR_INVALID when n
 * or e is even, e is below 3 or not below n, or OpenSSL refuses the key;
 * SUIDO_ERR_NOMEM. Not EVP_PKEY_public_check: its SP 800-56B test runs
 * Miller-Rabin with random bases on n, so for some n (fuzzed ones) it
 * answered differently from one call to the next; a key set must parse the
 * same way every time. */
static int public_from_ne(const unsigned char *n, size_t nlen, const unsigned char *e,
			  size_t elen, EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = NULL;
	BIGNUM *bn = NULL, *be = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = SUIDO_ERR_NOMEM;

	*out = NULL;
	ERR_set_mark();
	if (!(bn = BN_bin2bn(n, (int)nlen, NULL)) || !(be = BN_bin2bn(e, (int)elen, NULL)) ||
	    !(bld = OSSL_PARAM_BLD_new()) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) ||
	    !(pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) || EVP_PKEY_fromdata_init(pc) != 1)
		goto out;
	rc = SUIDO_ERR_INVALID;
	if (EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	if (!BN_is_odd(bn) || !BN_is_odd(be) || BN_is_one(be) || BN_cmp(be, bn) >= 0 ||
	    !rsa_bits_ok(pkey))
		goto out;
	*out = pkey;
	pkey = NULL;
	rc = SUIDO_OK;
out:
	ERR_pop_to_mark();
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return rc;
}

/* Reads k's n and e as big-endian bytes (malloc'ed; free both). */
static int get_ne(const struct jwt_key *k, unsigned char **n, size_t *nlen, unsigned char **e,
		  size_t *elen)
{
	BIGNUM *bn = NULL, *be = NULL;
	int rc = SUIDO_ERR_NOMEM;

	*n = *e = NULL;
	ERR_set_mark();
	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &bn) != 1 ||
	    EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &be) != 1)
		goto out;
	*nlen = (size_t)BN_num_bytes(bn);
	*elen = (size_t)BN_num_bytes(be);
	if (!(*n = malloc(*nlen ? *nlen : 1)) || !(*e = malloc(*elen ? *elen : 1)))
		goto out;
	if (BN_bn2bin(bn, *n) != (int)*nlen || BN_bn2bin(be, *e) != (int)*elen)
		goto out;
	rc = SUIDO_OK;
out:
	ERR_pop_to_mark();
	if (rc != SUIDO_OK) {
		free(*n);
		free(*e);
		*n = *e = NULL;
	}
	BN_free(bn);
	BN_free(be);
	return rc;
}

/* ---- key sets ---- */

int jwt_keyset_create(struct jwt_keyset **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? SUIDO_OK : SUIDO_ERR_NOMEM;
}

static const struct jwt_key *keyset_find(const struct jwt_keyset *ks, const char *kid)
{
	for (size_t i = 0; i < ks->n; i++)
		if (strcmp(ks->keys[i]->kid, kid) == 0)
			return ks->keys[i];
	return NULL;
}

int jwt_keyset_add(struct jwt_keyset *ks, const struct jwt_key *k)
{
	unsigned char *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;
	EVP_PKEY *pub = NULL;
	int rc;

	if (keyset_find(ks, k->kid))
		return SUIDO_ERR_EXISTS;
	if (ks->n == JWKS_MAX_KEYS)
		return SUIDO_ERR_LIMIT;
	/* The public half only: a key set is published and shared. */
	if ((rc = get_ne(k, &n, &nlen, &e, &elen)) != SUIDO_OK)
		return rc;
	rc = public_from_ne(n, nlen, e, elen, &pub);
	free(n);
	free(e);
	if (rc == SUIDO_ERR_INVALID) /* a key we made or read: OpenSSL refused for memory */
		rc = SUIDO_ERR_NOMEM;
	if (rc != SUIDO_OK)
		return rc;
	if ((rc = key_new(k->kid, pub, &ks->keys[ks->n])) != SUIDO_OK)
		return rc;
	ks->n++;
	return SUIDO_OK;
}

size_t jwt_keyset_count(const struct jwt_keyset *ks)
{
	return ks->n;
}

void jwt_keyset_free(struct jwt_keyset *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++)
		jwt_key_free(ks->keys[i]);
	free(ks);
}

/* A JWK member that must be a string when present: NULL when absent, and
 * *bad = 1 when present but not a string. */
static const char *jwk_string(json_t *jwk, const char *name, int *bad)
{
	json_t *v = json_object_get(jwk, name);

	if (v && !json_is_string(v))
		*bad = 1;
	return json_string_value(v);
}

/* Decodes a JWK's n or e: a canonical base64url string of 1 to max bytes
 * without leading zero octets (RFC 7518 6.3.1). *out is malloc'ed. */
static int jwk_uint(json_t *jwk, const char *name, size_t max, unsigned char **out,
		    size_t *outlen)
{
	json_t *v = json_object_get(jwk, name);
	struct part p;
	size_t n;

	*out = NULL;
	if (!json_is_string(v))
		return SUIDO_ERR_INVALID;
	p.s = json_string_value(v);
	p.n = json_string_length(v);
	n = b64url_decoded_len(p.n);
	if (n == 0 || n > max)
		return SUIDO_ERR_INVALID;
	if (!(*out = malloc(n)))
		return SUIDO_ERR_NOMEM;
	if (!b64u_decode(&p, *out) || (*out)[0] == 0) {
		free(*out);
		*out = NULL;
		return SUIDO_ERR_INVALID;
	}
	*outlen = n;
	return SUIDO_OK;
}

/* Bits of a big-endian number without leading zero octets. */
static size_t be_bits(const unsigned char *b, size_t n)
{
	size_t bits = n * 8;

	for (unsigned char top = b[0]; !(top & 0x80); top = (unsigned char)(top << 1))
		bits--;
	return bits;
}

/* Whether the key_ops member, when present, allows "verify". */
static int key_ops_verify(json_t *jwk, int *bad)
{
	json_t *ops = json_object_get(jwk, "key_ops"), *op;
	size_t i;
	int found = 0;

	if (!ops)
		return 1;
	if (!json_is_array(ops)) {
		*bad = 1;
		return 0;
	}
	json_array_foreach (ops, i, op) {
		if (!json_is_string(op))
			*bad = 1;
		else if (strcmp(json_string_value(op), "verify") == 0)
			found = 1;
	}
	return found;
}

/* One entry of a JWK set: added to ks when kept, SUIDO_OK when skipped. */
static int jwks_entry(struct jwt_keyset *ks, json_t *jwk, size_t idx, char *err, size_t errlen)
{
	const char *kty, *use, *alg, *kid;
	unsigned char *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0, bits;
	EVP_PKEY *pkey = NULL;
	int bad = 0, rc, ops;

	if (!json_is_object(jwk)) {
		suido_errf(err, errlen, "jwks: key %zu is not an object", idx);
		return SUIDO_ERR_INVALID;
	}
	kty = jwk_string(jwk, "kty", &bad);
	use = jwk_string(jwk, "use", &bad);
	alg = jwk_string(jwk, "alg", &bad);
	kid = jwk_string(jwk, "kid", &bad);
	ops = key_ops_verify(jwk, &bad);
	if (bad || !kty) {
		suido_errf(err, errlen, "jwks: key %zu: kty missing or a member of the wrong type",
			   idx);
		return SUIDO_ERR_INVALID;
	}
	/* Keys for other uses or algorithms, and keys we could never look up,
	 * are someone else's business: skipped. */
	if (strcmp(kty, "RSA") != 0 || (use && strcmp(use, "sig") != 0) ||
	    (alg && strcmp(alg, ALG) != 0) || !ops || !kid_ok(kid))
		return SUIDO_OK;
	if ((rc = jwk_uint(jwk, "n", RSA_MAX_BITS / 8, &n, &nlen)) != SUIDO_OK ||
	    (rc = jwk_uint(jwk, "e", RSA_E_MAX_BYTES, &e, &elen)) != SUIDO_OK) {
		suido_errf(err, errlen,
			   rc == SUIDO_ERR_NOMEM ? "jwks: out of memory"
						 : "jwks: key \"%s\": n or e is not canonical "
						   "unpadded base64url of an unsigned integer",
			   kid);
		goto out;
	}
	bits = be_bits(n, nlen);
	if (bits < RSA_MIN_BITS)
		goto out; /* rc is SUIDO_OK: too weak to use, skipped */
	if (keyset_find(ks, kid)) {
		suido_errf(err, errlen, "jwks: kid \"%s\" twice", kid);
		rc = SUIDO_ERR_INVALID;
		goto out;
	}
	if (ks->n == JWKS_MAX_KEYS) {
		suido_errf(err, errlen, "jwks: more than %d usable keys", JWKS_MAX_KEYS);
		rc = SUIDO_ERR_LIMIT;
		goto out;
	}
	if ((rc = public_from_ne(n, nlen, e, elen, &pkey)) != SUIDO_OK) {
		suido_errf(err, errlen,
			   rc == SUIDO_ERR_NOMEM ? "jwks: out of memory"
						 : "jwks: key \"%s\" is not a usable RSA public key",
			   kid);
		goto out;
	}
	if ((rc = key_new(kid, pkey, &ks->keys[ks->n])) != SUIDO_OK) {
		suido_errf(err, errlen, "jwks: out of memory");
		goto out;
	}
	ks->n++;
out:
	free(n);
	free(e);
	return rc;
}

int jwt_keyset_from_jwks(const char *json, size_t len, struct jwt_keyset **out, char *err,
			 size_t errlen)
{
	struct jwt_keyset *ks = NULL;
	json_t *doc = NULL, *keys, *jwk;
	json_error_t je;
	size_t i;
	int rc;

	*out = NULL;
	if (len > JWKS_MAX_BYTES) {
		suido_errf(err, errlen, "jwks: %zu bytes exceed the limit of %d", len,
			   JWKS_MAX_BYTES);
		return SUIDO_ERR_LIMIT;
	}
	if (!json || len == 0) {
		suido_errf(err, errlen, "jwks: empty document");
		return SUIDO_ERR_INVALID;
	}
	if (!(doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je))) {
		suido_errf(err, errlen, "jwks: not JSON: %s", je.text);
		return SUIDO_ERR_INVALID;
	}
	keys = json_object_get(doc, "keys");
	if (!json_is_object(doc) || !json_is_array(keys)) {
		suido_errf(err, errlen, "jwks: not an object with a \"keys\" array");
		rc = SUIDO_ERR_INVALID;
		goto out;
	}
	if ((rc = jwt_keyset_create(&ks)) != SUIDO_OK) {
		suido_errf(err, errlen, "jwks: out of memory");
		goto out;
	}
	json_array_foreach (keys, i, jwk)
		if ((rc = jwks_entry(ks, jwk, i, err, errlen)) != SUIDO_OK)
			goto out;
	*out = ks;
	ks = NULL;
out:
	jwt_keyset_free(ks);
	json_decref(doc);
	return rc;
}

int jwt_keyset_to_jwks(const struct jwt_keyset *ks, char **out)
{
	json_t *doc = NULL, *arr = NULL, *jwk;
	unsigned char *n = NULL, *e = NULL;
	char *n64 = NULL, *e64 = NULL;
	size_t nlen, elen;
	int rc = SUIDO_ERR_NOMEM;

	*out = NULL;
	if (!(doc = json_object()) || !(arr = json_array()) ||
	    json_object_set_new(doc, "keys", arr) != 0)
		goto out;
	for (size_t i = 0; i < ks->n; i++) {
		if ((rc = get_ne(ks->keys[i], &n, &nlen, &e, &elen)) != SUIDO_OK)
			goto out;
		rc = SUIDO_ERR_NOMEM;
		if (!(n64 = b64u_new(n, nlen)) || !(e64 = b64u_new(e, elen)))
			goto out;
		jwk = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "use", "sig", "alg", ALG,
				"kid", ks->keys[i]->kid, "n", n64, "e", e64);
		if (!jwk || json_array_append_new(arr, jwk) != 0)
			goto out;
		free(n);
		free(e);
		free(n64);
		free(e64);
		n = e = NULL;
		n64 = e64 = NULL;
	}
	if (!(*out = json_dumps(doc, JSON_COMPACT)))
		goto out;
	rc = SUIDO_OK;
out:
	json_decref(doc);
	free(n);
	free(e);
	free(n64);
	free(e64);
	return rc;
}

/* ---- signing ---- */

static int typ_ok(const char *typ)
{
	size_t n = 0;

	for (; typ[n]; n++)
		if (n == TYP_MAX || typ[n] <= 0x20 || typ[n] > 0x7e || typ[n] == '"' ||
		    typ[n] == '\\')
			return 0;
	return n > 0;
}

/* Appends the base64url of n bytes to buf at *at (room checked by the caller). */
static void append_b64u(char *buf, size_t cap, size_t *at, const void *in, size_t n)
{
	*at += b64url_encode(in, n, buf + *at, cap - *at);
}

int jwt_sign(const struct jwt_key *k, const char *typ, const json_t *claims, char **out)
{
	json_t *hdr = NULL;
	char *h = NULL, *c = NULL, *tok = NULL;
	unsigned char sig[RSA_MAX_BITS / 8];
	size_t siglen = sizeof sig, cap, at = 0;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pc = NULL;
	int rc = SUIDO_ERR_NOMEM;

	*out = NULL;
	if (!typ)
		typ = "JWT";
	if (!k->priv || !json_is_object(claims) || !typ_ok(typ))
		return SUIDO_ERR_INVALID;
	/* Insertion order is kept by jansson: the header reads as jwt.h has it. */
	if (!(hdr = json_pack("{s:s,s:s,s:s}", "alg", ALG, "typ", typ, "kid", k->kid)) ||
	    !(h = json_dumps(hdr, JSON_COMPACT)) || !(c = json_dumps(claims, JSON_COMPACT)))
		goto out;
	if ((size_t)EVP_PKEY_get_size(k->pkey) > sizeof sig)
		goto out;
	cap = b64url_encoded_len(strlen(h)) + 1 + b64url_encoded_len(strlen(c)) + 1 +
	      b64url_encoded_len((size_t)EVP_PKEY_get_size(k->pkey)) + 1;
	if (cap > JWT_MAX_BYTES + 1) {
		rc = SUIDO_ERR_LIMIT;
		goto out;
	}
	if (!(tok = malloc(cap)))
		goto out;
	append_b64u(tok, cap, &at, h, strlen(h));
	tok[at++] = '.';
	append_b64u(tok, cap, &at, c, strlen(c));
	ERR_set_mark();
	if (!(md = EVP_MD_CTX_new()) ||
	    EVP_DigestSignInit_ex(md, &pc, "SHA256", NULL, NULL, k->pkey, NULL) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)tok, at) != 1) {
		ERR_pop_to_mark();
		goto out;
	}
	ERR_pop_to_mark();
	tok[at++] = '.';
	append_b64u(tok, cap, &at, sig, siglen);
	*out = tok;
	tok = NULL;
	rc = SUIDO_OK;
out:
	EVP_MD_CTX_free(md);
	free(tok);
	free(c);
	free(h);
	json_decref(hdr);
	return rc;
}

/* ---- verifying ---- */

const char *jwt_reason_text(enum jwt_reason r)
{
	switch (r) {
	case JWT_VALID: return "valid";
	case JWT_MALFORMED: return "malformed token";
	case JWT_BAD_ALG: return "algorithm not accepted (only RS256, no crit)";
	case JWT_UNKNOWN_KID: return "no kid, or a kid not in the key set";
	case JWT_BAD_SIGNATURE: return "signature does not verify";
	case JWT_BAD_TYP: return "token type (typ) not the expected one";
	case JWT_BAD_ISSUER: return "issuer (iss) not the expected one";
	case JWT_BAD_AUDIENCE: return "audience (aud) does not name us";
	case JWT_EXPIRED: return "expired, or no expiry (exp)";
	case JWT_NOT_YET: return "not yet valid (nbf or iat in the future)";
	case JWT_BAD_CLAIMS: return "a registered claim of the wrong type";
	}
	return "unknown reason";
}

/* Splits tok[len] into exactly three parts, each canonical base64url (the
 * signature may be empty: alg "none" reaches the alg check and is named). A
 * NUL, a space or a "=" is outside the alphabet. */
static int split3(const char *tok, size_t len, struct part p[3])
{
	const char *s = tok, *end = tok + len, *dot;
	size_t k = 0;

	for (;;) {
		if (k == 3)
			return 0;
		dot = memchr(s, '.', (size_t)(end - s));
		p[k].s = s;
		p[k].n = (size_t)((dot ? dot : end) - s);
		k++;
		if (!dot)
			break;
		s = dot + 1;
	}
	if (k != 3 || p[0].n == 0 || p[1].n == 0)
		return 0;
	for (k = 0; k < 3; k++)
		if (!b64u_decode(&p[k], NULL))
			return 0;
	return 1;
}

/* Decodes and parses a part as a JSON object, duplicate members refused (two
 * "alg" or two "aud" would let us and another library read different ones). */
static int part_json(const struct part *p, json_t **out)
{
	unsigned char buf[JWT_MAX_BYTES];
	size_t n = b64url_decoded_len(p->n);

	*out = NULL;
	if (n > sizeof buf || !b64u_decode(p, buf))
		return 0;
	*out = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
	if (*out && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
	}
	return *out != NULL;
}

/* typ matched as RFC 7515 4.1.9 has it: ASCII case ignored, the
 * "application/" prefix optional on either side. */
static int typ_matches(const char *got, const char *want)
{
	static const char app[] = "application/";

	if (strncasecmp(got, app, sizeof app - 1) == 0)
		got += sizeof app - 1;
	if (strncasecmp(want, app, sizeof app - 1) == 0)
		want += sizeof app - 1;
	return strcasecmp(got, want) == 0;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/* -1, 0 or 1 as the NumericDate v (integer or real) compares to t. */
static int date_cmp(json_t *v, int64_t t)
{
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		return x < t ? -1 : x > t;
	}
	double d = json_real_value(v), dt = (double)t;

	return d < dt ? -1 : d > dt;
}

/* The registered claims' types (RFC 7519 4.1): a claim of another type is
 * JWT_BAD_CLAIMS, whether or not the caller checks it. */
static int claim_types_ok(json_t *c)
{
	static const char *const dates[] = {"exp", "nbf", "iat"};
	static const char *const strings[] = {"iss", "sub", "jti"};
	json_t *v, *a;
	size_t i;

	for (i = 0; i < 3; i++)
		if ((v = json_object_get(c, dates[i])) && !json_is_number(v))
			return 0;
	for (i = 0; i < 3; i++)
		if ((v = json_object_get(c, strings[i])) && !json_is_string(v))
			return 0;
	if ((v = json_object_get(c, "aud")) && !json_is_string(v)) {
		if (!json_is_array(v))
			return 0;
		json_array_foreach (v, i, a)
			if (!json_is_string(a))
				return 0;
	}
	return 1;
}

static int audience_ok(json_t *aud, const char *want)
{
	json_t *a;
	size_t i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach (aud, i, a)
		if (strcmp(json_string_value(a), want) == 0)
			return 1;
	return 0;
}

static enum jwt_reason check_claims(json_t *c, const struct jwt_expect *e)
{
	json_t *iss, *exp, *nbf, *iat;
	int64_t leeway = e->leeway > 0 ? e->leeway : 0;
	int64_t past = sat_add(e->now, -leeway), future = sat_add(e->now, leeway);

	if (!claim_types_ok(c))
		return JWT_BAD_CLAIMS;
	iss = json_object_get(c, "iss");
	if (!iss || !e->issuer || strcmp(json_string_value(iss), e->issuer) != 0)
		return JWT_BAD_ISSUER;
	if (e->audience && !audience_ok(json_object_get(c, "aud"), e->audience))
		return JWT_BAD_AUDIENCE;
	if (!(exp = json_object_get(c, "exp")) || date_cmp(exp, past) <= 0)
		return JWT_EXPIRED;
	if ((nbf = json_object_get(c, "nbf")) && date_cmp(nbf, future) > 0)
		return JWT_NOT_YET;
	if ((iat = json_object_get(c, "iat")) && date_cmp(iat, future) > 0)
		return JWT_NOT_YET;
	return JWT_VALID;
}

/* RS256 over in[inlen]: 1 when sig verifies with pkey, 0 when not, -1 when
 * OpenSSL could not try (memory). */
static int rs256_verify(EVP_PKEY *pkey, const char *in, size_t inlen, const unsigned char *sig,
			size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	int r;

	if (!md)
		return -1;
	ERR_set_mark();
	if (EVP_DigestVerifyInit_ex(md, &pc, "SHA256", NULL, NULL, pkey, NULL) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) != 1)
		r = -1;
	else
		r = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)in, inlen) == 1;
	ERR_pop_to_mark();
	EVP_MD_CTX_free(md);
	return r;
}

int jwt_verify(const struct jwt_keyset *ks, const char *token, size_t len,
	       const struct jwt_expect *e, json_t **claims, enum jwt_reason *why)
{
	struct part p[3];
	json_t *hdr = NULL, *body = NULL;
	const struct jwt_key *key;
	const char *alg, *kid;
	unsigned char sig[RSA_MAX_BITS / 8];
	int rc = SUIDO_ERR_SIGNATURE, r;

	assert(ks && e && why);
	*why = JWT_MALFORMED;
	if (!token || len > JWT_MAX_BYTES || !split3(token, len, p) || !part_json(&p[0], &hdr))
		goto out;
	*why = JWT_BAD_ALG;
	alg = json_string_value(json_object_get(hdr, "alg"));
	if (!alg || strcmp(alg, ALG) != 0 || json_object_get(hdr, "crit"))
		goto out;
	/* jansson refuses "\u0000" in strings (no JSON_ALLOW_NUL), so strcmp
	 * sees the whole of every value. */
	*why = JWT_UNKNOWN_KID;
	if (!(kid = json_string_value(json_object_get(hdr, "kid"))) ||
	    !(key = keyset_find(ks, kid)))
		goto out;
	/* The signature is as long as the modulus, or it is not one. */
	*why = JWT_BAD_SIGNATURE;
	if (b64url_decoded_len(p[2].n) != (size_t)EVP_PKEY_get_size(key->pkey) ||
	    b64url_decoded_len(p[2].n) > sizeof sig || !b64u_decode(&p[2], sig))
		goto out;
	r = rs256_verify(key->pkey, token, (size_t)(p[1].s + p[1].n - token), sig,
			 b64url_decoded_len(p[2].n));
	if (r < 0) {
		rc = SUIDO_ERR_NOMEM;
		goto out;
	}
	if (!r)
		goto out;
	/* Signed by the key: from here on the header and payload are the
	 * issuer's words, checked against what the caller expects. */
	if (e->typ) {
		const char *typ = json_string_value(json_object_get(hdr, "typ"));

		*why = JWT_BAD_TYP;
		if (!typ || !typ_matches(typ, e->typ))
			goto out;
	}
	*why = JWT_MALFORMED;
	if (!part_json(&p[1], &body))
		goto out;
	if ((*why = check_claims(body, e)) != JWT_VALID)
		goto out;
	if (claims) {
		*claims = body;
		body = NULL;
	}
	rc = SUIDO_OK;
out:
	json_decref(body);
	json_decref(hdr);
	return rc;
}

/* ---- hashes ---- */

int jwt_half_hash(const char *value, size_t len, char out[JWT_HALF_HASH_TEXT])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok;

	out[0] = '\0';
	ERR_set_mark();
	ok = EVP_Digest(value, len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32;
	ERR_pop_to_mark();
	if (!ok)
		return SUIDO_ERR_NOMEM;
	b64url_encode(md, mdlen / 2, out, JWT_HALF_HASH_TEXT);
	return SUIDO_OK;
}
