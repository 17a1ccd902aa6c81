/*
 * Descriptions of the library's error codes (error.h).
 */
#include "suido/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *suido_strerror(int e)
{
	switch (e) {
	case SUIDO_OK: return "success";
	case SUIDO_ERR_NOMEM: return "out of memory";
	case SUIDO_ERR_IO: return "input/output error";
	case SUIDO_ERR_INVALID: return "invalid input";
	case SUIDO_ERR_LIMIT: return "limit exceeded";
	case SUIDO_ERR_NOTFOUND: return "not found";
	case SUIDO_ERR_EXISTS: return "already exists";
	case SUIDO_ERR_DB: return "database error";
	case SUIDO_ERR_ENCODING: return "character encoding error";
	case SUIDO_ERR_PERM: return "permission denied";
	case SUIDO_ERR_CONFIG: return "configuration error";
	case SUIDO_ERR_FULL: return "no space left";
	case SUIDO_ERR_SIGNATURE: return "signature invalid";
	case SUIDO_ERR_DECRYPT: return "decryption failed";
	case SUIDO_ERR_CERT: return "certificate invalid or revoked";
	}
	return "unknown error";
}

void suido_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
