/*
 * Sealing of the gateway's data messages (seed 003 section 4, docs/protocol.md):
 * with [security] format = json every data message leaves the gateway as a
 * JWE compact token of a JWS (jose_seal) signed with the gateway's key under
 * kid = gateway id and encrypted for the platform's data-protection
 * certificate. With format = xml it leaves as the XML data profile
 * (profile_xml.h) with an enveloped XML Signature of the whole Data element
 * by the gateway's key and its Points element encrypted (AES-128-CBC, the
 * session key RSA-OAEP) for the same certificate (xmlseal_seal,
 * docs/protocol-xml.md). Keys are read, checked and converted once at
 * start; the queue keeps the plaintext (JSON in both cases) and each publish
 * (a resend too) is sealed anew, so every transmission gets a fresh content
 * key.
 */
#ifndef SUIDO_GATEWAY_GWSEAL_H
#define SUIDO_GATEWAY_GWSEAL_H

#include <stddef.h>

#include <openssl/evp.h>

#include "gwconf.h"

struct gwseal;

/*
 * Loads g's [security] keys. For format = plain sets *out to NULL and
 * returns SUIDO_OK (messages go out as plaintext). For json and xml: the gateway key
 * must be RSA of at least 2048 bits, the platform certificate must carry the
 * data-protection key usages with an RSA key of at least 2048 bits, and, when
 * g->ca_path is set, verify now against that root (cert_verify). Returns
 * SUIDO_OK and *out (free with gwseal_free), or SUIDO_ERR_NOTFOUND / _IO
 * (a file), SUIDO_ERR_INVALID (a malformed or unsuitable key), SUIDO_ERR_CERT
 * (the certificate is refused) or SUIDO_ERR_NOMEM, with detail in err.
 */
int gwseal_load(const struct gw_config *g, struct gwseal **out, char *err, size_t errlen);

/* Frees (cleansing the private key); tolerates NULL. */
void gwseal_free(struct gwseal *s);

/*
 * Seals payload[len] (a JSON data message, profile_encode's output).
 * Returns SUIDO_OK and *token (NUL-terminated, caller frees with free) and
 * *toklen: a JWE compact token (json) or the sealed XML document (xml).
 * Otherwise a code of jose_seal or, for xml, of profile_decode,
 * profile_xml_encode (SUIDO_ERR_INVALID: a text XML 1.0 cannot carry) or
 * xmlseal_seal (SUIDO_ERR_LIMIT when the result would exceed 8 MiB,
 * SUIDO_ERR_NOMEM), with detail in err.
 */
int gwseal_seal(const struct gwseal *s, const void *payload, size_t len, char **token,
		size_t *toklen, char *err, size_t errlen);

/* The subject CN of the platform certificate sealed to (for the start log). */
const char *gwseal_recipient(const struct gwseal *s);

/*
 * Seals to cert from now on (a platform certificate verified by certs.c:
 * rotated without a restart). s may be NULL (format plain: nothing to do).
 * SUIDO_OK, or SUIDO_ERR_INVALID (not an RSA key of at least 2048 bits) /
 * _NOMEM with err; s is unchanged then.
 */
int gwseal_set_recipient(struct gwseal *s, X509 *cert, char *err, size_t errlen);

/*
 * Signs payload[len] as a JWS compact serialization (RS256) with the
 * gateway's data-protection key under kid = gateway id (the health reports,
 * docs/protocol.md). Returns SUIDO_OK and *jws (NUL-terminated, caller frees
 * with free), or a code of jose_sign with detail in err.
 */
int gwseal_sign(const struct gwseal *s, const void *payload, size_t len, char **jws,
		char *err, size_t errlen);

/*
 * Loads the platform's data-protection certificate g->platform_cert_path
 * (which must be set) with the checks gwseal_load applies to it (RSA of at
 * least 2048 bits, keyUsage digitalSignature and keyEncipherment, and
 * cert_verify against g->ca_path when set) and returns its public key in
 * *out (caller frees with EVP_PKEY_free) and its subject CN in cn[cnlen]
 * ("?" when it has none). It seals data messages to this key and verifies
 * the platform's commands with it. Returns SUIDO_OK, or SUIDO_ERR_NOTFOUND /
 * _IO (the file), SUIDO_ERR_INVALID (malformed), SUIDO_ERR_CERT (refused),
 * SUIDO_ERR_NOMEM, with detail in err.
 */
int gwseal_platform_key_load(const struct gw_config *g, EVP_PKEY **out, char *cn, size_t cnlen,
			     char *err, size_t errlen);

#endif
