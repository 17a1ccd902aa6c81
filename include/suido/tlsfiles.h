/*
 * The TLS client files of an MQTT connection ([mqtt] cafile, certfile,
 * keyfile in both programs' configuration): read from a configuration
 * section, resolved against the file's directory, and checked at start (each
 * file loads, the key is the certificate's, the certificate is a TLS client
 * certificate of that CA now), so a bad file is a located configuration error
 * rather than a broker connection that fails later. All three or none: none
 * means a plaintext connection (benchmarks only).
 */
#ifndef SUIDO_TLSFILES_H
#define SUIDO_TLSFILES_H

#include <stddef.h>

#include "suido/conf.h"

struct tlsfiles {
	char *cafile;   /* root CA certificate(s) the broker's certificate must chain to */
	char *certfile; /* this client's TLS client certificate (then any intermediates) */
	char *keyfile;  /* its private key, PEM, unencrypted */
};

/*
 * Reads cafile, certfile and keyfile from section s of c into *out (all NULL
 * when none is given) and checks the files. Returns SUIDO_OK, SUIDO_ERR_CONFIG
 * with "file:line: [section] key: problem" in err (some but not all given, a
 * file missing, malformed, a key not matching, a certificate not verifying for
 * TLS client use against cafile), or SUIDO_ERR_NOMEM. On success the caller
 * frees the strings with tlsfiles_clear; on failure nothing is held.
 */
int tlsfiles_from_conf(const struct conf *c, const struct conf_section *s, struct tlsfiles *out,
		       char *err, size_t errlen);

/* Frees the strings and sets them to NULL; tolerates an empty struct. */
void tlsfiles_clear(struct tlsfiles *t);

/* Nonzero when TLS is configured (the three files given). */
int tlsfiles_enabled(const struct tlsfiles *t);

#endif
