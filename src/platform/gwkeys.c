/*
 * Loading and verifying the GW interface's keys at start (gwkeys.h).
 */
#include "gwkeys.h"

#include <assert.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/cert.h"
#include "suido/error.h"
#include "suido/log.h"
#include "suido/timeutil.h"

struct gw_entry {
	struct jose_key *key; /* NULL when refused or plain */
	EVP_PKEY *pkey;       /* the same public key; NULL likewise */
	char refusal[320];
};

struct gwkeys {
	const struct plat_config *cfg;
	struct jose_key *platform;
	EVP_PKEY *platform_pkey;
	struct jose_key *previous;
	EVP_PKEY *previous_pkey;
	char *platform_cert_pem;
	struct gw_entry *gws;  /* parallel to cfg->gateways */
	struct gw_entry *apps; /* parallel to cfg->applications */
};

/* Verifies and converts one gateway's certificate; a refusal is recorded in
 * e, not returned. Returns SUIDO_OK or a file / parse error for err. */
static int load_entry(const char *kind, const char *id, const char *path,
		      const struct cert_trust *trust, struct gw_entry *e, char *err, size_t errlen)
{
	X509 *cert = NULL;
	char why[256];
	int rc;

	if ((rc = cert_load_file(path, &cert, why, sizeof why)) != SUIDO_OK) {
		snprintf(err, errlen, "[%s %s] certificate %s: %s", kind, id, path, why);
		return rc;
	}
	rc = cert_verify(trust, cert, NULL, CERT_USE_DATA_PROTECTION, timeutil_now_ms(), why,
			 sizeof why);
	if (rc == SUIDO_OK)
		rc = jose_key_from_pkey(X509_get0_pubkey(cert), &e->key, why, sizeof why);
	if (rc == SUIDO_OK) {
		/* X509_get0_pubkey is not NULL here: jose_key_from_pkey took it */
		e->pkey = X509_get0_pubkey(cert);
		if (EVP_PKEY_up_ref(e->pkey) != 1) {
			e->pkey = NULL;
			rc = SUIDO_ERR_NOMEM;
		}
	}
	if (rc == SUIDO_ERR_NOMEM) {
		snprintf(err, errlen, "out of memory");
		X509_free(cert);
		return rc;
	}
	if (rc != SUIDO_OK) {
		snprintf(e->refusal, sizeof e->refusal, "certificate of %s %s refused: %s", kind,
			 id, why);
		log_warn("gwkeys", "%s (%s); %s", e->refusal, path,
			 strcmp(kind, "gateway") == 0
				 ? "every message from it will be rejected"
				 : "no sealed answers for it, no deposits from it");
	}
	X509_free(cert);
	return SUIDO_OK;
}

int gwkeys_load(const struct plat_config *cfg, struct gwkeys **out, char *err, size_t errlen)
{
	struct gwkeys *k = calloc(1, sizeof *k);
	struct cert_trust *trust = NULL;
	EVP_PKEY *key = NULL;
	char why[256];
	int rc = SUIDO_OK, any_sealed = 0;

	*out = NULL;
	if (!k || !(k->gws = calloc(cfg->n_gateways + 1, sizeof *k->gws)) ||
	    !(k->apps = calloc(cfg->n_applications + 1, sizeof *k->apps))) {
		snprintf(err, errlen, "out of memory");
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	k->cfg = cfg;
	for (size_t i = 0; i < cfg->n_gateways; i++) {
		if (cfg->gateways[i].format != PLAT_FORMAT_PLAIN)
			any_sealed = 1;
		else
			log_warn("gwkeys", "gateway %s has format = plain: its messages are accepted "
					   "UNSEALED (for tests and benchmarks only)",
				 cfg->gateways[i].id);
	}
	for (size_t i = 0; i < cfg->n_applications; i++) {
		struct gw_entry *e = &k->apps[i];
		if (cfg->applications[i].certificate)
			any_sealed = 1;
		else
			snprintf(e->refusal, sizeof e->refusal, "application %s has no registered "
				 "data-protection certificate", cfg->applications[i].id);
	}
	if (!any_sealed)
		goto done;
	/* platconf requires key and ca whenever a gateway is json or xml, or an
	 * application has a certificate */
	if ((rc = cert_key_load_file(cfg->security_key, &key, why, sizeof why)) != SUIDO_OK) {
		snprintf(err, errlen, "[security] key %s: %s", cfg->security_key, why);
		goto done;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 2048) {
		snprintf(err, errlen, "[security] key %s: not an RSA key of at least 2048 bits",
			 cfg->security_key);
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	if ((rc = jose_key_from_pkey(key, &k->platform, why, sizeof why)) != SUIDO_OK) {
		snprintf(err, errlen, "[security] key %s: %s", cfg->security_key, why);
		goto done;
	}
	k->platform_pkey = key;
	key = NULL;
	if ((rc = cert_trust_new_file(cfg->security_ca, &trust, why, sizeof why)) != SUIDO_OK) {
		snprintf(err, errlen, "[security] ca %s: %s", cfg->security_ca, why);
		goto done;
	}
	if (cfg->security_crl &&
	    (rc = cert_trust_add_crl_file(trust, cfg->security_crl, why, sizeof why)) != SUIDO_OK) {
		snprintf(err, errlen, "[security] crl %s: %s", cfg->security_crl, why);
		goto done;
	}
	if (cfg->security_previous_key) {
		EVP_PKEY *pk = NULL;
		if ((rc = cert_key_load_file(cfg->security_previous_key, &pk, why, sizeof why)) !=
			    SUIDO_OK ||
		    (rc = jose_key_from_pkey(pk, &k->previous, why, sizeof why)) != SUIDO_OK) {
			snprintf(err, errlen, "[security] previous_key %s: %s",
				 cfg->security_previous_key, why);
			EVP_PKEY_free(pk);
			goto done;
		}
		k->previous_pkey = pk;
	}
	if (cfg->security_certificate) {
		X509 *pc = NULL;
		size_t plen = 0;
		rc = cert_load_file(cfg->security_certificate, &pc, why, sizeof why);
		if (rc == SUIDO_OK && !cert_key_matches(pc, k->platform_pkey)) {
			snprintf(why, sizeof why, "does not match [security] key");
			rc = SUIDO_ERR_INVALID;
		}
		if (rc == SUIDO_OK)
			rc = cert_verify(trust, pc, NULL, CERT_USE_DATA_PROTECTION, timeutil_now_ms(),
					 why, sizeof why);
		if (rc == SUIDO_OK && cert_pem_encode(pc, &k->platform_cert_pem, &plen) != SUIDO_OK) {
			snprintf(why, sizeof why, "out of memory");
			rc = SUIDO_ERR_NOMEM;
		}
		X509_free(pc);
		if (rc != SUIDO_OK) {
			snprintf(err, errlen, "[security] certificate %s: %s",
				 cfg->security_certificate, why);
			goto done;
		}
	}
	for (size_t i = 0; i < cfg->n_gateways; i++) {
		if (cfg->gateways[i].format == PLAT_FORMAT_PLAIN)
			continue;
		if ((rc = load_entry("gateway", cfg->gateways[i].id, cfg->gateways[i].certificate,
				     trust, &k->gws[i], err, errlen)) != SUIDO_OK)
			goto done;
	}
	for (size_t i = 0; i < cfg->n_applications; i++) {
		const struct plat_application *a = &cfg->applications[i];
		if (a->certificate && (rc = load_entry("application", a->id, a->certificate, trust,
						       &k->apps[i], err, errlen)) != SUIDO_OK)
			goto done;
	}
done:
	EVP_PKEY_free(key);
	cert_trust_free(trust);
	if (rc == SUIDO_OK)
		*out = k;
	else
		gwkeys_free(k);
	return rc;
}

void gwkeys_free(struct gwkeys *k)
{
	if (!k)
		return;
	if (k->gws)
		for (size_t i = 0; i < k->cfg->n_gateways; i++) {
			jose_key_free(k->gws[i].key);
			EVP_PKEY_free(k->gws[i].pkey);
		}
	if (k->apps)
		for (size_t i = 0; i < k->cfg->n_applications; i++) {
			jose_key_free(k->apps[i].key);
			EVP_PKEY_free(k->apps[i].pkey);
		}
	jose_key_free(k->platform);
	EVP_PKEY_free(k->platform_pkey); /* OpenSSL cleanses private key material */
	jose_key_free(k->previous);
	EVP_PKEY_free(k->previous_pkey);
	free(k->platform_cert_pem);
	free(k->gws);
	free(k->apps);
	free(k);
}

const struct jose_key *gwkeys_platform(const struct gwkeys *k)
{
	return k->platform;
}

const struct jose_key *gwkeys_gateway(const struct gwkeys *k, const struct plat_gateway *gw,
				      const char **refusal)
{
	size_t i = (size_t)(gw - k->cfg->gateways);

	assert(i < k->cfg->n_gateways);
	*refusal = k->gws[i].key ? NULL : k->gws[i].refusal;
	return k->gws[i].key;
}

const struct jose_key *gwkeys_application(const struct gwkeys *k,
					  const struct plat_application *app, EVP_PKEY **pkey,
					  const char **refusal)
{
	size_t i = (size_t)(app - k->cfg->applications);

	assert(i < k->cfg->n_applications);
	*refusal = k->apps[i].key ? NULL : k->apps[i].refusal;
	if (pkey)
		*pkey = k->apps[i].pkey;
	return k->apps[i].key;
}

const struct jose_key *gwkeys_previous(const struct gwkeys *k)
{
	return k->previous;
}

EVP_PKEY *gwkeys_previous_pkey(const struct gwkeys *k)
{
	return k->previous_pkey;
}

const char *gwkeys_platform_cert_pem(const struct gwkeys *k)
{
	return k->platform_cert_pem;
}

EVP_PKEY *gwkeys_platform_pkey(const struct gwkeys *k)
{
	return k->platform_pkey;
}

EVP_PKEY *gwkeys_gateway_pkey(const struct gwkeys *k, const struct plat_gateway *gw,
			      const char **refusal)
{
	size_t i = (size_t)(gw - k->cfg->gateways);

	assert(i < k->cfg->n_gateways);
	*refusal = k->gws[i].pkey ? NULL : k->gws[i].refusal;
	return k->gws[i].pkey;
}
