/*
 * Certificate delivery to gateways (certbundle.h).
 */
#include "certbundle.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/cert.h"
#include "suido/error.h"
#include "suido/fsutil.h"
#include "suido/strbuf.h"
#include "suido/timeutil.h"

#define PEM_MAX ((size_t)256 << 10)

struct certbundle_files {
	char *root;
	size_t root_len;
	char *crl; /* NULL when none */
	size_t crl_len;
	char **apps; /* parallel to cfg->applications; NULL: not published */
	size_t *app_lens;
	size_t n_apps;
};

void certbundle_files_free(struct certbundle_files *f)
{
	if (!f)
		return;
	free(f->root);
	free(f->crl);
	for (size_t i = 0; f->apps && i < f->n_apps; i++)
		free(f->apps[i]);
	free(f->apps);
	free(f->app_lens);
	free(f);
}

int certbundle_files_load(const struct plat_config *cfg, const struct gwkeys *keys,
			  struct certbundle_files **out, char *err, size_t errlen)
{
	struct certbundle_files *f = calloc(1, sizeof *f);
	int rc = SUIDO_ERR_NOMEM;

	*out = NULL;
	if (!f)
		return rc;
	if (!gwkeys_platform_cert_pem(keys) || !gwkeys_platform(keys) || !cfg->security_ca) {
		snprintf(err, errlen, "no [security] certificate, key or ca to publish");
		rc = SUIDO_ERR_NOTFOUND;
		goto fail;
	}
	f->n_apps = cfg->n_applications;
	f->apps = calloc(f->n_apps + 1, sizeof *f->apps);
	f->app_lens = calloc(f->n_apps + 1, sizeof *f->app_lens);
	if (!f->apps || !f->app_lens)
		goto fail;
	if ((rc = fsutil_read_path(cfg->security_ca, PEM_MAX, &f->root, &f->root_len, err,
				   errlen)) != SUIDO_OK)
		goto fail;
	if (cfg->security_crl && (rc = fsutil_read_path(cfg->security_crl, PEM_MAX, &f->crl,
							&f->crl_len, err, errlen)) != SUIDO_OK)
		goto fail;
	for (size_t i = 0; i < cfg->n_applications; i++) {
		const struct plat_application *a = &cfg->applications[i];
		const char *refusal = NULL;
		if (!a->certificate || !gwkeys_application(keys, a, NULL, &refusal))
			continue; /* only what the platform itself accepted */
		if ((rc = fsutil_read_path(a->certificate, PEM_MAX, &f->apps[i], &f->app_lens[i],
					   err, errlen)) != SUIDO_OK)
			goto fail;
	}
	*out = f;
	return SUIDO_OK;
fail:
	certbundle_files_free(f);
	return rc;
}

int certbundle_make(const struct plat_config *cfg, const struct gwkeys *keys,
		    const struct certbundle_files *f, const struct plat_gateway *gw, uint64_t seq,
		    int64_t now_ms, char **jws, char *err, size_t errlen)
{
	const char *pem = gwkeys_platform_cert_pem(keys);
	struct strbuf sb = {.limit = CERTBUNDLE_MAX};
	char t[32];
	size_t n_apps = 0;
	int rc;

	*jws = NULL;
	timeutil_format_utc(now_ms, t);
	strbuf_puts(&sb, "{\"profile\":\"suido.certificates/1\",\"utility\":");
	strbuf_json_str(&sb, gw->utility, strlen(gw->utility));
	strbuf_puts(&sb, ",\"gateway\":");
	strbuf_json_str(&sb, gw->id, strlen(gw->id));
	strbuf_printf(&sb, ",\"seq\":%" PRIu64 ",\"issued\":\"%s\",\"platform\":", seq, t);
	strbuf_json_str(&sb, pem, strlen(pem));
	strbuf_puts(&sb, ",\"root\":");
	strbuf_json_str(&sb, f->root, f->root_len);
	if (f->crl) {
		strbuf_puts(&sb, ",\"crl\":");
		strbuf_json_str(&sb, f->crl, f->crl_len);
	}
	strbuf_puts(&sb, ",\"applications\":[");
	for (size_t i = 0; i < cfg->n_applications; i++) {
		const struct plat_application *a = &cfg->applications[i];
		/* every application's certificate: which utilities granted which
		 * application is the registry's, and changes at any time; the
		 * certificates themselves are public */
		if (!f->apps[i])
			continue;
		strbuf_puts(&sb, n_apps++ ? ",{\"id\":" : "{\"id\":");
		strbuf_json_str(&sb, a->id, strlen(a->id));
		strbuf_puts(&sb, ",\"certificate\":");
		strbuf_json_str(&sb, f->apps[i], f->app_lens[i]);
		strbuf_putc(&sb, '}');
	}
	strbuf_puts(&sb, "]}");
	if (sb.failed) {
		snprintf(err, errlen, "bundle larger than %zu bytes or out of memory", CERTBUNDLE_MAX);
		rc = SUIDO_ERR_LIMIT;
	} else {
		rc = jose_sign(sb.data, sb.len, gwkeys_platform(keys), "platform", 0, jws, err,
			       errlen);
	}
	strbuf_free(&sb);
	return rc;
}
