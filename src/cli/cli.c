/*
 * Shared plumbing of the suido commands (cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suido/cert.h"
#include "suido/error.h"
#include "suido/fsutil.h"

int cli_status(int e)
{
	switch (e) {
	case SUIDO_OK: return CLI_OK;
	case SUIDO_ERR_INVALID:
	case SUIDO_ERR_LIMIT:
	case SUIDO_ERR_ENCODING:
	case SUIDO_ERR_NOTFOUND: return CLI_BAD_INPUT;
	case SUIDO_ERR_SIGNATURE: return CLI_SIGNATURE;
	case SUIDO_ERR_DECRYPT: return CLI_DECRYPT;
	case SUIDO_ERR_CERT: return CLI_CERT;
	case SUIDO_ERR_IO:
	case SUIDO_ERR_FULL: return CLI_IO;
	default: return CLI_INTERNAL;
	}
}

int cli_fail(const char *cmd, int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "suido %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

int cli_read(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = (!path || strcmp(path, "-") == 0) ? stdin : fopen(path, "rb");
	size_t cap = 65536, n = 0;
	char *buf;
	int rc = SUIDO_OK;

	*out = NULL;
	*len = 0;
	if (!f)
		return SUIDO_ERR_IO;
	buf = malloc(cap + 1);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n > max) {
			rc = SUIDO_ERR_LIMIT;
			break;
		}
		if (got == 0) {
			if (ferror(f))
				rc = SUIDO_ERR_IO;
			break;
		}
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (f != stdin)
		fclose(f);
	if (!buf)
		return SUIDO_ERR_NOMEM;
	if (rc != SUIDO_OK) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return SUIDO_OK;
}

int cli_write(const char *path, const void *data, size_t len)
{
	char err[256], dir[4096];
	const char *slash;

	if (!path || strcmp(path, "-") == 0) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
			return SUIDO_ERR_IO;
		return SUIDO_OK;
	}
	slash = strrchr(path, '/');
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (slash && slash == path)
		snprintf(dir, sizeof dir, "/");
	return fsutil_write_atomic(dir, slash ? slash + 1 : path, data, len, err, sizeof err);
}

int cli_load_key(const char *cmd, const char *path, EVP_PKEY **key)
{
	char err[512];
	int rc = cert_key_load_file(path, key, err, sizeof err);

	if (rc != SUIDO_OK)
		return cli_fail(cmd, rc == SUIDO_ERR_IO ? CLI_IO : CLI_BAD_INPUT, "%s", err);
	return CLI_OK;
}

int cli_load_cert(const char *cmd, const char *path, const char *ca_path, const char *crl_path,
		  X509 **cert)
{
	struct cert_trust *t = NULL;
	char err[512];
	int rc;

	*cert = NULL;
	rc = cert_load_file(path, cert, err, sizeof err);
	if (rc != SUIDO_OK)
		return cli_fail(cmd, rc == SUIDO_ERR_IO ? CLI_IO : CLI_BAD_INPUT, "%s", err);
	if (!ca_path)
		return CLI_OK;
	rc = cert_trust_new_file(ca_path, &t, err, sizeof err);
	if (rc == SUIDO_OK && crl_path)
		rc = cert_trust_add_crl_file(t, crl_path, err, sizeof err);
	if (rc != SUIDO_OK) {
		cert_trust_free(t);
		X509_free(*cert);
		*cert = NULL;
		return cli_fail(cmd, rc == SUIDO_ERR_IO ? CLI_IO : CLI_BAD_INPUT, "%s", err);
	}
	rc = cert_verify(t, *cert, NULL, CERT_USE_DATA_PROTECTION, (int64_t)time(NULL) * 1000, err,
			 sizeof err);
	cert_trust_free(t);
	if (rc != SUIDO_OK) {
		X509_free(*cert);
		*cert = NULL;
		return cli_fail(cmd, CLI_CERT, "%s: %s", path, err);
	}
	return CLI_OK;
}
