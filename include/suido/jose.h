/*
 * Signing and encryption of JSON data profiles (seed 003 section 4): JWS
 * compact serialization with RS256 (RSASSA-PKCS1-v1_5 with SHA-256) and JWE
 * compact serialization with RSA-OAEP key encryption and A128CBC-HS256
 * content encryption (AES-128-CBC, HMAC-SHA-256), a fresh content key and IV
 * per message. A sealed message is a JWS nested in a JWE (sign, then
 * encrypt; the JWE carries "cty":"JWT"). Nothing else is produced and nothing
 * else is accepted: other algorithms, "zip", "crit", JSON serializations and
 * non-canonical base64url are refused. Tokens are made with cjose and opened
 * with OpenSSL 3's EVP interface directly (cjose's import decodes and copies
 * too much to be affordable per message); this module converts keys once,
 * checks the structure of every token before any cryptography and maps every
 * failure to one suido_err.
 * docs/protocol-jose.md is the normative description for vendors.
 *
 * Every function writes a one-line English detail into err[errlen] when it
 * fails (err may be NULL). Every output is allocated with malloc and is the
 * caller's to free() — after OPENSSL_cleanse where it holds plaintext the
 * caller considers secret; on failure every output is set to NULL (and a
 * length to 0). A struct jose_key is immutable once made and may be used by
 * several threads at once.
 *
 * Sizes: "max" bounds the serialized token a call reads or writes, in bytes;
 * 0 means JOSE_MAX_DEFAULT. A token made with a given max always opens with
 * the same max. A sealed message is about 16/9 of its payload plus 800 bytes
 * (2048-bit keys), so a receiver that accepts payloads of up to P bytes passes
 * max = 2 * P + 4096.
 */
#ifndef SUIDO_JOSE_H
#define SUIDO_JOSE_H

#include <stddef.h>

#include <openssl/evp.h>

#define JOSE_MAX_DEFAULT ((size_t)8 << 20) /* 8 MiB */
#define JOSE_KID_MAX 256                   /* bytes of a "kid" or "cty" we write or accept */

/* An RSA key converted once — a cjose JWK for making tokens, an EVP_PKEY of
 * its own for opening them: public (verify, encrypt) or private (all
 * operations). Opaque. */
struct jose_key;

/*
 * Converts an RSA key of 2048 to 16384 bits (public, or private with its CRT
 * parameters — without them every private operation is several times slower).
 * pkey is only read: it stays the caller's, and *out does not refer to it.
 * Returns SUIDO_OK and *out (free with jose_key_free), SUIDO_ERR_INVALID (not
 * RSA, too small or too large, parameters unreadable) or SUIDO_ERR_NOMEM.
 */
int jose_key_from_pkey(const EVP_PKEY *pkey, struct jose_key **out, char *err, size_t errlen);

/* Frees a key and cleanses its private parts; tolerates NULL. */
void jose_key_free(struct jose_key *key);

/* Returns 1 when key holds a private key, 0 when only the public one. */
int jose_key_has_private(const struct jose_key *key);

/*
 * Signs payload[len] (any bytes) as a JWS compact serialization with the
 * protected header {"alg":"RS256"} or {"alg":"RS256","kid":kid} (kid: NULL or
 * 1 to JOSE_KID_MAX printable ASCII characters). Returns SUIDO_OK and *jws (a NUL-
 * terminated string), SUIDO_ERR_LIMIT (the token would exceed max),
 * SUIDO_ERR_INVALID (signer has no private key, kid unusable) or
 * SUIDO_ERR_NOMEM.
 */
int jose_sign(const void *payload, size_t len, const struct jose_key *signer, const char *kid,
	      size_t max, char **jws, char *err, size_t errlen);

/*
 * Verifies a JWS compact serialization jws[len] with signer (public or
 * private) and returns its payload: *payload (malloc'ed, with a NUL after the
 * *plen bytes, which may themselves contain NULs) and, when kid is not NULL,
 * *kid: the protected header's "kid" (malloc'ed) or NULL when it has none.
 * Returns SUIDO_OK; SUIDO_ERR_LIMIT (len > max); SUIDO_ERR_INVALID (not three
 * base64url parts, a header that is not a JSON object without duplicate
 * members, a "kid" that is not a string of at most JOSE_KID_MAX bytes, a
 * signature not as long as signer's modulus — as when truncated);
 * SUIDO_ERR_SIGNATURE ("alg" other than RS256 — "none", HS256, PS256, ...;
 * a "crit" header; a signature that does not verify with signer);
 * SUIDO_ERR_NOMEM.
 */
int jose_verify(const char *jws, size_t len, const struct jose_key *signer, size_t max,
		char **payload, size_t *plen, char **kid, char *err, size_t errlen);

/*
 * Encrypts plaintext[len] for recipient (public or private) as a JWE compact
 * serialization with the protected header {"alg":"RSA-OAEP",
 * "enc":"A128CBC-HS256"} plus "cty":cty when cty is not NULL (1 to
 * JOSE_KID_MAX printable ASCII characters). A fresh random content key and IV each call.
 * Returns SUIDO_OK and *jwe (NUL-terminated), SUIDO_ERR_LIMIT (the token
 * would exceed max), SUIDO_ERR_INVALID (cty unusable) or SUIDO_ERR_NOMEM.
 */
int jose_encrypt(const void *plaintext, size_t len, const struct jose_key *recipient,
		 const char *cty, size_t max, char **jwe, char *err, size_t errlen);

/*
 * Decrypts a JWE compact serialization jwe[len] with recipient's private key.
 * Returns SUIDO_OK and *plaintext (malloc'ed, NUL after the *plen bytes);
 * SUIDO_ERR_LIMIT (len > max, or a ciphertext of 1 GiB or more);
 * SUIDO_ERR_INVALID (recipient has no private
 * key; not five base64url parts; a header that is not a JSON object without
 * duplicates; an encrypted key not as long as recipient's modulus — as when
 * encrypted for a key of another size; an IV or tag not of 16 bytes; a
 * ciphertext that is empty or not whole AES blocks); SUIDO_ERR_DECRYPT
 * ("alg" other than RSA-OAEP, "enc" other than A128CBC-HS256, a "zip" or
 * "crit" header; the content key does not decrypt with recipient, the
 * authentication tag does not match); SUIDO_ERR_NOMEM.
 */
int jose_decrypt(const char *jwe, size_t len, const struct jose_key *recipient, size_t max,
		 char **plaintext, size_t *plen, char *err, size_t errlen);

/*
 * Seals payload[len]: jose_sign with signer and kid, then jose_encrypt of the
 * JWS for recipient with "cty":"JWT". Returns SUIDO_OK and *jwe, or a code of
 * jose_sign or jose_encrypt (SUIDO_ERR_LIMIT when the JWS or the JWE would
 * exceed max).
 */
int jose_seal(const void *payload, size_t len, const struct jose_key *signer, const char *kid,
	      const struct jose_key *recipient, size_t max, char **jwe, char *err, size_t errlen);

/*
 * Chooses the key that verifies a sealed message's signature from the "kid"
 * of its JWS (NULL when the JWS has none). Sets *key, borrowed until the
 * jose_open call returns, and returns SUIDO_OK; or returns any other
 * suido_err (say SUIDO_ERR_NOTFOUND or SUIDO_ERR_CERT), which jose_open
 * then returns without verifying.
 */
struct jose_signer_lookup {
	int (*find)(void *ctx, const char *kid, const struct jose_key **key);
	void *ctx;
};

/*
 * Opens a sealed message: jose_decrypt with recipient (the JWE must carry
 * "cty":"JWT", ASCII case ignored), then jose_verify of the content with
 * signer — or, when signer is NULL, with the key lookup->find chooses by
 * the JWS's "kid" (exactly one of signer and lookup is not NULL). Returns
 * SUIDO_OK, *payload and *plen as jose_verify, and, when kid is not NULL,
 * *kid: the JWS protected header's "kid" (malloc'ed) or NULL. Returns a code
 * of jose_decrypt or jose_verify (the content of the JWE is at most max
 * bytes too), SUIDO_ERR_INVALID for a missing or other "cty" or when both or
 * neither of signer and lookup are given, or the code lookup->find returned.
 * The module's own copies of the JWS and of the payload are cleansed before
 * they are freed (jansson's copy of the JWS header, with its kid, is not).
 */
int jose_open(const char *jwe, size_t len, const struct jose_key *recipient,
	      const struct jose_key *signer, const struct jose_signer_lookup *lookup, size_t max,
	      char **payload, size_t *plen, char **kid, char *err, size_t errlen);

/*
 * jose_open that also hands back the signed original: when jws is not NULL,
 * *jws is the JWS compact serialization the JWE carried, exactly the bytes
 * that verified (malloc'ed, NUL after the *jws_len bytes; jws_len may be
 * NULL). It holds the payload in clear: cleanse it before free() where the
 * payload is secret. Set only on SUIDO_OK (else NULL and 0); the return codes
 * are jose_open's.
 */
int jose_open_jws(const char *jwe, size_t len, const struct jose_key *recipient,
		  const struct jose_key *signer, const struct jose_signer_lookup *lookup,
		  size_t max, char **payload, size_t *plen, char **kid, char **jws,
		  size_t *jws_len, char *err, size_t errlen);

#endif
