/*
 * The XML data profile's security (seed 003 section 4, figures 4-2/4-3 and
 * 4-8/4-9, tables 4-2, 4-3 and 4-8): selected elements of a document are
 * signed (enveloped XML Signature, one Reference per element by Id,
 * Exclusive C14N 1.0 without comments, SHA-256, RSASSA-PKCS1-v1_5 with
 * SHA-256) and then encrypted in place (XML Encryption, Type Element,
 * AES-CBC under a fresh random session key, the session key RSA-OAEP
 * encrypted to the recipient), the rest of the document staying readable.
 * Everything cryptographic and every canonicalization is done by xmlsec1
 * (OpenSSL backend) on libxml2. docs/protocol-xml.md is the normative
 * description of the format.
 *
 * Elements are chosen by an XPath 1.0 expression evaluated on the document
 * ("//Body", "//Item[@kind='secret']"); the prefixes ds and xenc are
 * bound to the XML Signature and XML Encryption namespaces, no others: use
 * local-name()/namespace-uri() for namespaced elements.
 *
 * Input is parsed without network access, DTDs or entity expansion: a
 * document with a DOCTYPE is refused; the size is capped (struct
 * xmlseal_limits) and nesting depth is libxml2's default (256). Documents
 * are processed and output as UTF-8 whatever their declared encoding
 * (xmlsec encrypts UTF-8; see docs/protocol-xml.md).
 *
 * Cleanup: xmlseal_global_cleanup() releases xmlsec's and libxml2's global
 * state; tests call it at the end so LeakSanitizer stays quiet (no
 * suppression file is needed).
 *
 * Keys are RSA of at least 2048 bits, borrowed (the caller keeps ownership;
 * they are only read, so one EVP_PKEY may serve several threads). Outputs
 * are malloc'ed, NUL-terminated, and freed by the caller with free().
 *
 * Threads: xmlsec and libxml2 are initialised once on first use (under a
 * mutex); afterwards every function here may run concurrently on different
 * inputs. The library installs its own xmlsec error callback (process-wide)
 * to turn xmlsec's messages into err texts; nothing is printed to stderr.
 *
 * Errors: every function writes a one-line English reason into err[errlen]
 * (may be NULL) on failure. A receiver must answer the peer the same way for
 * every failure of xmlseal_open/xmlseal_decrypt/xmlseal_verify (log the
 * reason locally only): AES-CBC without a MAC (required by the seed) is
 * open to padding-oracle attacks when the failures can be told apart.
 */
#ifndef SUIDO_XMLSEAL_H
#define SUIDO_XMLSEAL_H

#include <stddef.h>

#include <openssl/types.h>

#define XMLSEAL_MAX_BYTES ((size_t)8 << 20) /* default input cap */
#define XMLSEAL_MAX_ELEMENTS 256            /* default cap on elements per operation */

struct xmlseal_limits {
	size_t max_bytes;    /* input size; 0 = XMLSEAL_MAX_BYTES */
	size_t max_elements; /* selected, referenced or encrypted elements; 0 = XMLSEAL_MAX_ELEMENTS */
};

/*
 * Signs the elements of xml[len] matched by xpath with key (RSA private) and
 * returns the document with an enveloped ds:Signature appended as the last
 * child of the document element. Each matched element gets one ds:Reference
 * URI="#<Id>" (an Id attribute "xs-<16 hex>" is added where missing), with
 * the transforms exc-c14n (preceded by enveloped-signature when the element
 * is the document element), DigestMethod sha256; SignatureMethod rsa-sha256,
 * CanonicalizationMethod exc-c14n. With cert non-NULL (it must match key)
 * ds:KeyInfo/ds:X509Data/ds:X509Certificate carries it; otherwise there is
 * no KeyInfo. lim may be NULL (defaults).
 * Returns SUIDO_OK with *out, *outlen (caller frees *out with free()),
 * SUIDO_ERR_INVALID (not well-formed, DOCTYPE present, xpath bad or matching
 * no element or a non-element, duplicate or malformed Id, a ds:Signature
 * already present, key not RSA >= 2048 or not matching cert, signing
 * failed), SUIDO_ERR_LIMIT (size or element cap) or SUIDO_ERR_NOMEM.
 */
int xmlseal_sign(const char *xml, size_t len, EVP_PKEY *key, X509 *cert, const char *xpath,
		 const struct xmlseal_limits *lim, char **out, size_t *outlen, char *err,
		 size_t errlen);

/*
 * Verifies the one ds:Signature of xml[len] with pub ONLY (any KeyInfo in
 * the document is ignored), requiring exc-c14n, rsa-sha256, sha256 digests,
 * only the transforms exc-c14n/enveloped-signature, and Reference URIs of
 * the form "" (the document element) or "#<NCName>". Against signature
 * wrapping: every Id attribute value must be unique, each Reference is
 * resolved to its element, and every element matched by xpath_required
 * (at least one must match) must be one of those element nodes or lie inside
 * one (outside ds:Signature): node identity, not names or Id values.
 * Returns SUIDO_OK, SUIDO_ERR_SIGNATURE (no or several signatures, a digest
 * or the signature value does not verify, disallowed algorithm or URI,
 * duplicate Id, a required element not signed or none found; reason in err),
 * SUIDO_ERR_INVALID (not well-formed, DOCTYPE, bad xpath_required, pub not
 * RSA >= 2048), SUIDO_ERR_LIMIT or SUIDO_ERR_NOMEM.
 */
int xmlseal_verify(const char *xml, size_t len, EVP_PKEY *pub, const char *xpath_required,
		   const struct xmlseal_limits *lim, char *err, size_t errlen);

/*
 * Replaces each element of xml[len] matched by xpath with an
 * xenc:EncryptedData (Type Element, aes<aes_bits>-cbc, aes_bits 128, 192 or
 * 256) holding ds:KeyInfo/xenc:EncryptedKey (rsa-oaep-mgf1p, SHA-1 digest
 * and MGF1-SHA-1, the only OAEP digest xmlsec1 1.2.37 interoperates with) to
 * recipient_pub. Every EncryptedData has its own fresh random session key.
 * A matched element inside another matched element is encrypted as part of
 * it. Returns SUIDO_OK with *out, *outlen (free() it), SUIDO_ERR_INVALID (as
 * for xmlseal_sign, aes_bits not allowed, or the document already holds
 * EncryptedData), SUIDO_ERR_LIMIT or SUIDO_ERR_NOMEM.
 */
int xmlseal_encrypt(const char *xml, size_t len, EVP_PKEY *recipient_pub, int aes_bits,
		    const char *xpath, const struct xmlseal_limits *lim, char **out,
		    size_t *outlen, char *err, size_t errlen);

/*
 * Decrypts every xenc:EncryptedData of xml[len] with priv (RSA private) and
 * puts the plaintext elements back in their place. Only the algorithms
 * xmlseal_encrypt writes are accepted (Type Element, aes-cbc, EncryptedKey
 * rsa-oaep-mgf1p with SHA-1, CipherValue; no CipherReference, no nesting).
 * Returns SUIDO_OK with *out, *outlen (free() it), SUIDO_ERR_DECRYPT (no
 * EncryptedData, disallowed structure or algorithm, wrong key, tampered
 * ciphertext, plaintext not XML), SUIDO_ERR_INVALID (input not well-formed
 * or DOCTYPE, priv not RSA >= 2048), SUIDO_ERR_LIMIT or SUIDO_ERR_NOMEM.
 */
int xmlseal_decrypt(const char *xml, size_t len, EVP_PKEY *priv,
		    const struct xmlseal_limits *lim, char **out, size_t *outlen, char *err,
		    size_t errlen);

/*
 * Sign then encrypt (the order of seed 003): xmlseal_sign(sign_key,
 * sign_cert, sign_xpath) followed by xmlseal_encrypt(recipient_pub,
 * aes_bits, enc_xpath) on the same document tree. Returns the codes of
 * either step; *out as above.
 */
int xmlseal_seal(const char *xml, size_t len, EVP_PKEY *sign_key, X509 *sign_cert,
		 const char *sign_xpath, EVP_PKEY *recipient_pub, int aes_bits,
		 const char *enc_xpath, const struct xmlseal_limits *lim, char **out,
		 size_t *outlen, char *err, size_t errlen);

/*
 * Decrypt then verify: xmlseal_decrypt(priv) followed by
 * xmlseal_verify(sender_pub, xpath_required) on the decrypted tree. On
 * SUIDO_OK *out is the decrypted document (ds:Signature still in it);
 * on any failure *out is left NULL. Returns the codes of either step.
 */
int xmlseal_open(const char *xml, size_t len, EVP_PKEY *priv, EVP_PKEY *sender_pub,
		 const char *xpath_required, const struct xmlseal_limits *lim, char **out,
		 size_t *outlen, char *err, size_t errlen);

/*
 * Releases xmlsec's, OpenSSL-glue and libxml2's global state (for leak
 * checkers at process exit). Only when no thread is inside this module; a
 * later call of any function above initialises again. Calls
 * xmlCleanupParser(), so nothing else in the process may still use libxml2.
 */
void xmlseal_global_cleanup(void);

#endif
