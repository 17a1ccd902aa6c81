/*
 * Reading and checking the TLS client files of an MQTT connection
 * (tlsfiles.h).
 */
#include "suido/tlsfiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "suido/cert.h"
#include "suido/error.h"
#include "suido/timeutil.h"

void tlsfiles_clear(struct tlsfiles *t)
{
	free(t->cafile);
	free(t->certfile);
	free(t->keyfile);
	t->cafile = t->certfile = t->keyfile = NULL;
}

int tlsfiles_enabled(const struct tlsfiles *t)
{
	return t->cafile && t->certfile && t->keyfile;
}

/* Loads the three files and checks that they belong together. */
static int check_files(const struct conf *c, const struct conf_section *s,
		       const struct tlsfiles *t, char *err, size_t errlen)
{
	struct cert_trust *trust = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	X509 *leaf;
	char detail[512];
	int rc = SUIDO_ERR_CONFIG, vr;

	if (cert_trust_new_file(t->cafile, &trust, detail, sizeof detail) != SUIDO_OK) {
		conf_error(c, s, conf_find(s, "cafile"), err, errlen, "%s", detail);
		goto out;
	}
	if (cert_chain_load_file(t->certfile, &chain, detail, sizeof detail) != SUIDO_OK) {
		conf_error(c, s, conf_find(s, "certfile"), err, errlen, "%s", detail);
		goto out;
	}
	if (cert_key_load_file(t->keyfile, &key, detail, sizeof detail) != SUIDO_OK) {
		conf_error(c, s, conf_find(s, "keyfile"), err, errlen, "%s", detail);
		goto out;
	}
	leaf = sk_X509_value(chain, 0);
	if (!cert_key_matches(leaf, key)) {
		conf_error(c, s, conf_find(s, "keyfile"), err, errlen,
			   "%s is not the private key of certfile %s", t->keyfile, t->certfile);
		goto out;
	}
	/* The intermediates only: the leaf is verified, not trusted by itself. */
	leaf = sk_X509_shift(chain);
	vr = cert_verify(trust, leaf, chain, CERT_USE_TLS_CLIENT, timeutil_now_ms(), detail,
			 sizeof detail);
	if (sk_X509_unshift(chain, leaf) <= 0) {
		X509_free(leaf);
		rc = SUIDO_ERR_NOMEM;
		snprintf(err, errlen, "%s: out of memory", conf_name(c));
		goto out;
	}
	if (vr != SUIDO_OK) {
		conf_error(c, s, conf_find(s, "certfile"), err, errlen,
			   "%s refused as a TLS client certificate of cafile: %s", t->certfile,
			   detail);
		rc = vr == SUIDO_ERR_NOMEM ? SUIDO_ERR_NOMEM : SUIDO_ERR_CONFIG;
		goto out;
	}
	rc = SUIDO_OK;
out:
	EVP_PKEY_free(key);
	if (chain)
		sk_X509_pop_free(chain, X509_free);
	cert_trust_free(trust);
	return rc;
}

int tlsfiles_from_conf(const struct conf *c, const struct conf_section *s, struct tlsfiles *out,
		       char *err, size_t errlen)
{
	static const char *const keys[] = {"cafile", "certfile", "keyfile"};
	char **dst[] = {&out->cafile, &out->certfile, &out->keyfile};
	const char *v;
	int given = 0, rc;

	memset(out, 0, sizeof *out);
	for (int i = 0; i < 3; i++)
		given += conf_find(s, keys[i]) != NULL;
	if (given == 0)
		return SUIDO_OK;
	if (given < 3) {
		for (int i = 0; i < 3; i++) {
			if (!conf_find(s, keys[i])) {
				conf_error(c, s, NULL, err, errlen, "%s: required key missing "
					   "(cafile, certfile and keyfile go together)", keys[i]);
				break;
			}
		}
		return SUIDO_ERR_CONFIG;
	}
	for (int i = 0; i < 3; i++) {
		if (conf_get_str(c, s, keys[i], 1, NULL, &v, err, errlen)) {
			rc = SUIDO_ERR_CONFIG;
			goto fail;
		}
		if (!(*dst[i] = conf_resolve_path(c, v))) {
			snprintf(err, errlen, "%s: out of memory or path too long", conf_name(c));
			rc = SUIDO_ERR_NOMEM;
			goto fail;
		}
	}
	if ((rc = check_files(c, s, out, err, errlen)) != SUIDO_OK)
		goto fail;
	return SUIDO_OK;
fail:
	tlsfiles_clear(out);
	return rc;
}
