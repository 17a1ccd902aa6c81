/*
 * How the suido commands talk to the platform's admin interface
 * (/admin/v1/, docs/admin.md, docs/api.md): the --url / --ca / --token-file
 * options and their environment defaults ($SUIDO_ADMIN_URL, $SUIDO_API_CA,
 * $SUIDO_ADMIN_TOKEN), the bearer token read from a file (never the command
 * line), and one request over libcurl with TLS verified against the given
 * root. Shared by cmd_gateway.c and cmd_admin.c.
 */
#ifndef SUIDO_CLI_ADMIN_HTTP_H
#define SUIDO_CLI_ADMIN_HTTP_H

#include "suido/strbuf.h"

#define ADMIN_HTTP_ANSWER_MAX (4u * 1024u * 1024u) /* bytes of an answer read */

/* Where the platform is and how to authenticate; strings borrowed from argv
 * or the environment. */
struct admin_http {
	const char *url;        /* base URL, e.g. https://127.0.0.1:18080 */
	const char *ca;         /* root CA file, NULL: the system's */
	const char *token_file; /* NULL: $SUIDO_ADMIN_TOKEN */
};

/* Fills h with the environment defaults. */
void admin_http_init(struct admin_http *h);

/* When argv[*i] is --url, --ca or --token-file with a value after it,
 * stores it, advances *i past the value and returns 1; else 0. */
int admin_http_option(struct admin_http *h, int argc, char **argv, int *i);

/* The usage lines of those options (for a command's --help). */
extern const char admin_http_usage[];

/*
 * Sends method to base URL + path (path starts with "/admin/v1/", already
 * percent-encoded; may carry a query), with body as application/json when
 * not NULL. On an answer of any status returns CLI_OK with *code and the
 * body in answer (capped at ADMIN_HTTP_ANSWER_MAX; the caller frees it).
 * Otherwise prints "suido CMD: ..." and returns the exit status: CLI_USAGE
 * (no URL, no token), CLI_IO (token file unreadable, no answer), CLI_CERT
 * (TLS verification failed), CLI_INTERNAL. The token is wiped after use.
 */
int admin_http_request(const char *cmd, const struct admin_http *h, const char *method,
		       const char *path, const char *body, long *code, struct strbuf *answer);

#endif
