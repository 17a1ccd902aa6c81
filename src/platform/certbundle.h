/*
 * Certificate delivery to gateways (seed 003 table 3-1 公開鍵証明書ファイル取得,
 * docs/protocol.md "Certificates"): for each gateway, a retained message on
 * suido/v1/{utility}/{gateway}/certificates holding what it needs to check
 * and to seal: the platform's data-protection certificate, the root CA
 * certificate, the CA's CRL and the data-protection certificates of the
 * applications of its utility; a JWS (RS256, kid "platform") signed with the
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

/*
 * Builds and signs the bundle for gateway gw with seq issued at now_ms.
 * Returns SUIDO_OK and *jws (malloc'ed, caller frees), SUIDO_ERR_NOTFOUND
 * when there is nothing to publish (no [security] certificate or no key),
 * SUIDO_ERR_IO / _LIMIT reading the CA or CRL files, SUIDO_ERR_NOMEM, or a
 * code of jose_sign; err says which.
 */
int certbundle_make(const struct plat_config *cfg, const struct gwkeys *keys,
		    const struct plat_gateway *gw, uint64_t seq, int64_t now_ms, char **jws,
		    char *err, size_t errlen);

#endif
