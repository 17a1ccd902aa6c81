/*
 * Error codes shared by every module of the suido library. One enum, 0 is
 * success, negative never used: every fallible library call returns an
 * enum suido_err (as int) and writes a human-readable detail into a caller
 * buffer where the module's contract says so.
 */
#ifndef SUIDO_ERROR_H
#define SUIDO_ERROR_H

enum suido_err {
	SUIDO_OK = 0,
	SUIDO_ERR_NOMEM,    /* allocation failed */
	SUIDO_ERR_IO,       /* read, write, fsync, rename failed */
	SUIDO_ERR_INVALID,  /* malformed input (parse or validation error) */
	SUIDO_ERR_LIMIT,    /* input exceeds a hard cap */
	SUIDO_ERR_NOTFOUND, /* no such object */
	SUIDO_ERR_EXISTS,   /* object already present (e.g. duplicate message id) */
	SUIDO_ERR_DB,       /* database engine error */
	SUIDO_ERR_ENCODING, /* text could not be decoded */
	SUIDO_ERR_PERM,     /* not allowed (tenant isolation, auth) */
	SUIDO_ERR_CONFIG,   /* configuration error */
	SUIDO_ERR_FULL,     /* disk full or quota reached: retry later */
	SUIDO_ERR_SIGNATURE, /* a signature is missing or does not verify */
	SUIDO_ERR_DECRYPT,  /* decryption failed: wrong key or tampered ciphertext */
	SUIDO_ERR_CERT,     /* certificate untrusted, expired, revoked or of the wrong use */
};

/* Returns a static English description of e; never NULL. */
const char *suido_strerror(int e);

#include <stddef.h>

/* Formats a message into the caller's err[errlen]; tolerates err == NULL or
 * errlen == 0 (the message is then dropped). */
void suido_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
