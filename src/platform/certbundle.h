/*
 * Certificate delivery to gateways (seed 003 table 3-1 公開鍵証明書ファイル取得,
 * docs/protocol.md "Certificates"): for each gateway, a retained message on
 * suido/v1/{utility}/{gateway}/certificates holding what it needs to check
 * and to seal: the platform's data-protection certificate, the root CA
 * certificate, the CA's CRL and the data-protection certificates of the
 * applications (all: grants change at any time, certificates are public); a JWS (RS256, kid "platform") signed with the
 * platform's key. Published when the platform starts, so a rotated platform
 * certificate reaches every gateway without restarting it.
 */
#ifndef SUIDO_PLATFORM_CERTBUNDLE_H
#define SUIDO_PLATFORM_CERTBUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "gwkeys.h"
#include "platconf.h"

#define CERTBUNDLE_MAX ((size_t)1 << 20) /* a bundle's JSON, bytes */

/* The files every bundle holds (the root, the CRL, the accepted
 * applications' certificates), read once. */
struct certbundle_files;

/*
 * Reads them for cfg. SUIDO_OK and *out (free with certbundle_files_free),
 * SUIDO_ERR_NOTFOUND when there is nothing to publish (no [security]
 * certificate, key or ca), an fsutil_read_path code for a file, or
 * SUIDO_ERR_NOMEM; err says which.
 */
int certbundle_files_load(const struct plat_config *cfg, const struct gwkeys *keys,
			  struct certbundle_files **out, char *err, size_t errlen);
void certbundle_files_free(struct certbundle_files *f);

/*
 * Builds and signs the bundle for gateway gw with seq issued at now_ms from
 * f. Returns SUIDO_OK and *jws (malloc'ed, caller frees), SUIDO_ERR_LIMIT
 * (over CERTBUNDLE_MAX) or a code of jose_sign; err says which.
 */
int certbundle_make(const struct plat_config *cfg, const struct gwkeys *keys,
		    const struct certbundle_files *f, const struct plat_gateway *gw, uint64_t seq,
		    int64_t now_ms, char **jws, char *err, size_t errlen);

#endif
