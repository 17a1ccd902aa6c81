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

/* Appends ,"key":"<file content>" (JSON-escaped) of path. */
static int put_file(struct strbuf *sb, const char *key, const char *path, char *err,
		    size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char dir[4096], *text = NULL;
	size_t len = 0;
	int rc;

	if (slash) {
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
		if (slash == path)
			snprintf(dir, sizeof dir, "/");
	} else {
		snprintf(dir, sizeof dir, ".");
	}
	rc = fsutil_read_file(dir, slash ? slash + 1 : path, PEM_MAX, &text, &len, err, errlen);
	if (rc != SUIDO_OK)
		return rc;
	strbuf_printf(sb, ",\"%s\":", key);
	strbuf_json_str(sb, text, len);
	free(text);
	return SUIDO_OK;
}

int certbundle_make(const struct plat_config *cfg, const struct gwkeys *keys,
		    const struct plat_gateway *gw, uint64_t seq, int64_t now_ms, char **jws,
		    char *err, size_t errlen)
{
	const char *pem = gwkeys_platform_cert_pem(keys);
	struct strbuf sb = {.limit = CERTBUNDLE_MAX};
	char t[32];
	size_t n_apps = 0;
	int rc;

	*jws = NULL;
	if (!pem || !gwkeys_platform(keys) || !cfg->security_ca) {
		snprintf(err, errlen, "no [security] certificate, key or ca to publish");
		return SUIDO_ERR_NOTFOUND;
	}
	timeutil_format_utc(now_ms, t);
	strbuf_puts(&sb, "{\"profile\":\"suido.certificates/1\",\"utility\":");
	strbuf_json_str(&sb, gw->utility, strlen(gw->utility));
	strbuf_puts(&sb, ",\"gateway\":");
	strbuf_json_str(&sb, gw->id, strlen(gw->id));
	strbuf_printf(&sb, ",\"seq\":%" PRIu64 ",\"issued\":\"%s\",\"platform\":", seq, t);
	strbuf_json_str(&sb, pem, strlen(pem));
	if ((rc = put_file(&sb, "root", cfg->security_ca, err, errlen)) != SUIDO_OK)
		goto done;
	if (cfg->security_crl && (rc = put_file(&sb, "crl", cfg->security_crl, err, errlen)) !=
					 SUIDO_OK)
		goto done;
	strbuf_puts(&sb, ",\"applications\":[");
	for (size_t i = 0; i < cfg->n_applications; i++) {
		const struct plat_application *a = &cfg->applications[i];
		const char *refusal = NULL;
		if (strcmp(a->utility, gw->utility) != 0 || !a->certificate ||
		    !gwkeys_application(keys, a, NULL, &refusal))
			continue; /* only what the platform itself accepted */
		strbuf_puts(&sb, n_apps++ ? ",{\"id\":" : "{\"id\":");
		strbuf_json_str(&sb, a->id, strlen(a->id));
		if ((rc = put_file(&sb, "certificate", a->certificate, err, errlen)) != SUIDO_OK)
			goto done;
		strbuf_putc(&sb, '}');
	}
	strbuf_puts(&sb, "]}");
	if (sb.failed) {
		snprintf(err, errlen, "bundle larger than %zu bytes or out of memory", CERTBUNDLE_MAX);
		rc = SUIDO_ERR_LIMIT;
		goto done;
	}
	rc = jose_sign(sb.data, sb.len, gwkeys_platform(keys), "platform", 0, jws, err, errlen);
done:
	strbuf_free(&sb);
	return rc;
}
