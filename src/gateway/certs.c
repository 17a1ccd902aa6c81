/*
 * Certificates from the platform (certs.h).
 */
#include "certs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "suido/cert.h"
#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/jose.h"
#include "suido/profile.h"
#include "suido/timeutil.h"

void certs_free(struct certs_bundle *b)
{
	if (!b)
		return;
	X509_free(b->platform);
	free(b->platform_pem);
	free(b->root_pem);
	free(b->crl_pem);
	for (size_t i = 0; i < b->n_apps; i++) {
		free(b->apps[i].id);
		free(b->apps[i].pem);
	}
	free(b->apps);
	free(b);
}

/* The payload of a JWS compact serialization, NOT verified: only to find
 * the certificate to verify it with. base64url without padding. */
static char *unverified_payload(const char *jws, size_t len, size_t *plen)
{
	const char *a = memchr(jws, '.', len), *b;
	size_t n, padded;
	unsigned char *out;
	char *tmp;
	int got;

	if (!a || !(b = memchr(a + 1, '.', len - (size_t)(a + 1 - jws))))
		return NULL;
	n = (size_t)(b - a - 1);
	padded = (n + 3) / 4 * 4;
	if (!(tmp = malloc(padded + 1)) || !(out = malloc(padded / 4 * 3 + 1))) {
		free(tmp);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = a[1 + i];
		tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	for (size_t i = n; i < padded; i++)
		tmp[i] = '=';
	got = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded);
	free(tmp);
	if (got < 0) {
		free(out);
		return NULL;
	}
	got -= (int)(padded - n); /* the padding's bytes */
	out[got] = '\0';
	*plen = (size_t)got;
	return (char *)out;
}

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int certs_open(const struct gw_config *g, const void *jws, size_t len,
	       struct certs_bundle **out, char *err, size_t errlen)
{
	struct certs_bundle *b = NULL;
	struct cert_trust *trust = NULL;
	struct jose_key *key = NULL;
	json_t *j = NULL, *apps;
	char *raw = NULL, *payload = NULL, *kid = NULL, why[256];
	const char *pem, *crl;
	size_t rawlen = 0, plen = 0;
	int rc;

	*out = NULL;
	if (!g->ca_path) {
		snprintf(err, errlen, "no [security] ca: certificates from the platform cannot be "
				      "checked and are not taken");
		return SUIDO_ERR_CONFIG;
	}
	if (len > CERTS_MAX) {
		snprintf(err, errlen, "bundle of %zu bytes, more than %zu", len, CERTS_MAX);
		return SUIDO_ERR_INVALID;
	}
	if (!(b = calloc(1, sizeof *b)))
		return SUIDO_ERR_NOMEM;
	/* 1. the certificate the bundle says it is signed with, unverified */
	raw = unverified_payload(jws, len, &rawlen);
	j = raw ? json_loadb(raw, rawlen, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (!j || !(pem = str(j, "platform"))) {
		snprintf(err, errlen, "not a JWS of a JSON object with \"platform\"");
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	/* 2. that certificate against OUR root and the bundle's CRL */
	if ((rc = cert_load_pem(pem, strlen(pem), &b->platform, why, sizeof why)) != SUIDO_OK ||
	    (rc = cert_trust_new_file(g->ca_path, &trust, why, sizeof why)) != SUIDO_OK) {
		snprintf(err, errlen, "platform certificate: %s", why);
		goto done;
	}
	if ((crl = str(j, "crl")) &&
	    (rc = cert_trust_add_crl_pem(trust, crl, strlen(crl), why, sizeof why)) != SUIDO_OK) {
		snprintf(err, errlen, "crl: %s", why);
		goto done;
	}
	rc = cert_verify(trust, b->platform, NULL, CERT_USE_DATA_PROTECTION, timeutil_now_ms(), why,
			 sizeof why);
	if (rc != SUIDO_OK) {
		snprintf(err, errlen, "platform certificate refused: %s", why);
		goto done;
	}
	/* 3. the signature with that certificate's key; from here on only the
	 * verified payload is read */
	if ((rc = jose_key_from_pkey(X509_get0_pubkey(b->platform), &key, why, sizeof why)) !=
	    SUIDO_OK) {
		snprintf(err, errlen, "platform key: %s", why);
		goto done;
	}
	rc = jose_verify(jws, len, key, CERTS_MAX * 2, &payload, &plen, &kid, why, sizeof why);
	if (rc != SUIDO_OK || !kid || strcmp(kid, "platform") != 0) {
		snprintf(err, errlen, "signature: %s", rc != SUIDO_OK ? why : "kid is not \"platform\"");
		rc = SUIDO_ERR_SIGNATURE;
		goto done;
	}
	/* the unverified object (and pem, which points into it) goes now */
	if (!(b->platform_pem = strdup(pem))) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	json_decref(j);
	pem = NULL;
	if (!(j = json_loadb(payload, plen, JSON_REJECT_DUPLICATES, NULL)) ||
	    !str(j, "profile") || strcmp(str(j, "profile"), "suido.certificates/1") != 0 ||
	    !str(j, "platform") || strcmp(str(j, "platform"), b->platform_pem) != 0 ||
	    !json_is_integer(json_object_get(j, "seq")) ||
	    json_integer_value(json_object_get(j, "seq")) <= 0) {
		snprintf(err, errlen, "not a suido.certificates/1 bundle");
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	if (!str(j, "utility") || strcmp(str(j, "utility"), g->utility) != 0 ||
	    !str(j, "gateway") || strcmp(str(j, "gateway"), g->id) != 0) {
		snprintf(err, errlen, "a bundle for another gateway");
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	b->seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	b->root_pem = str(j, "root") ? strdup(str(j, "root")) : strdup("");
	b->crl_pem = str(j, "crl") ? strdup(str(j, "crl")) : NULL;
	if (!b->platform_pem || !b->root_pem || (str(j, "crl") && !b->crl_pem)) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	apps = json_object_get(j, "applications");
	if (json_is_array(apps) && json_array_size(apps) > CERTS_APPS_MAX) {
		snprintf(err, errlen, "more than %d applications", CERTS_APPS_MAX);
		rc = SUIDO_ERR_INVALID;
		goto done;
	}
	if (json_is_array(apps) && json_array_size(apps) &&
	    !(b->apps = calloc(json_array_size(apps), sizeof *b->apps))) {
		rc = SUIDO_ERR_NOMEM;
		goto done;
	}
	for (size_t i = 0; json_is_array(apps) && i < json_array_size(apps); i++) {
		json_t *a = json_array_get(apps, i);
		const char *id = str(a, "id"), *ap = str(a, "certificate");
		X509 *c = NULL;
		if (!id || !ap || !profile_name_valid(id) ||
		    cert_load_pem(ap, strlen(ap), &c, why, sizeof why) != SUIDO_OK ||
		    cert_verify(trust, c, NULL, CERT_USE_DATA_PROTECTION, timeutil_now_ms(), why,
				sizeof why) != SUIDO_OK) {
			X509_free(c);
			continue; /* only what verifies against our root */
		}
		X509_free(c);
		b->apps[b->n_apps].id = strdup(id);
		b->apps[b->n_apps].pem = strdup(ap);
		if (!b->apps[b->n_apps].id || !b->apps[b->n_apps].pem) {
			free(b->apps[b->n_apps].id);
			free(b->apps[b->n_apps].pem);
			rc = SUIDO_ERR_NOMEM;
			goto done;
		}
		b->n_apps++;
	}
	rc = SUIDO_OK;
done:
	json_decref(j);
	free(raw);
	free(payload);
	free(kid);
	jose_key_free(key);
	cert_trust_free(trust);
	if (rc == SUIDO_OK)
		*out = b;
	else
		certs_free(b);
	return rc;
}

int certs_save(const struct gw_config *g, const struct certs_bundle *b, const void *jws,
	       size_t len, char *err, size_t errlen)
{
	char dir[4096], apps[4200], name[128];
	int rc;

	snprintf(dir, sizeof dir, "%s/certs", g->state_dir);
	snprintf(apps, sizeof apps, "%s/apps", dir);
	if ((rc = fsutil_mkdirs(apps, err, errlen)) != SUIDO_OK)
		return rc;
	if ((rc = fsutil_write_atomic(dir, "platform-dp.crt", b->platform_pem,
				      strlen(b->platform_pem), err, errlen)) != SUIDO_OK ||
	    (rc = fsutil_write_atomic(dir, "ca.crt", b->root_pem, strlen(b->root_pem), err,
				      errlen)) != SUIDO_OK)
		return rc;
	if (b->crl_pem && (rc = fsutil_write_atomic(dir, "crl.pem", b->crl_pem, strlen(b->crl_pem),
						    err, errlen)) != SUIDO_OK)
		return rc;
	for (size_t i = 0; i < b->n_apps; i++) {
		snprintf(name, sizeof name, "%s.crt", b->apps[i].id);
		if ((rc = fsutil_write_atomic(apps, name, b->apps[i].pem, strlen(b->apps[i].pem), err,
					      errlen)) != SUIDO_OK)
			return rc;
	}
	return fsutil_write_atomic(dir, "bundle.jws", jws, len, err, errlen);
}

int certs_load_saved(const struct gw_config *g, struct certs_bundle **out, char *err,
		     size_t errlen)
{
	char dir[4096], *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	snprintf(dir, sizeof dir, "%s/certs", g->state_dir);
	rc = fsutil_read_file(dir, "bundle.jws", CERTS_MAX, &text, &len, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	rc = certs_open(g, text, len, out, err, errlen);
	free(text);
	return rc;
}
