/*
 * Certificates from the platform (seed 003 table 3-1 公開鍵証明書ファイル取得,
 * docs/protocol.md "Certificates"): the retained bundle on
 * suido/v1/{utility}/{gateway}/certificates holds the platform's
 * data-protection certificate, the root CA certificate, the CA's CRL and the
 * data-protection certificates of the utility's applications, as a JWS
 * (RS256, kid "platform") signed with the platform's key.
 *
 * Trust never comes from the bundle: its platform certificate must verify
 * against the gateway's own configured root ([security] ca) for data
 * protection, with the bundle's CRL (itself signed by that root), and the
 * bundle's signature must verify with that certificate's key. So a platform
 * whose certificate was rotated (a new key, a new certificate from the same
 * CA) reaches the gateway without a restart, and nobody else can. A bundle is
 * applied only when its seq is greater than that of the last one applied.
 * The last bundle is kept in state_dir/certs/ (bundle.jws and the PEM files
 * it holds, for operators and for the next start).
 */
#ifndef SUIDO_GATEWAY_CERTS_H
#define SUIDO_GATEWAY_CERTS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "gwconf.h"

#define CERTS_MAX ((size_t)1 << 20) /* a bundle, bytes */
#define CERTS_APPS_MAX 1000

struct certs_app {
	char *id;
	char *pem;
};

struct certs_bundle {
	uint64_t seq;
	X509 *platform;      /* verified against [security] ca */
	char *platform_pem;
	char *root_pem;      /* as sent (informational: the anchor stays [security] ca) */
	char *crl_pem;       /* NULL when none */
	size_t n_apps;
	struct certs_app *apps; /* the ones that verified against the root */
};

/*
 * Verifies and decodes a bundle jws[len] for gateway g. Returns SUIDO_OK and
 * *out (free with certs_free); SUIDO_ERR_CONFIG when g has no [security] ca
 * (updates cannot be trusted); SUIDO_ERR_INVALID (malformed, another
 * gateway's, too large), SUIDO_ERR_CERT (the platform certificate refused by
 * the root or the CRL), SUIDO_ERR_SIGNATURE (not signed by that certificate's
 * key), SUIDO_ERR_NOMEM; err says why.
 */
int certs_open(const struct gw_config *g, const void *jws, size_t len,
	       struct certs_bundle **out, char *err, size_t errlen);

void certs_free(struct certs_bundle *b);

/* Writes b and its jws[len] into state_dir/certs/ (each file durably and
 * atomically; bundle.jws last). SUIDO_OK or an fsutil error with err. */
int certs_save(const struct gw_config *g, const struct certs_bundle *b, const void *jws,
	       size_t len, char *err, size_t errlen);

/* The bundle kept by certs_save, verified again (certs_open). SUIDO_OK,
 * SUIDO_ERR_NOTFOUND when none is kept, or a code of certs_open. */
int certs_load_saved(const struct gw_config *g, struct certs_bundle **out, char *err,
		     size_t errlen);

#endif
