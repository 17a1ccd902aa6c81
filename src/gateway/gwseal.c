/*
 * The gateway's sealing keys (gwseal.h).
 */
#include "gwseal.h"

#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/cert.h"
#include "suido/error.h"
#include "suido/jose.h"
#include "suido/profile.h"
#include "suido/profile_xml.h"
#include "suido/timeutil.h"
#include "suido/xmlseal.h"

/* AES key size of the XML transport's EncryptedData (seed 003 table 4-2
 * allows 128, 192 and 256; 128 as the JSON transport's A128CBC-HS256). */
#define GWSEAL_XML_AES_BITS 128

struct gwseal {
	enum gw_format format;
	struct jose_key *signer;    /* the gateway's private key (json seals, health JWS) */
	struct jose_key *recipient; /* json: the platform's public key */
	EVP_PKEY *key;              /* xml: the gateway's private key */
	EVP_PKEY *recipient_pub;    /* xml: the platform's public key */
	char kid[PROFILE_NAME_MAX + 1];
	char recipient_cn[128];
};

static int rsa_bits_ok(const EVP_PKEY *k)
{
	return EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA && EVP_PKEY_get_bits(k) >= 2048;
}

int gwseal_platform_key_load(const struct gw_config *g, EVP_PKEY **out, char *cn, size_t cnlen,
			     char *err, size_t errlen)
{
	struct cert_trust *trust = NULL;
	X509 *cert = NULL;
	EVP_PKEY *pub;
	char why[512];
	int rc;

	*out = NULL;
	if ((rc = cert_load_file(g->platform_cert_path, &cert, why, sizeof why)) != SUIDO_OK) {
		snprintf(err, errlen, "[security] platform_certificate %s: %s",
			 g->platform_cert_path, why);
		goto done;
	}
	/* Without a root the certificate cannot be verified, but its use can be
	 * checked: a TLS-only certificate must not pass for the platform's
	 * data-protection one. */
	pub = X509_get0_pubkey(cert);
	uint32_t ku = X509_get_key_usage(cert);
	if (!pub || !rsa_bits_ok(pub) || ku == UINT32_MAX ||
	    (ku & (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT)) !=
		    (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT)) {
		snprintf(err, errlen, "[security] platform_certificate %s: not a "
				      "data-protection certificate (RSA >= 2048 bits, keyUsage "
				      "digitalSignature and keyEncipherment)",
			 g->platform_cert_path);
		rc = SUIDO_ERR_CERT;
		goto done;
	}
	if (g->ca_path) {
		if ((rc = cert_trust_new_file(g->ca_path, &trust, why, sizeof why)) != SUIDO_OK) {
			snprintf(err, errlen, "[security] ca %s: %s", g->ca_path, why);
			goto done;
		}
		rc = cert_verify(trust, cert, NULL, CERT_USE_DATA_PROTECTION, timeutil_now_ms(), why,
				 sizeof why);
		if (rc != SUIDO_OK) {
			snprintf(err, errlen, "[security] platform_certificate %s: %s",
				 g->platform_cert_path, why);
			goto done;
		}
	}
	if (cert_subject_cn(cert, cn, cnlen) != SUIDO_OK)
		snprintf(cn, cnlen, "?");
	if (EVP_PKEY_up_ref(pub) != 1) {
		snprintf(err, errlen, "out of memory");
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	*out = pub;
	rc = SUIDO_OK;
done:
	X509_free(cert);
	cert_trust_free(trust);
	return rc;
}

int gwseal_load(const struct gw_config *g, struct gwseal **out, char *err, size_t errlen)
{
	struct gwseal *s = NULL;
	EVP_PKEY *key = NULL, *pub = NULL;
	char why[512];
	int rc;

	*out = NULL;
	if (g->format == GW_FORMAT_PLAIN)
		return SUIDO_OK;
	if (!(s = calloc(1, sizeof *s))) {
		snprintf(err, errlen, "out of memory");
		return SUIDO_ERR_NOMEM;
	}
	s->format = g->format;
	snprintf(s->kid, sizeof s->kid, "%s", g->id);
	if ((rc = cert_key_load_file(g->key_path, &key, why, sizeof why)) != SUIDO_OK) {
		snprintf(err, errlen, "[security] key %s: %s", g->key_path, why);
		goto done;
	}
	if (!rsa_bits_ok(key)) {
		snprintf(err, errlen, "[security] key %s: not an RSA key of at least 2048 bits",
			 g->key_path);
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	rc = gwseal_platform_key_load(g, &pub, s->recipient_cn, sizeof s->recipient_cn, err,
				      errlen);
	if (rc != SUIDO_OK)
		goto done;
	/* the health reports are JWS in both formats */
	if ((rc = jose_key_from_pkey(key, &s->signer, why, sizeof why)) != SUIDO_OK) {
		snprintf(err, errlen, "[security] key %s: %s", g->key_path, why);
		goto done;
	}
	if (g->format == GW_FORMAT_XML) {
		/* xmlseal takes the OpenSSL keys as they are (borrowed, only read) */
		s->recipient_pub = pub;
		pub = NULL;
		s->key = key;
		key = NULL;
		rc = SUIDO_OK;
		goto done;
	}
	rc = jose_key_from_pkey(pub, &s->recipient, why, sizeof why);
	if (rc != SUIDO_OK) {
		snprintf(err, errlen, "[security] platform_certificate %s: %s",
			 g->platform_cert_path, why);
		goto done;
	}
done:
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	if (rc == SUIDO_OK)
		*out = s;
	else
		gwseal_free(s);
	return rc;
}

void gwseal_free(struct gwseal *s)
{
	if (!s)
		return;
	jose_key_free(s->signer);
	jose_key_free(s->recipient);
	EVP_PKEY_free(s->key); /* OpenSSL cleanses the private key material */
	EVP_PKEY_free(s->recipient_pub);
	free(s);
}

/*
 * The XML transport: the queued JSON is decoded (it is our own output, so
 * this only fails on a bug or a text XML cannot carry), written as the XML
 * data profile, then signed and its Points encrypted.
 */
static int seal_xml(const struct gwseal *s, const void *payload, size_t len, char **token,
		    size_t *toklen, char *err, size_t errlen)
{
	struct profile_msg *m = NULL;
	struct strbuf xml = STRBUF_INIT;
	char why[256];
	int rc;

	*token = NULL;
	*toklen = 0;
	xml.limit = XMLSEAL_MAX_BYTES;
	rc = profile_decode(payload, len, NULL, &m, why, sizeof why);
	if (rc != SUIDO_OK) {
		snprintf(err, errlen, "queued message does not decode: %s", why);
		goto done;
	}
	if ((rc = profile_xml_encode(m, &xml, why, sizeof why)) != SUIDO_OK) {
		snprintf(err, errlen, "message %s cannot be written as XML: %s", m->id, why);
		goto done;
	}
	rc = xmlseal_seal(xml.data, xml.len, s->key, NULL, PROFILE_XML_XPATH_DATA,
			  s->recipient_pub, GWSEAL_XML_AES_BITS, PROFILE_XML_XPATH_POINTS, NULL,
			  token, toklen, why, sizeof why);
	if (rc != SUIDO_OK)
		snprintf(err, errlen, "message %s: xmlseal: %s", m->id, why);
done:
	profile_msg_free(m);
	strbuf_free(&xml);
	return rc;
}

int gwseal_seal(const struct gwseal *s, const void *payload, size_t len, char **token,
		size_t *toklen, char *err, size_t errlen)
{
	int rc;

	if (s->format == GW_FORMAT_XML)
		return seal_xml(s, payload, len, token, toklen, err, errlen);
	rc = jose_seal(payload, len, s->signer, s->kid, s->recipient, 0, token, err, errlen);
	*toklen = rc == SUIDO_OK ? strlen(*token) : 0;
	return rc;
}

int gwseal_set_recipient(struct gwseal *s, X509 *cert, char *err, size_t errlen)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	struct jose_key *jk = NULL;
	char why[200];

	if (!s)
		return SUIDO_OK;
	if (!pub || !rsa_bits_ok(pub)) {
		snprintf(err, errlen, "platform certificate: not an RSA key of at least 2048 bits");
		return SUIDO_ERR_INVALID;
	}
	if (s->format == GW_FORMAT_XML) {
		if (EVP_PKEY_up_ref(pub) != 1)
			return SUIDO_ERR_NOMEM;
		EVP_PKEY_free(s->recipient_pub);
		s->recipient_pub = pub;
	} else {
		if (jose_key_from_pkey(pub, &jk, why, sizeof why) != SUIDO_OK) {
			snprintf(err, errlen, "platform certificate: %s", why);
			return SUIDO_ERR_INVALID;
		}
		jose_key_free(s->recipient);
		s->recipient = jk;
	}
	if (cert_subject_cn(cert, s->recipient_cn, sizeof s->recipient_cn) != SUIDO_OK)
		snprintf(s->recipient_cn, sizeof s->recipient_cn, "?");
	return SUIDO_OK;
}

const char *gwseal_recipient(const struct gwseal *s)
{
	return s->recipient_cn;
}

int gwseal_sign(const struct gwseal *s, const void *payload, size_t len, char **jws,
		char *err, size_t errlen)
{
	return jose_sign(payload, len, s->signer, s->kid, 0, jws, err, errlen);
}
