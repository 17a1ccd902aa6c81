/*
 * JSON Web Tokens (RFC 7519) for the OpenID Connect provider and the AP
 * interface's bearer check: ID tokens (OIDC Core 2), access tokens in the
 * RFC 9068 profile (header typ "at+jwt"), and JWK sets (RFC 7517) to publish
 * and to fetch. Only RS256 (RSASSA-PKCS1-v1_5 SHA-256, RSA >= 2048 bits) is
 * made or accepted: "none", HS256 (even keyed with our public key), any
 * other alg, a "crit" header, a kid that is not in the key set, and a token
 * without a kid are all refused. Signing and verifying are done on OpenSSL
 * EVP; JSON with jansson (duplicate keys refused). Base64url must be
 * canonical, without padding.
 *
 * Thread-safety: keys and key sets are immutable after they are made and
 * may be shared between threads for signing and verifying.
 */
#ifndef SUIDO_JWT_H
#define SUIDO_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define JWT_MAX_BYTES 16384   /* a token longer than this is refused unread */
#define JWT_KID_MAX 64        /* bytes of a kid: [A-Za-z0-9._-] only */
#define JWKS_MAX_BYTES 262144 /* a JWK set document */
#define JWKS_MAX_KEYS 32      /* keys kept from one JWK set */

/* An RSA signing key with its kid: private (can sign) or public only. */
struct jwt_key;

/* Generates a fresh RSA key of bits (2048..4096) named kid.
 * Returns SUIDO_OK and *out (free with jwt_key_free), SUIDO_ERR_INVALID (bad
 * kid or size) or SUIDO_ERR_NOMEM. */
int jwt_key_generate(const char *kid, unsigned bits, struct jwt_key **out);

/* Reads a PEM private key (PKCS#8 or traditional RSA) or a PEM public key
 * (SubjectPublicKeyInfo) named kid. Returns SUIDO_OK and *out,
 * SUIDO_ERR_INVALID (not an RSA key of >= 2048 bits, bad kid) with detail in
 * err, or SUIDO_ERR_NOMEM. Never puts key bytes into err. */
int jwt_key_from_pem(const char *kid, const char *pem, size_t len, struct jwt_key **out,
		     char *err, size_t errlen);

/* Writes the private key as unencrypted PKCS#8 PEM into *pem (NUL-terminated,
 * caller frees with jwt_pem_free, which zeroes it). SUIDO_ERR_INVALID for a
 * public-only key. */
int jwt_key_private_pem(const struct jwt_key *k, char **pem);
void jwt_pem_free(char *pem);

const char *jwt_key_kid(const struct jwt_key *k);     /* borrowed for k's life */
int jwt_key_is_private(const struct jwt_key *k);      /* 1 or 0 */
void jwt_key_free(struct jwt_key *k);                 /* tolerates NULL */

/* A set of public keys, looked up by kid. */
struct jwt_keyset;

/* An empty set. SUIDO_OK or SUIDO_ERR_NOMEM. */
int jwt_keyset_create(struct jwt_keyset **out);

/* Adds the public half of k (copied; k stays the caller's). SUIDO_OK,
 * SUIDO_ERR_EXISTS when the kid is already in the set, SUIDO_ERR_LIMIT
 * beyond JWKS_MAX_KEYS, SUIDO_ERR_NOMEM. */
int jwt_keyset_add(struct jwt_keyset *ks, const struct jwt_key *k);

/* Parses a JWK set document ({"keys":[...]}). RSA keys with "use" absent or
 * "sig", "alg" absent or "RS256", "key_ops" absent or holding "verify", a
 * valid kid and >= 2048 bits are kept; other keys (EC, "enc", other algs,
 * no kid or one outside [A-Za-z0-9._-], too small) are skipped, not errors.
 * A kept key's n and e must be canonical unpadded base64url without leading
 * zero octets; private members (d, p, ...) are ignored. Returns
 * SUIDO_OK and *out, SUIDO_ERR_INVALID (not JSON, no "keys" array, a kept
 * key malformed, a kid twice) with detail in err, SUIDO_ERR_LIMIT (document
 * or key count over the caps), SUIDO_ERR_NOMEM. */
int jwt_keyset_from_jwks(const char *json, size_t len, struct jwt_keyset **out, char *err,
			 size_t errlen);

/* Writes the set as a JWK set document: {"keys":[{"kty":"RSA","use":"sig",
 * "alg":"RS256","kid":...,"n":...,"e":...}, ...]} in the order added.
 * *out is NUL-terminated, caller frees with free(). SUIDO_OK or
 * SUIDO_ERR_NOMEM. */
int jwt_keyset_to_jwks(const struct jwt_keyset *ks, char **out);

size_t jwt_keyset_count(const struct jwt_keyset *ks);
void jwt_keyset_free(struct jwt_keyset *ks); /* tolerates NULL */

/* Signs claims (a JSON object, borrowed) with k: header
 * {"alg":"RS256","typ":typ,"kid":<k's kid>} (typ NULL: "JWT"; else 1 to 64
 * printable ASCII characters without space, quote or backslash). *out is
 * the compact token, NUL-terminated, caller frees with free(). Returns
 * SUIDO_OK, SUIDO_ERR_INVALID (public-only key, claims not an object, typ
 * unusable), SUIDO_ERR_LIMIT (the token would exceed JWT_MAX_BYTES, which
 * jwt_verify refuses), SUIDO_ERR_NOMEM. */
int jwt_sign(const struct jwt_key *k, const char *typ, const json_t *claims, char **out);

/* Why a token was refused; each has a fixed English text (jwt_reason_text). */
enum jwt_reason {
	JWT_VALID = 0,
	JWT_MALFORMED,   /* not three canonical base64url parts, bad JSON, too long */
	JWT_BAD_ALG,     /* alg is not RS256 (none, HS256, ...) or crit present */
	JWT_UNKNOWN_KID, /* no kid, or a kid not in the key set */
	JWT_BAD_SIGNATURE,
	JWT_BAD_TYP,     /* header typ differs from the expected one */
	JWT_BAD_ISSUER,
	JWT_BAD_AUDIENCE,
	JWT_EXPIRED,     /* exp <= now - leeway, or exp missing */
	JWT_NOT_YET,     /* nbf or iat > now + leeway */
	JWT_BAD_CLAIMS,  /* a registered claim of the wrong type (exp not a number, ...) */
};
const char *jwt_reason_text(enum jwt_reason r);

/* What a token must satisfy. */
struct jwt_expect {
	const char *issuer;   /* iss must equal it exactly; required */
	const char *audience; /* aud (string, or array holding it) must name it; NULL: not checked */
	const char *typ;      /* header typ must equal it (case-insensitive, with or without
				 "application/"); NULL: not checked */
	int64_t now;          /* seconds since the epoch (the caller's clock, injectable) */
	int64_t leeway;       /* seconds of clock skew allowed on exp, nbf, iat (< 0: 0) */
};

/*
 * Verifies token (len bytes, need not be NUL-terminated) against the key
 * named by its kid in ks, then the claims against e, in that order
 * (nothing from the payload is trusted before the signature holds).
 * Returns SUIDO_OK with *why = JWT_VALID and *claims (a new reference, caller
 * json_decref's) when claims != NULL; SUIDO_ERR_SIGNATURE with *why saying
 * which check failed (claims untouched); SUIDO_ERR_NOMEM (*why then says how
 * far the token got, claims untouched). Registered claims of the wrong type
 * (exp, nbf, iat not numbers; iss, sub, jti not strings; aud neither a
 * string nor an array of strings) are JWT_BAD_CLAIMS whether or not e
 * checks them; the order of the claim checks is types, iss, aud, exp, nbf,
 * iat. A NULL e->issuer refuses every token (JWT_BAD_ISSUER).
 */
int jwt_verify(const struct jwt_keyset *ks, const char *token, size_t len,
	       const struct jwt_expect *e, json_t **claims, enum jwt_reason *why);

/* The OIDC at_hash / c_hash of an access token or code for RS256: base64url
 * of the left half of SHA-256(value), written NUL-terminated into out
 * (22 characters and the NUL). SUIDO_OK, or SUIDO_ERR_NOMEM when OpenSSL
 * fails (out is then ""). */
#define JWT_HALF_HASH_TEXT 23
int jwt_half_hash(const char *value, size_t len, char out[JWT_HALF_HASH_TEXT]);

#endif
