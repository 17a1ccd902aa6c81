/*
 * The request and answer a path-owning module (the OpenID Connect provider,
 * oidc.h; the admin API, admin.h) sees, independent of libmicrohttpd so
 * that such a module is a plain function that unit tests can call. api.c
 * reads the request (capped), fills struct http_request, calls the module,
 * and sends struct http_response with the headers every answer gets
 * (Cache-Control: no-store, X-Content-Type-Options: nosniff).
 *
 * Also the helpers those modules share: application/x-www-form-urlencoded
 * and query-string fields, percent-decoding of path segments, the Bearer
 * header, and JSON error bodies.
 */
#ifndef SUIDO_PLATFORM_HTTP_H
#define SUIDO_PLATFORM_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "suido/strbuf.h"

#define HTTP_FORM_BODY_MAX (64u * 1024u) /* a form or JSON body api.c reads for a module */
#define HTTP_HEADERS_MAX 6
#define HTTP_HEADER_VALUE_MAX 4096 /* a Location with a long redirect URI and state */

/* Everything borrowed from api.c for the length of the module's call. */
struct http_request {
	const char *method;          /* "GET", "HEAD" or "POST" */
	const char *path;            /* raw path as sent (percent-encoded), no query */
	size_t path_len;
	const char *query;           /* raw query after '?', "" when none */
	const char *content_type;    /* request header, NULL when absent */
	const char *authorization;   /* request header, NULL when absent */
	const char *cookie;          /* request header, NULL when absent */
	const char *accept_language; /* request header, NULL when absent */
	const char *source;          /* the client's address as text */
	const char *body;            /* a POST body (NULL for GET), at most HTTP_FORM_BODY_MAX */
	size_t body_len;
	uint64_t now_ms;             /* wall clock, UTC milliseconds (injectable) */
};

struct http_response {
	unsigned status;             /* 0 until set */
	const char *ctype;           /* static string; NULL: application/json; charset=utf-8 */
	struct strbuf body;
	size_t n_headers;
	struct {
		const char *name;    /* static string */
		char value[HTTP_HEADER_VALUE_MAX];
	} headers[HTTP_HEADERS_MAX];
};

void http_response_init(struct http_response *r);
/* Adds a header (name static, value formatted and copied). SUIDO_ERR_LIMIT
 * when HTTP_HEADERS_MAX are set or the value does not fit. */
int http_response_header(struct http_response *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void http_response_free(struct http_response *r);

/* A JSON error answer {"error":code,"message":msg} with status (the AP and
 * admin style). */
void http_error(struct http_response *r, unsigned status, const char *code, const char *msg);

/*
 * Finds field name in an application/x-www-form-urlencoded text (a POST body
 * or a query string, '+' is a space), percent-decodes it into out
 * (NUL-terminated). Returns SUIDO_OK; SUIDO_ERR_NOTFOUND when absent;
 * SUIDO_ERR_INVALID when present twice (RFC 6749 3.1: no repeated
 * parameters), badly encoded or decoding to a NUL byte or invalid UTF-8;
 * SUIDO_ERR_LIMIT when the value does not fit outlen.
 */
int http_form_get(const char *form, size_t len, const char *name, char *out, size_t outlen);

/* Percent-decodes one path segment (n bytes) into out; SUIDO_ERR_INVALID
 * for bad encoding, a NUL or '/' decoded, SUIDO_ERR_LIMIT when too long. */
int http_segment_decode(const char *s, size_t n, char *out, size_t outlen);

/* The token of "Authorization: Bearer <token>" (scheme case-insensitive,
 * token68 characters only). Returns SUIDO_OK with *tok / *len pointing into
 * header; SUIDO_ERR_NOTFOUND when header is NULL or another scheme;
 * SUIDO_ERR_INVALID when malformed. */
int http_bearer(const char *header, const char **tok, size_t *len);

/* 1 when the request's Content-Type is type (parameters ignored), else 0. */
int http_content_type_is(const struct http_request *rq, const char *type);

#endif
