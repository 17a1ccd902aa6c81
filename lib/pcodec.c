/*
 * Point codec primitives (pcodec.h).
 */
#include "suido/pcodec.h"

#include <math.h>
#include <string.h>

enum { TAG_NUMBER = 0, TAG_TEXT = 1, TAG_NAN = 2 };

int pcodec_put_varint(struct strbuf *out, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;

	do {
		b[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	return strbuf_append(out, b, n) == 0 ? 0 : -1;
}

int pcodec_get_varint(const unsigned char **pp, const unsigned char *end, uint64_t *v)
{
	const unsigned char *p = *pp;
	uint64_t r = 0;

	for (int i = 0; i < 10; i++) {
		if (p >= end)
			return -1;
		unsigned char c = *p++;
		if (i == 9 && c > 1)
			return -1; /* more than 64 bits */
		r |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			if (c == 0 && i > 0)
				return -1; /* redundant trailing group */
			*pp = p;
			*v = r;
			return 0;
		}
	}
	return -1;
}

int pcodec_put_value(struct strbuf *out, double v, const char *text, size_t text_len)
{
	unsigned char b[9];
	uint64_t bits;

	if (text) {
		if (strbuf_putc(out, TAG_TEXT) != 0 || pcodec_put_varint(out, text_len) != 0)
			return -1;
		return strbuf_append(out, text, text_len) == 0 ? 0 : -1;
	}
	if (isnan(v))
		return strbuf_putc(out, TAG_NAN) == 0 ? 0 : -1;
	memcpy(&bits, &v, sizeof bits);
	b[0] = TAG_NUMBER;
	for (int i = 0; i < 8; i++)
		b[1 + i] = (unsigned char)(bits >> (8 * i));
	return strbuf_append(out, b, sizeof b) == 0 ? 0 : -1;
}

const char *pcodec_get_value(const unsigned char **pp, const unsigned char *end,
			     size_t text_max, double *v, const char **text, size_t *text_len)
{
	const unsigned char *p = *pp;
	uint64_t u, bits = 0;

	*text = NULL;
	*text_len = 0;
	*v = 0;
	if (p >= end)
		return "missing value";
	switch (*p++) {
	case TAG_NUMBER:
		if (end - p < 8)
			return "short number";
		for (int k = 0; k < 8; k++)
			bits |= (uint64_t)p[k] << (8 * k);
		p += 8;
		memcpy(v, &bits, sizeof bits);
		if (isnan(*v))
			return "NaN stored as a number";
		break;
	case TAG_TEXT:
		if (pcodec_get_varint(&p, end, &u) != 0 || u > text_max || u > (uint64_t)(end - p))
			return "text length";
		*text = (const char *)p;
		*text_len = (size_t)u;
		p += u;
		break;
	case TAG_NAN:
		*v = NAN;
		break;
	default:
		return "value tag";
	}
	*pp = p;
	return NULL;
}
