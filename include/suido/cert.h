/*
 * X.509 certificates for the platform, its gateways and the utilities'
 * applications: loading PEM keys, certificates, chains and CRLs; a trust
 * store of one root CA and its CRLs; verification of a certificate for one
 * use (data protection, TLS client, TLS server) at a given instant, with an
 * English reason when it is refused; and the small helpers the other modules
 * need (SHA-256 fingerprint, subject CN, serial, PEM output). Built on
 * OpenSSL 3's X509 API. Every PEM input is capped (CERT_PEM_MAX); encrypted
 * private keys are refused rather than prompting for a passphrase.
 */
#ifndef SUIDO_CERT_H
#define SUIDO_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* The largest PEM file or buffer accepted (a CRL of many revocations included). */
#define CERT_PEM_MAX (4u * 1024 * 1024)
/* The most certificates a chain may hold. */
#define CERT_CHAIN_MAX 16
/* Buffer sizes: lowercase SHA-256 hex + NUL; uppercase serial hex of up to
 * 20 octets (RFC 5280's limit) + NUL. */
#define CERT_FP_HEX_SIZE 65
#define CERT_SERIAL_HEX_SIZE 41

/*
 * What a certificate is used for. The values are bits so that a set of uses
 * (as given to ca_issue) is their OR; cert_verify checks exactly one.
 *   DATA_PROTECTION  keyUsage with digitalSignature and keyEncipherment and an
 *                    RSA key of at least 2048 bits (the data profile's session
 *                    key is wrapped with RSA, and profiles are signed)
 *   TLS_CLIENT       extendedKeyUsage clientAuth (keyUsage, if present, with
 *                    digitalSignature)
 *   TLS_SERVER       extendedKeyUsage serverAuth (keyUsage, if present, with
 *                    digitalSignature)
 */
enum cert_use {
	CERT_USE_TLS_CLIENT = 1u << 0,
	CERT_USE_TLS_SERVER = 1u << 1,
	CERT_USE_DATA_PROTECTION = 1u << 2,
};
#define CERT_USE_ALL (CERT_USE_TLS_CLIENT | CERT_USE_TLS_SERVER | CERT_USE_DATA_PROTECTION)

/* "tls-client", "tls-server", "data-protection"; "?" for anything else. */
const char *cert_use_name(enum cert_use use);

/*
 * Parses a comma-separated list of use names ("tls-client,data-protection")
 * into a nonzero bitmask. SUIDO_OK, or SUIDO_ERR_INVALID (unknown or empty
 * name, empty list) with detail in err.
 */
int cert_uses_parse(const char *list, unsigned *out, char *err, size_t errlen);

/*
 * Writes the names of the uses in mask, comma-separated, into buf[len].
 * SUIDO_OK or SUIDO_ERR_LIMIT when it does not fit (64 bytes always do).
 */
int cert_uses_format(unsigned mask, char *buf, size_t len);

/* ---- Loading. pem[0..len) is borrowed for the call only. ---- */

/*
 * Parses the first PEM private key in pem (PKCS#8 or traditional RSA/EC).
 * Returns SUIDO_OK and *out (caller frees with EVP_PKEY_free), or
 * SUIDO_ERR_INVALID (no key, malformed, encrypted, larger than CERT_PEM_MAX)
 * or SUIDO_ERR_NOMEM, with detail in err.
 */
int cert_key_load_pem(const char *pem, size_t len, EVP_PKEY **out, char *err, size_t errlen);

/*
 * Reads and parses the PEM private key file at path (symlinks are followed;
 * the buffer read is zeroed before it is freed). As cert_key_load_pem, plus
 * SUIDO_ERR_NOTFOUND when the file does not exist and SUIDO_ERR_IO when it
 * cannot be read.
 */
int cert_key_load_file(const char *path, EVP_PKEY **out, char *err, size_t errlen);

/*
 * Parses the one certificate in pem; text around the PEM block is ignored
 * but a second certificate is refused (use the chain loader). Returns
 * SUIDO_OK and *out (caller frees with X509_free), or SUIDO_ERR_INVALID
 * (none, two, malformed, too large) or SUIDO_ERR_NOMEM, with detail in err.
 */
int cert_load_pem(const char *pem, size_t len, X509 **out, char *err, size_t errlen);

/* As cert_load_pem from the file at path; plus SUIDO_ERR_NOTFOUND and _IO. */
int cert_load_file(const char *path, X509 **out, char *err, size_t errlen);

/*
 * Parses one or more (at most CERT_CHAIN_MAX) certificates, in file order.
 * Returns SUIDO_OK and *out (caller frees with sk_X509_pop_free(*out,
 * X509_free)), or
 * SUIDO_ERR_INVALID (none, malformed block, too many) or SUIDO_ERR_NOMEM.
 */
int cert_chain_load_pem(const char *pem, size_t len, STACK_OF(X509) **out, char *err,
			size_t errlen);

/* As cert_chain_load_pem from the file at path; plus SUIDO_ERR_NOTFOUND and _IO. */
int cert_chain_load_file(const char *path, STACK_OF(X509) **out, char *err, size_t errlen);

/*
 * Nonzero when key is the private key of cert's public key (the pairing a
 * program checks at start so a mismatched key file fails early).
 */
int cert_key_matches(X509 *cert, EVP_PKEY *key);

/* ---- The trust store: one root CA and zero or more of its CRLs. ---- */

struct cert_trust;

/*
 * Creates a trust store anchored at the one certificate in root_pem, which
 * must be a self-signed CA certificate (basicConstraints CA:TRUE, signature
 * verifying with its own key). Returns SUIDO_OK and *out (caller frees with
 * cert_trust_free), SUIDO_ERR_INVALID (PEM as cert_load_pem), SUIDO_ERR_CERT
 * (not a CA, not self-signed) or SUIDO_ERR_NOMEM, with detail in err.
 */
int cert_trust_new_pem(const char *root_pem, size_t len, struct cert_trust **out, char *err,
		       size_t errlen);

/* As cert_trust_new_pem from the file at path; plus SUIDO_ERR_NOTFOUND and _IO. */
int cert_trust_new_file(const char *path, struct cert_trust **out, char *err, size_t errlen);

/*
 * Adds every CRL in pem (at least one). Each must be issued by the root and
 * its signature must verify with the root's key. Once a trust holds a CRL,
 * every verification checks the leaf against the CRLs, and fails closed when
 * the newest CRL has expired ("CRL expired") at the verification instant.
 * Where several CRLs are held the newest (by thisUpdate) decides. Returns
 * SUIDO_OK, SUIDO_ERR_INVALID (no CRL, malformed), SUIDO_ERR_CERT (not
 * issued or signed by the root; nothing is added then) or SUIDO_ERR_NOMEM.
 */
int cert_trust_add_crl_pem(struct cert_trust *t, const char *pem, size_t len, char *err,
			   size_t errlen);

/* As cert_trust_add_crl_pem from the file at path; plus SUIDO_ERR_NOTFOUND and _IO. */
int cert_trust_add_crl_file(struct cert_trust *t, const char *path, char *err, size_t errlen);

/* Frees; tolerates NULL. */
void cert_trust_free(struct cert_trust *t);

/* The root certificate, borrowed until cert_trust_free. */
X509 *cert_trust_root(const struct cert_trust *t);

/*
 * The underlying X509_STORE (the root, the CRLs, and the CRL-check flag once a
 * CRL is held), borrowed until cert_trust_free; for a TLS context to share
 * with SSL_CTX_set1_verify_cert_store (which takes its own reference).
 */
X509_STORE *cert_trust_store(const struct cert_trust *t);

/*
 * Verifies cert for use at the instant at_unix_ms (UTC milliseconds; pass
 * timeutil_now_ms() for now): the chain from cert through untrusted_chain
 * (may be NULL; intermediates only, borrowed) must end at the trust's root;
 * every certificate must be valid at that instant; cert must not be revoked
 * by a CRL of the trust; keys must be at least 2048-bit RSA or 224-bit EC and
 * signatures no weaker than SHA-256 (OpenSSL security level 2); cert must be
 * an end-entity certificate with the key usages of use (see enum cert_use).
 *
 * Returns SUIDO_OK (reason is then ""), SUIDO_ERR_CERT with an English reason
 * in reason[len] ("untrusted issuer: ...", "not yet valid: ...", "expired:
 * ... on 2025-01-01T00:00:00Z", "revoked: serial 3A... ...", "wrong use: ..."),
 * or SUIDO_ERR_NOMEM. Several threads may verify with one trust at once, as
 * long as none is adding CRLs to it.
 */
int cert_verify(const struct cert_trust *t, X509 *cert, STACK_OF(X509) *untrusted_chain,
		enum cert_use use, int64_t at_unix_ms, char *reason, size_t len);

/* ---- Helpers. ---- */

/*
 * SHA-256 of the certificate's DER encoding as 64 lowercase hex digits (what
 * `openssl x509 -fingerprint -sha256` prints, without colons, lowercased).
 * SUIDO_OK or SUIDO_ERR_INVALID (the certificate cannot be encoded).
 */
int cert_fingerprint_sha256(const X509 *cert, char hex[CERT_FP_HEX_SIZE]);

/*
 * The subject's (last) commonName as UTF-8 into buf[len]. SUIDO_OK,
 * SUIDO_ERR_NOTFOUND (no CN), SUIDO_ERR_INVALID (not convertible to UTF-8 or
 * holding a NUL byte), SUIDO_ERR_LIMIT (does not fit; buf is then "").
 */
int cert_subject_cn(const X509 *cert, char *buf, size_t len);

/*
 * The serial number as uppercase hex (whole octets, as `openssl x509 -serial`
 * prints it) into buf[len]. SUIDO_OK, SUIDO_ERR_INVALID (negative or
 * unreadable serial), SUIDO_ERR_LIMIT (does not fit; CERT_SERIAL_HEX_SIZE
 * holds every RFC 5280 serial), SUIDO_ERR_NOMEM.
 */
int cert_serial_hex(const X509 *cert, char *buf, size_t len);

/*
 * PEM encoding of cert into a malloc'ed NUL-terminated buffer (caller frees
 * with free); *len (may be NULL) gets its length. SUIDO_OK, SUIDO_ERR_NOMEM
 * or SUIDO_ERR_INVALID.
 */
int cert_pem_encode(const X509 *cert, char **out, size_t *len);

/*
 * Unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY") of key into a malloc'ed
 * NUL-terminated buffer; *len (may be NULL) gets its length. The buffer holds
 * a secret: the caller frees it with cert_key_pem_free. Intermediate copies
 * are kept in OpenSSL's secure memory and zeroed. SUIDO_OK, SUIDO_ERR_NOMEM
 * or SUIDO_ERR_INVALID.
 */
int cert_key_pem_encode(const EVP_PKEY *key, char **out, size_t *len);

/* Zeroes (OPENSSL_cleanse up to its NUL) and frees a key PEM; tolerates NULL. */
void cert_key_pem_free(char *pem);

#endif
