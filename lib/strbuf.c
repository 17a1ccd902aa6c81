/*
 * Growable buffer and JSON writers (strbuf.h).
 */
#include "suido/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suido/numparse.h"

#define STRBUF_DEFAULT_LIMIT ((size_t)1 << 30)

static int grow(struct strbuf *sb, size_t extra)
{
	size_t limit = sb->limit ? sb->limit : STRBUF_DEFAULT_LIMIT;
	size_t need, cap;
	char *p;

	if (sb->failed)
		return -1;
	if (extra > limit - sb->len) {
		sb->failed = 1;
		return -1;
	}
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(sb->data, cap);
	if (!p) {
		sb->failed = 1;
		return -1;
	}
	sb->data = p;
	sb->cap = cap;
	return 0;
}

int strbuf_append(struct strbuf *sb, const void *p, size_t n)
{
	if (grow(sb, n) < 0)
		return -1;
	if (n)
		memcpy(sb->data + sb->len, p, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
	return 0;
}

int strbuf_puts(struct strbuf *sb, const char *s)
{
	return strbuf_append(sb, s, strlen(s));
}

int strbuf_putc(struct strbuf *sb, char c)
{
	return strbuf_append(sb, &c, 1);
}

int strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(sb, (size_t)n) < 0) {
		sb->failed = 1;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int strbuf_json_str(struct strbuf *sb, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;

	/* Worst case each byte becomes 6: reserve once, then copy runs. */
	if (grow(sb, n * 6 + 2) < 0)
		return -1;
	strbuf_putc(sb, '"');
	while (i < n) {
		unsigned char c = u[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			run++;
			i++;
			continue;
		}
		if (run) {
			strbuf_append(sb, u + i - run, run);
			run = 0;
		}
		if (c >= 0x80) {
			size_t l = utf8_seq(u + i, n - i);
			if (l == 0) {
				strbuf_append(sb, "\xef\xbf\xbd", 3);
				i++;
			} else {
				strbuf_append(sb, u + i, l);
				i += l;
			}
			continue;
		}
		switch (c) {
		case '"': strbuf_append(sb, "\\\"", 2); break;
		case '\\': strbuf_append(sb, "\\\\", 2); break;
		case '\n': strbuf_append(sb, "\\n", 2); break;
		case '\r': strbuf_append(sb, "\\r", 2); break;
		case '\t': strbuf_append(sb, "\\t", 2); break;
		default: {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			strbuf_append(sb, e, 6);
		}
		}
		i++;
	}
	if (run)
		strbuf_append(sb, u + i - run, run);
	return strbuf_putc(sb, '"');
}

int strbuf_json_num(struct strbuf *sb, double v)
{
	char buf[32];

	if (!isfinite(v))
		return strbuf_append(sb, "null", 4);
	return strbuf_append(sb, buf, numparse_format(v, buf));
}

int strbuf_json_int(struct strbuf *sb, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
	return strbuf_append(sb, buf, (size_t)n);
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->failed = 0;
	if (sb->data)
		sb->data[0] = '\0';
}

void strbuf_free(struct strbuf *sb)
{
	size_t limit = sb->limit;

	free(sb->data);
	memset(sb, 0, sizeof *sb);
	sb->limit = limit;
}

char *strbuf_steal(struct strbuf *sb, size_t *len)
{
	char *p = sb->failed ? NULL : sb->data;

	if (len)
		*len = p ? sb->len : 0;
	if (!p)
		free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
	sb->failed = 0;
	return p;
}
