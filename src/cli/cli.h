/*
 * What the suido commands share: the documented exit statuses, reading the
 * input and writing the output (stdin/stdout or files, capped), loading keys
 * and certificates named on the command line, and checking a certificate
 * against the platform's root CA and CRL when asked to.
 */
#ifndef SUIDO_CLI_H
#define SUIDO_CLI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>

/* Exit statuses of every suido command (docs/cli.md). */
enum {
	CLI_OK = 0,
	CLI_USAGE = 64,     /* wrong arguments */
	CLI_BAD_INPUT = 65, /* malformed input, unknown format, over a size limit */
	CLI_SIGNATURE = 66, /* signature missing or invalid */
	CLI_DECRYPT = 67,   /* decryption failed: wrong key or tampered */
	CLI_CERT = 69,      /* certificate invalid, untrusted, expired or revoked */
	CLI_INTERNAL = 70,
	CLI_IO = 74,        /* a file could not be read or written */
};

#define CLI_MAX_INPUT ((size_t)64 << 20)

/* Maps a library error code to the exit status above. */
int cli_status(int suido_err);

/* Prints "suido CMD: message" on stderr and returns status. */
int cli_fail(const char *cmd, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reads path ("-" or NULL = stdin) entirely, at most max bytes, NUL-terminated.
 * SUIDO_OK (*out malloc'ed, caller frees), _LIMIT, _IO. */
int cli_read(const char *path, size_t max, char **out, size_t *len);

/* Writes data to path ("-" or NULL = stdout; a file is written atomically,
 * mode 0600). SUIDO_OK or _IO. */
int cli_write(const char *path, const void *data, size_t len);

/*
 * Loads the certificate at path, and when ca_path is given verifies it for
 * data protection against that root (and the CRL at crl_path, if given) now.
 * Returns a CLI_* status; on success *cert is the caller's (X509_free).
 */
int cli_load_cert(const char *cmd, const char *path, const char *ca_path, const char *crl_path,
		  X509 **cert);

/* Loads a PEM private key; returns a CLI_* status, *key the caller's. */
int cli_load_key(const char *cmd, const char *path, EVP_PKEY **key);

#endif
