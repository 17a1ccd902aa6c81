/*
 * The keys of the GW interface's sealed transport on the platform side
 * (seed 003 section 4, docs/protocol.md): the platform's data-protection
 * private key, which opens every sealed message, and each json or xml
 * gateway's certificate, verified once at start for data protection against the root
 * CA (and the CRL when configured). A gateway whose certificate is refused
 * (expired, revoked, of another issuer or use) is not a start-up error: it
 * stays registered and each of its messages is refused with that reason.
 * The same holds for each application's certificate ([application ID]
 * certificate): the AP interface encrypts sealed answers for it and verifies
 * the files the application deposits with it.
 * Immutable once loaded; only read, so the ingest thread and the AP
 * interface's workers share one (jose keys and EVP_PKEYs allow that).
 */
#ifndef SUIDO_PLATFORM_GWKEYS_H
#define SUIDO_PLATFORM_GWKEYS_H

#include <stddef.h>

#include <openssl/types.h>

#include "platconf.h"
#include "suido/jose.h"

struct gwkeys;

/*
 * Loads the keys cfg names. The platform key must be an RSA private key of at
 * least 2048 bits; every json or xml gateway's certificate file must be readable and
 * parse. Returns SUIDO_OK and *out (free with gwkeys_free; cfg is borrowed
 * for its life), or SUIDO_ERR_NOTFOUND / _IO (a file), SUIDO_ERR_INVALID (a
 * malformed or unsuitable key or certificate), SUIDO_ERR_CERT (the root or
 * the CRL refused) or SUIDO_ERR_NOMEM, with detail in err. Each refused
 * gateway certificate is logged (WARN) with its reason.
 */
int gwkeys_load(const struct plat_config *cfg, struct gwkeys **out, char *err, size_t errlen);

/* Frees (cleansing the private key); tolerates NULL. */
void gwkeys_free(struct gwkeys *k);

/* The platform's key that opens sealed messages; NULL when every gateway is plain. */
const struct jose_key *gwkeys_platform(const struct gwkeys *k);

/* The same key as an OpenSSL key (for xmlseal_open), borrowed until
 * gwkeys_free; NULL when every gateway is plain. Only read, never changed. */
EVP_PKEY *gwkeys_platform_pkey(const struct gwkeys *k);

/* The key before a rotation ([security] previous_key), as both forms; NULL
 * when none. It opens what gateways sealed for the old certificate before
 * they got the new one (docs/certificates.md "Rotation"). */
const struct jose_key *gwkeys_previous(const struct gwkeys *k);
EVP_PKEY *gwkeys_previous_pkey(const struct gwkeys *k);

/* The platform's data-protection certificate as PEM ([security]
 * certificate, checked at load: it matches key, it verifies against ca for
 * data protection), borrowed; NULL when not configured. */
const char *gwkeys_platform_cert_pem(const struct gwkeys *k);

/*
 * For the registered gateway gw (an element of cfg->gateways) with format
 * json or xml: its verification key, or NULL with *refusal set to why its
 * certificate was refused at start (borrowed until gwkeys_free).
 */
const struct jose_key *gwkeys_gateway(const struct gwkeys *k, const struct plat_gateway *gw,
				      const char **refusal);

/*
 * For the registered application app (an element of cfg->applications) with
 * a certificate: its key, or NULL with *refusal set to why (no certificate
 * registered, or refused at start; borrowed until gwkeys_free). The OpenSSL
 * form of the same key is returned in *pkey when pkey is not NULL.
 */
const struct jose_key *gwkeys_application(const struct gwkeys *k,
					  const struct plat_application *app, EVP_PKEY **pkey,
					  const char **refusal);

/* The same as gwkeys_gateway, as the OpenSSL public key (for xmlseal_open);
 * borrowed until gwkeys_free, only read. */
EVP_PKEY *gwkeys_gateway_pkey(const struct gwkeys *k, const struct plat_gateway *gw,
			      const char **refusal);

#endif
