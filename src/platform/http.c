/*
 * The module-facing request / answer (http.h) and the small parsers that
 * the OpenID Connect provider and the admin API share: form fields, path
 * segments, the Bearer header.
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "suido/error.h"

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof *r);
	r->body = (struct strbuf)STRBUF_INIT;
	r->body.limit = (size_t)16 << 20;
}

int http_response_header(struct http_response *r, const char *name, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->n_headers >= HTTP_HEADERS_MAX)
		return SUIDO_ERR_LIMIT;
	va_start(ap, fmt);
	n = vsnprintf(r->headers[r->n_headers].value, HTTP_HEADER_VALUE_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= HTTP_HEADER_VALUE_MAX)
		return SUIDO_ERR_LIMIT;
	r->headers[r->n_headers++].name = name;
	return SUIDO_OK;
}

void http_response_free(struct http_response *r)
{
	strbuf_free(&r->body);
}

void http_error(struct http_response *r, unsigned status, const char *code, const char *msg)
{
	strbuf_reset(&r->body);
	r->status = status;
	r->ctype = NULL;
	strbuf_puts(&r->body, "{\"error\":");
	strbuf_json_str(&r->body, code, strlen(code));
	strbuf_puts(&r->body, ",\"message\":");
	strbuf_json_str(&r->body, msg, strlen(msg));
	strbuf_putc(&r->body, '}');
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Well-formed UTF-8 without overlongs, surrogates or code points past
 * U+10FFFF. */
static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + need >= n)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* Decodes n bytes of s (form encoding when plus, else path encoding). */
static int pct_decode(const char *s, size_t n, int plus, char *out, size_t outlen, size_t *olen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int h, l;
			if (i + 2 >= n)
				return SUIDO_ERR_INVALID;
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return SUIDO_ERR_INVALID;
			c = h * 16 + l;
			i += 2;
			if (c == 0)
				return SUIDO_ERR_INVALID;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (o + 1 >= outlen)
			return SUIDO_ERR_LIMIT;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (!utf8_ok((const unsigned char *)out, o))
		return SUIDO_ERR_INVALID;
	*olen = o;
	return SUIDO_OK;
}

int http_form_get(const char *form, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name), i = 0, olen;
	const char *val = NULL;
	size_t vlen = 0;

	if (outlen == 0)
		return SUIDO_ERR_LIMIT;
	while (form && i < len) {
		const char *p = form + i;
		const char *amp = memchr(p, '&', len - i);
		size_t flen = amp ? (size_t)(amp - p) : len - i;
		if (flen > nlen && p[nlen] == '=' && memcmp(p, name, nlen) == 0) {
			if (val)
				return SUIDO_ERR_INVALID;
			val = p + nlen + 1;
			vlen = flen - nlen - 1;
		} else if (flen == nlen && memcmp(p, name, nlen) == 0) {
			if (val)
				return SUIDO_ERR_INVALID;
			val = p + nlen;
			vlen = 0;
		}
		i += flen + 1;
	}
	if (!val)
		return SUIDO_ERR_NOTFOUND;
	return pct_decode(val, vlen, 1, out, outlen, &olen);
}

int http_segment_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t olen;
	int rc;

	if (outlen == 0)
		return SUIDO_ERR_LIMIT;
	rc = pct_decode(s, n, 0, out, outlen, &olen);
	if (rc != SUIDO_OK)
		return rc;
	if (memchr(out, '/', olen))
		return SUIDO_ERR_INVALID;
	return SUIDO_OK;
}

int http_bearer(const char *header, const char **tok, size_t *len)
{
	size_t n;

	if (!header || strncasecmp(header, "Bearer", 6) != 0 ||
	    (header[6] != ' ' && header[6] != '\0'))
		return SUIDO_ERR_NOTFOUND;
	header += 6;
	while (*header == ' ')
		header++;
	/* token68 (RFC 7235 2.1): ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
	 * "/", then any "=" */
	for (n = 0; header[n]; n++) {
		char c = header[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'))
			break;
	}
	if (n == 0)
		return SUIDO_ERR_INVALID;
	while (header[n] == '=')
		n++;
	for (size_t m = n; header[m]; m++)
		if (header[m] != ' ')
			return SUIDO_ERR_INVALID;
	*tok = header;
	*len = n;
	return SUIDO_OK;
}

int http_content_type_is(const struct http_request *rq, const char *type)
{
	size_t n = strlen(type);
	const char *ct = rq->content_type;

	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}
